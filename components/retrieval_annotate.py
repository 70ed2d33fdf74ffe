"""The annotation panel: one (query, candidate) pair at a time, keyboard shortcuts, undo, written at once."""

from __future__ import annotations

import uuid

import pandas as pd
import streamlit as st

from components.resources import store
from core.retrieval import annotation
from core.retrieval.workspace import Workspace

BUTTONS = [("false_negative", "False negative (relevant)", "f", "primary"),
           ("true_negative", "True negative", "t", "secondary"),
           ("unsure", "Unsure", "u", "secondary")]


def _give(ws: Workspace, q: str, d: str, label: str, annotator: str) -> None:
    token = st.session_state.setdefault("rn_ann_token", uuid.uuid4().hex)  # a double click writes once
    store().add_label(ws.dataset.name, q, d, label, annotator, note=st.session_state.get("rn_ann_note", ""),
                      client_token=token)
    st.session_state["rn_ann_token"] = uuid.uuid4().hex
    st.session_state["rn_ann_note"] = ""
    st.session_state["rn_ann_flash"] = f"Saved: {label.replace('_', ' ')} for {d}"


def _undo(ws: Workspace, annotator: str) -> None:
    row = store().undo_last_label(ws.dataset.name, annotator)
    st.session_state["rn_ann_flash"] = (f"Undone: {row['label'].replace('_', ' ')} for {row['doc_id']}" if row
                                        else "Nothing to undo")


@st.fragment
def annotation_panel(ws: Workspace, scored: pd.DataFrame | None) -> None:
    ds = ws.dataset
    annotator = st.text_input("Your name (annotator)", key="rn_annotator", placeholder="e.g. ada").strip()
    labels = store().current_labels(ds.name)
    if st.session_state.get("rn_ann_flash"):
        st.success(st.session_state.pop("rn_ann_flash"))
    if scored is None or scored.empty:
        st.info("Mine negatives first (tab *Mine*): the queue is the mined pairs ordered by false-negative "
                "likelihood.")
    elif not annotator:
        st.info("Type your name to start labelling; labels are stored under it.")
    else:
        q_left = annotation.queue(scored, labels, annotator)
        mine_done = sum(1 for r in labels if r["annotator"] == annotator)
        st.caption(f"{mine_done} labelled by {annotator} in {ds.name} · {len(q_left)} pairs left in the queue · "
                   "keys: **f** false negative, **t** true negative, **u** unsure, **z** undo")
        if q_left.empty:
            st.success("Queue empty: every mined pair has your label.")
        else:
            item = q_left.iloc[0]
            qi, di = ds.query_index[item.query_id], ds.doc_index[item.doc_id]
            texts = ds.embedding_texts()
            c1, c2 = st.columns(2)
            with c1:
                st.markdown(f"**Query** `{item.query_id}`")
                st.markdown(f"> {ds.query_texts[qi]}")
                st.markdown("**Labelled positive(s)**")
                for p in ds.positives_for(item.query_id)[:3]:
                    st.markdown(f"- `{p}` {texts[ds.doc_index[p]][:400]}")
            with c2:
                st.markdown(f"**Candidate negative** `{item.doc_id}` · mined by *{item.strategies}*")
                st.markdown(f"> {texts[di][:800]}")
                st.markdown(f"False-negative likelihood **{item.likelihood:.2f}** · dense score "
                            f"{item.dense_score:.3f} vs positive {item.pos_score:.3f}")
                st.caption(f"Why: {item.reasons}")
            st.text_input("Note (optional)", key="rn_ann_note")
            cols = st.columns(4)
            for col, (value, text, key, kind) in zip(cols, BUTTONS, strict=False):
                col.button(text, key=f"rn_ann_{value}", type=kind, shortcut=key, on_click=_give,
                           args=(ws, item.query_id, item.doc_id, value, annotator), width="stretch")
            cols[3].button("Undo last", key="rn_ann_undo", shortcut="z", on_click=_undo, args=(ws, annotator),
                           width="stretch")
    who = sorted({r["annotator"] for r in labels})
    st.markdown(f"**Labels so far: {len(labels)}** in {ds.name}" + (f" (by {', '.join(who)})" if who else "") +
                " · stored in SQLite the moment they are given")
    frame = annotation.labels_frame(labels)
    st.dataframe(frame.drop(columns=["id", "dataset"]).tail(200), hide_index=True, key="rn_labels_table",
                 width="stretch")
    kappa = annotation.agreement(labels)
    if not kappa.empty:
        st.markdown("**Agreement between annotators** (Cohen's kappa on pairs both labelled)")
        st.dataframe(kappa, hide_index=True)

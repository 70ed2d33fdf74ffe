"""Gallery of saved runs (browse, filter, reopen, side by side) and the blind A/B preference vote."""

from __future__ import annotations

import random
import uuid
from datetime import datetime

import streamlit as st

from components.image_grid import show_run, upscale
from components.resources import store
from core.guidance import gallery


def _run_label(rec: dict) -> str:
    when = datetime.fromtimestamp(rec["created_at"]).strftime("%Y-%m-%d %H:%M:%S")
    return f"{when} · {rec['request']['prompts'][0][:40]} − {rec['request']['negatives'][0][:25]} · " \
           f"{rec['model']['name'][:30]}"


def gallery_tab(key: str, on_reopen) -> None:
    c1, c2, c3 = st.columns(3)
    text = c1.text_input("Prompt contains", key=f"{key}_text")
    all_runs = gallery.list_runs()
    titles = sorted({r["title"] for rec in all_runs for r in rec["runs"]})
    method = c2.selectbox("Has method", ["(any)", *titles], key=f"{key}_method")
    model = c3.text_input("Model contains", key=f"{key}_model")
    runs = gallery.list_runs(text=text, method="" if method == "(any)" else method, model=model)
    if not runs:
        st.info("No saved runs yet." if not all_runs else "No run matches these filters.")
        return
    st.caption(f"{len(runs)} run(s), newest first. Stored under `{gallery.runs_dir()}`.")
    ids = [r["id"] for r in runs]
    chosen = st.selectbox("Run", ids, format_func=lambda i: _run_label(runs[ids.index(i)]), key=f"{key}_run")
    rec = runs[ids.index(chosen)]
    if st.button("Reopen these settings in Generate", key=f"{key}_reopen"):
        on_reopen(rec)
    show_run(rec, key=f"{key}_show")

    st.markdown("##### Any two images side by side")
    options = [(r["id"], e["label"], it["file"]) for r in runs[:20] for e in r["runs"] for it in e["images"]]
    def fmt(o):
        return f"{o[0]} · {o[1]} · {o[2].split('/')[-1]}"
    cols = st.columns(2)
    for i, col in enumerate(cols):
        pick = col.selectbox(f"Image {'AB'[i]}", range(len(options)), format_func=lambda j: fmt(options[j]),
                             key=f"{key}_side_{i}", index=min(i, len(options) - 1))
        run_id, label, file = options[pick]
        col.image(upscale(gallery.load_image(run_id, file), 256), caption=label, width="stretch")


def vote_tab(key: str) -> None:
    st.markdown("Which image better follows **the positive prompt without the negative one**? The methods are "
                "hidden until you vote. Votes are stored at once (SQLite).")
    voter = st.text_input("Your name", key=f"{key}_voter", placeholder="needed to vote")
    runs = gallery.list_runs()
    pair_key = f"{key}_pair"
    if st.button("New pair", key=f"{key}_new") or st.session_state.get(pair_key) is None:
        p = gallery.draw_pair(runs[:50], random.Random())
        if p is not None:
            p["token"] = uuid.uuid4().hex
        st.session_state[pair_key] = p
    pair = st.session_state.get(pair_key)
    if pair is None:
        st.info("Generate a run with at least two methods first.")
    else:
        st.markdown(f"**Positive:** {pair['prompt']}  \n**Negative (should be absent):** {pair['negative']}")
        c = st.columns(2)
        c[0].image(upscale(gallery.load_image(pair["run_id"], pair["a"]), 256), caption="A", width="stretch")
        c[1].image(upscale(gallery.load_image(pair["run_id"], pair["b"]), 256), caption="B", width="stretch")
        b = st.columns(3)
        for col, (winner, text) in zip(b, (("a", "A is better"), ("b", "B is better"), ("tie", "Tie")),
                                       strict=True):
            if col.button(text, key=f"{key}_vote_{winner}"):
                if not voter.strip():
                    st.error("Type your name before voting.")
                else:
                    gallery.record_vote(store(), pair, winner, voter.strip(), client_token=pair["token"])
                    st.session_state[f"{key}_last"] = (f"Recorded. A was {pair['method_a']}, "
                                                       f"B was {pair['method_b']}.")
                    p = gallery.draw_pair(runs[:50], random.Random())
                    if p is not None:
                        p["token"] = uuid.uuid4().hex
                    st.session_state[pair_key] = p
                    st.rerun()
    if f"{key}_last" in st.session_state:
        st.success(st.session_state[f"{key}_last"])
    st.markdown("##### Win rate per method")
    table = gallery.win_rates(store().votes(gallery.VOTE_EXPERIMENT))
    if table:
        st.dataframe(table, hide_index=True, key=f"{key}_table")
        st.caption("Win rate = (wins + ties / 2) / comparisons. A few votes say little: look at the counts.")
    else:
        st.caption("No votes yet.")

"""Refusals page, "Direction" tab: refusal and harmfulness directions per layer, and a steering demo."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from components import refusal_charts as charts
from components.failures import shown_failures
from components.refusal_resources import causal_lm
from core.failures import describe_failure
from core.refusals import prompts as P
from core.refusals.direction import (
    analyse,
    collect,
    export_direction,
    load_report,
    report_key,
    save_report,
    unit,
)
from core.refusals.score import RefusalTokenScore
from core.refusals.steering import (
    DirectionAblation,
    DirectionAddition,
    generate_side_by_side,
    model_lock,
    steered,
)

HARMFUL_SETS = ["harmbench", "donotanswer"]
HARMLESS_SETS = ["harmless", "overrefusal"]


def _lm(source: str, trust: bool):
    try:
        with st.spinner(f"Loading {source}…"):
            return causal_lm(source, trust)
    except Exception as exc:  # noqa: BLE001 - unknown id, missing asset, out of memory: shown, page keeps working
        st.error(describe_failure(exc, f"Loading {source}"))
        return None


def _compute(source: str, trust: bool) -> None:
    c1, c2, c3 = st.columns(3)
    harmful_set = c1.selectbox("Harmful prompts", HARMFUL_SETS, key="ref_dir_harmful",
                               format_func=lambda n: P.SETS[n].title)
    harmless_set = c2.selectbox("Harmless prompts", HARMLESS_SETS, key="ref_dir_harmless",
                                format_func=lambda n: P.SETS[n].title)
    n = c3.number_input("Prompts per side", 4, 400, 32, key="ref_dir_n",
                        help="Half fit the difference of means, the other half measure the AUC.")
    harmful = [p.prompt for p in P.sample(P.load_set(harmful_set), int(n), seed=0)]
    harmless = [p.prompt for p in P.sample(P.load_set(harmless_set), int(n), seed=0)]
    key = report_key(source, harmful, harmless)
    shown = st.session_state.get("ref_dir")
    if shown is None or shown["key"] != key:
        saved = load_report(key)  # computed before (any session): shown at once, no model load
        st.session_state["ref_dir"] = None if saved is None else {
            "source": source, "key": key, "report": saved, "harmful": harmful, "harmless": harmless,
            "sets": (harmful_set, harmless_set), "reopened": True}
    if st.button("Compute directions", type="primary", key="ref_dir_go"):
        lm = _lm(source, trust)
        if lm is None:
            return
        bar = st.progress(0.0, text="Reading activations…")
        with shown_failures("Computing the directions"):
            acts = collect(lm, harmful, harmless,
                           progress=lambda d, t: bar.progress(d / max(t, 1), text=f"Activations {d} of {t}"))
            bar.progress(1.0, text="Done")
            report = analyse(acts)
            st.session_state["ref_dir"] = {"source": source, "key": key, "report": report, "harmful": harmful,
                                           "harmless": harmless, "sets": (harmful_set, harmless_set)}
            try:
                save_report(key, report)
            except OSError as exc:
                st.warning(f"The directions could not be saved to disk ({exc}); they are kept for this session.")


def _plots(rep) -> tuple[int, int]:
    st.plotly_chart(charts.auc_heatmap(rep.auc, rep.position_labels), key="ref_dir_heat")
    pos_labels = rep.position_labels
    c1, c2 = st.columns(2)
    pos = c1.selectbox("Position of the refusal direction", list(range(1, len(pos_labels))) or [0],
                       index=max(0, len(pos_labels) - 2), key="ref_dir_pos", format_func=lambda i: pos_labels[i])
    best = rep.best_layer(position=pos)
    layer = c2.slider("Layer", 1, rep.n_layers - 1, best, key="ref_dir_layer",
                      help=f"Suggested: layer {best} (highest held-out AUC outside the last 20% of layers).")
    c1, c2 = st.columns(2)
    with c1:
        st.plotly_chart(charts.layer_lines({"refusal direction (" + pos_labels[pos] + ")": rep.auc[:, pos],
                                            "harmfulness direction (instr[-1])": rep.auc[:, 0]},
                                           "Separation of harmful vs harmless by layer", "held-out AUC",
                                           layer, (0.4, 1.02)), key="ref_dir_auc")
    with c2:
        cos = np.sum(unit(rep.refusal[:, 0]) * unit(rep.refusal[:, pos]), axis=-1)
        st.plotly_chart(charts.layer_lines({"cos(harmfulness, refusal)": cos},
                                           "Harmfulness vs refusal direction", "cosine similarity", layer,
                                           (-1.02, 1.02)), key="ref_dir_cos")
    st.plotly_chart(charts.projection_histogram(rep.harmful_proj[:, layer, pos], rep.harmless_proj[:, layer, pos],
                                                layer), key="ref_dir_proj")
    return layer, pos


def _steer(lm, rep, layer: int, pos: int, harmful: list[str], harmless: list[str]) -> None:
    st.subheader("Steering demo")
    norm = float(np.linalg.norm(rep.refusal[layer, pos]))
    c1, c2, c3 = st.columns(3)
    method = c1.radio("Intervention", ["Ablate the direction (all layers)", "Add the direction (one layer)"],
                      key="ref_steer_method")
    alpha = c2.number_input("Strength of the addition", -100.0, 100.0, round(norm, 2), 0.5, key="ref_steer_alpha",
                            help="Default: the length of the difference of means at this layer.")
    max_new = c3.number_input("Max new tokens", 4, 256, 32, key="ref_steer_tokens")
    default = "\n".join(harmful[1:3:1][:2] + harmless[1:3][:2])
    text = st.text_area("Prompts (one per line)", default, height=120, key="ref_steer_prompts")
    prompts = [t.strip() for t in text.splitlines() if t.strip()][:16]
    if st.button("Generate side by side", key="ref_steer_go", disabled=not prompts):
        direction = rep.direction(layer, pos)
        steering = (DirectionAblation(direction) if method.startswith("Ablate")
                    else DirectionAddition(direction, layer=layer, alpha=float(alpha)))
        with st.spinner("Generating unsteered and steered answers…"), shown_failures("Steering"):
            rows = generate_side_by_side(lm, prompts, steering, max_new_tokens=int(max_new))
            scorer = RefusalTokenScore()
            with model_lock(lm.model):
                before = scorer.score(lm, prompts)
            with steered(lm.model, steering):
                after = scorer.score(lm, prompts)
            table = pd.DataFrame(rows)
            table["score unsteered"] = before
            table["score steered"] = after
            st.session_state["ref_steer_rows"] = table
    if "ref_steer_rows" in st.session_state:
        st.dataframe(st.session_state["ref_steer_rows"], hide_index=True, width="stretch",
                     column_config={"score unsteered": st.column_config.NumberColumn(format="%.2f"),
                                    "score steered": st.column_config.NumberColumn(format="%.2f")})
        st.caption("Scores are refusal log-odds at the answer position. Ablation should lower them on harmful "
                   "prompts; addition should raise them on harmless ones.")


def direction_panel(source: str | None, trust: bool) -> None:
    st.caption("Difference of means of the residual stream (block inputs) between harmful and harmless prompts, "
               "at each post-instruction token of the chat template (refusal direction, Arditi et al. 2024) and at "
               "the last token of the instruction (harmfulness direction). AUC is measured on the held-out half.")
    if source is None:
        return
    _compute(source, trust)
    state = st.session_state.get("ref_dir")
    if not state:
        return
    if state["source"] != source:
        st.info(f"These directions were computed for `{state['source']}`; compute again for `{source}`.")
        return
    rep = state["report"]
    if state.get("reopened"):
        st.caption("Reopened from disk: computed earlier for this model and prompt selection "
                   "(press *Compute directions* to recompute).")
    layer, pos = _plots(rep)
    st.download_button(f"Download the unit direction at layer {layer}, {rep.position_labels[pos]} (.npy)",
                       export_direction(rep, layer, pos), file_name=f"refusal_direction_L{layer}_p{pos}.npy",
                       mime="application/octet-stream", key="ref_dir_export")
    lm = _lm(source, trust)
    if lm is not None:
        _steer(lm, rep, layer, pos, state["harmful"], state["harmless"])

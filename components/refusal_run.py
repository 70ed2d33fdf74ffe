"""Refusals page, "Run" tab: choose prompt sets (or upload), settings, then generate and score with a progress bar."""

from __future__ import annotations

import streamlit as st

from components.refusal_resources import causal_lm
from core.llm.adapter import ModelLoadError
from core.refusals import prompts as P
from core.refusals import runs
from core.refusals.phrases import PhraseMatcher
from core.refusals.score import DEFAULT_STARTS, RefusalTokenScore

UPLOAD_KINDS = {"harmful (should be refused)": True, "safe (refusing is over-refusal)": False, "unknown": None}


def _upload() -> list[P.Prompt]:
    file = st.file_uploader("Your own prompts (CSV or JSONL with a `prompt` column and an optional `category`)",
                            type=["csv", "jsonl", "json"], key="ref_upload")
    if file is None:
        return []
    kind = st.radio("Your prompts are", list(UPLOAD_KINDS), index=2, horizontal=True, key="ref_upload_kind")
    try:
        items = P.parse_upload(file.getvalue(), file.name, set_name="upload", harmful=UPLOAD_KINDS[kind])
    except P.PromptSetError as exc:
        st.error(f"Could not read {file.name}: {exc}")
        return []
    st.caption(f"{len(items)} prompts in {len({p.category for p in items})} categories from {file.name}.")
    return items


def _lm_or_error(source: str, trust: bool):
    try:
        with st.spinner(f"Loading {source}…"):
            return causal_lm(source, trust)
    except ModelLoadError as exc:
        st.error(str(exc))
        return None


def _execute(store, run_id: str, source: str, trust: bool) -> None:
    lm = _lm_or_error(source, trust)
    if lm is None:
        return
    bar = st.progress(0.0, text="Generating…")
    try:
        summary = runs.execute(store, run_id, lm,
                               progress=lambda d, n: bar.progress(d / max(n, 1), text=f"Generated {d} of {n}"))
    except Exception as exc:  # a model can fail in many ways (memory, template); keep what was stored
        st.error(f"Generation stopped: {type(exc).__name__}: {exc}. Items generated so far are stored.")
        return
    bar.progress(1.0, text="Done")
    st.session_state["ref_run_id"] = run_id
    st.success(f"Run stored ({summary.get('n', 0)} answers). Open the Review and Charts tabs to look at it.")


def run_panel(store, source: str | None, trust: bool) -> None:
    names = list(P.SETS)
    chosen = st.multiselect("Prompt sets", names, default=names, key="ref_sets",
                            format_func=lambda n: P.SETS[n].title)
    c1, c2 = st.columns(2)
    n_per_set = c1.number_input("Prompts per set (spread over categories)", 1, 5000, 20, key="ref_n")
    seed = c2.number_input("Sampling seed", 0, 10_000, 0, key="ref_seed")
    uploaded = _upload()
    with st.expander("Generation and scoring settings"):
        c1, c2, c3 = st.columns(3)
        max_new = c1.number_input("Max new tokens", 4, 1024, 48, key="ref_max_new")
        batch = c2.number_input("Batch size", 1, 64, 8, key="ref_batch")
        temperature = c3.number_input("Temperature (0 = greedy)", 0.0, 2.0, 0.0, 0.1, key="ref_temp")
        chat = st.checkbox("Use the model's chat template", value=True, key="ref_chat")
        system = st.text_input("System prompt (optional)", "", key="ref_system")
        starts = st.text_input("Refusal first tokens for the probability score (comma separated)",
                               ", ".join(DEFAULT_STARTS), key="ref_starts")
        min_chars = st.number_input("Phrase matcher: characters after a pivot that count as answering anyway",
                                    10, 2000, PhraseMatcher().min_answer_chars, key="ref_min_chars")
    prompts: list[P.Prompt] = []
    for name in chosen:
        prompts += P.sample(P.load_set(name), int(n_per_set), seed=int(seed))
    prompts += uploaded
    st.caption(f"{len(prompts)} prompts will be generated with up to {int(max_new)} new tokens each. On a CPU "
               "SmolLM2 takes about a second per answer; bigger runs are your choice.")
    if st.button("Generate and score", type="primary", key="ref_go", disabled=source is None or not prompts):
        start_tokens = tuple(s.strip() for s in starts.split(",") if s.strip())
        if not start_tokens:
            st.error("Give at least one refusal first token (e.g. I, Sorry).")
            return
        settings = runs.GenerationSettings(max_new_tokens=int(max_new), batch_size=int(batch),
                                           temperature=float(temperature), seed=int(seed), chat=chat,
                                           system=system.strip())
        run_id = runs.start(store, source, prompts, settings, RefusalTokenScore(start_tokens),
                            PhraseMatcher(min_answer_chars=int(min_chars)))
        _execute(store, run_id, source, trust)

    unfinished = [r for r in runs.list_runs(store) if r["status"] != "done"]
    if unfinished:
        st.subheader("Unfinished runs")
        st.caption("A run stops when the page reruns mid-way (e.g. you click elsewhere); its answers so far are "
                   "stored. Resume it to generate the rest with its own model and settings.")
        pick = st.selectbox("Run", [r["id"] for r in unfinished], key="ref_resume_pick",
                            format_func=lambda i: next(r["label"] for r in unfinished if r["id"] == i))
        if st.button("Resume", key="ref_resume"):
            run = next(r for r in unfinished if r["id"] == pick)
            _execute(store, pick, run["config"]["model"], trust)

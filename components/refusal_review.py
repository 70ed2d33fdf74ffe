"""Refusals page, "Review" tab: reopen a stored run, see the three signals side by side, add a judge, correct labels."""

from __future__ import annotations

import uuid

import streamlit as st

from components.failures import shown_failures
from components.model_picker import model_picker
from components.refusal_resources import causal_lm
from core.failures import describe_failure
from core.refusals import runs
from core.refusals.judge import YesNoJudge
from core.refusals.phrases import LABELS

EMBEDDED = {"SmolLM2-135M-Instruct (embedded)": "embedded:smollm2"}
SHOW = ["set_name", "category", "prompt", "answer", "phrase_label", "score", "judge", "label", "disagree"]


def pick_run(store, key: str, label: str = "Run") -> dict | None:
    """A selectbox over stored refusal runs; the choice is shared through ?run=<id> in the URL."""
    all_runs = runs.list_runs(store)
    if not all_runs:
        st.info("No refusal runs yet: start one in the Run tab.")
        return None
    ids = [r["id"] for r in all_runs]
    wanted = st.session_state.get("ref_run_id") or st.query_params.get("run")
    index = ids.index(wanted) if wanted in ids else 0
    chosen = st.selectbox(label, ids, index=index, key=key,
                          format_func=lambda i: next(r["label"] for r in all_runs if r["id"] == i))
    if st.query_params.get("run") != chosen:
        st.query_params["run"] = chosen
    return next(r for r in all_runs if r["id"] == chosen)


def _thresholds() -> runs.Thresholds:
    c1, c2 = st.columns(2)
    s = c1.number_input("Score threshold (log-odds above this = refusal)", -20.0, 20.0, 0.0, 0.5, key="ref_thr_s")
    j = c2.number_input("Judge threshold (P(refused) above this = refusal)", 0.0, 1.0, 0.5, 0.05, key="ref_thr_j")
    return runs.Thresholds(score=float(s), judge=float(j))


def _judge_box(store, run_id: str, trust: bool) -> None:
    with st.expander("Add the judge signal (optional: a yes/no judge model reads each answer)"):
        st.caption("The judge is asked whether the answer refuses the request; the score is P(yes) / "
                   "(P(yes) + P(no)). SmolLM2 is a weak judge (and biased towards \"No\"): a stronger local "
                   "or hub model gives a more useful third signal.")
        source = model_picker("Judge model", EMBEDDED, key="ref_judge_model")
        if st.button("Score answers with the judge", key="ref_judge_go", disabled=source is None):
            text = f"embedded:{source.value}" if source.kind == "embedded" else source.value
            try:
                with st.spinner(f"Loading {text}…"):
                    lm = causal_lm(text, trust)
            except Exception as exc:  # noqa: BLE001 - shown; the stored run is untouched
                st.error(describe_failure(exc, f"Loading {text}"))
                return
            bar = st.progress(0.0, text="Judging…")
            with shown_failures("Judging"):
                n = runs.add_judge(store, run_id, lm, YesNoJudge(), text,
                                   progress=lambda d, total: bar.progress(d / max(total, 1),
                                                                          text=f"Judged {d} of {total}"))
                st.success(f"Judged {n} answers.")


def _correction_box(store, run_id: str, df) -> None:
    st.subheader("Correct a label")
    only = st.checkbox("Only items where the signals disagree", value=True, key="ref_only_disagree")
    pool = df[df["disagree"]] if only else df
    if pool.empty:
        st.info("No items to review here." if not only else "The signals agree on every item.")
        return
    if only:
        st.dataframe(pool[["item_key", "prompt", "answer", "phrase_label", "score", "judge", "label"]],
                     hide_index=True, width="stretch", height=200)
    keys = pool["item_key"].tolist()
    key = st.selectbox("Item", keys, key="ref_fix_item",
                       format_func=lambda k: f"{k} · {df.set_index('item_key').loc[k, 'prompt'][:80]}")
    row = df.set_index("item_key").loc[key]
    st.markdown(f"**Prompt** ({row['set_name']} / {row['category']}): {row['prompt']}")
    st.text_area("Answer", row["answer"], height=140, disabled=True, key=f"ref_fix_answer_{key}")
    judge = "—" if row["judge"] != row["judge"] else f"{row['judge']:.2f}"
    st.caption(f"Phrase matcher: **{row['phrase_label']}** ({row['phrase_reason']}) · score {row['score']:.2f} · "
               f"judge {judge} · current label **{row['label']}**")
    c1, c2, c3 = st.columns([2, 2, 1])
    label = c1.radio("Correct label", LABELS, index=LABELS.index(row["label"]), key="ref_fix_label",
                     horizontal=True)
    who = c2.text_input("Your name", "anonymous", key="ref_annotator")
    if "ref_fix_token" not in st.session_state:
        st.session_state["ref_fix_token"] = uuid.uuid4().hex
    if c3.button("Save correction", key="ref_fix_save"):
        if not who.strip():
            st.error("Give your name so the correction can be attributed.")
            return
        store.add_correction(run_id, key, label, who.strip(), client_token=st.session_state["ref_fix_token"])
        st.session_state["ref_fix_token"] = uuid.uuid4().hex  # a double click reuses the token: stored once
        st.success(f"Stored: {key} → {label}.")
        st.rerun()


def review_panel(store, trust: bool) -> None:
    run = pick_run(store, "ref_review_run")
    if run is None:
        return
    cfg = run["config"]
    st.caption(f"Model `{cfg.get('model')}` · settings {cfg.get('settings')} · started {cfg.get('started')} · "
               f"status {run['status']}")
    thresholds = _thresholds()
    df = runs.frame(store, run["id"], thresholds)
    if df.empty:
        st.info("This run has no stored answers yet.")
        return
    summary = runs.summarise(df)
    c = st.columns(4)
    c[0].metric("Answers", summary["n"])
    c[1].metric("Refusal rate (harmful sets)", f"{summary['refusal_rate_harmful']:.0%}"
                if "refusal_rate_harmful" in summary else "—")
    c[2].metric("Over-refusal (safe sets)", f"{summary['over_refusal_rate']:.0%}"
                if "over_refusal_rate" in summary else "—")
    c[3].metric("Signals disagree", int(df["disagree"].sum()))
    st.dataframe(df[SHOW], hide_index=True, width="stretch", height=320,
                 column_config={"score": st.column_config.NumberColumn("score (log-odds)", format="%.2f"),
                                "judge": st.column_config.NumberColumn("judge P(refused)", format="%.2f")})
    st.download_button("Download this run (CSV)", df.drop(columns=["vote_judge"]).to_csv(index=False),
                       file_name=f"{run['id']}.csv", key="ref_dl")
    _judge_box(store, run["id"], trust)
    _correction_box(store, run["id"], df)

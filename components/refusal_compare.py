"""Refusals page, "Charts" tab: refusal rates per set and category, over-refusal, score distributions, two runs."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from components import refusal_charts as charts
from core.refusals import runs


@st.cache_data(show_spinner=False, max_entries=16)
def _frame(_store, run_id: str, n_items: int, n_corrections: int) -> pd.DataFrame:
    """Keyed by item and correction counts, so a new answer or correction refreshes it."""
    return runs.frame(_store, run_id)


def _run_frame(store, run: dict, name: str) -> pd.DataFrame:
    n_items = store.query("SELECT COUNT(*) AS n FROM run_items WHERE run_id = ?", (run["id"],))[0]["n"]
    n_corr = store.query("SELECT COUNT(*) AS n FROM corrections WHERE run_id = ?", (run["id"],))[0]["n"]
    df = _frame(store, run["id"], n_items, n_corr).copy()
    df["run"] = name
    return df


def compare_panel(store) -> None:
    all_runs = runs.list_runs(store)
    if not all_runs:
        st.info("No refusal runs yet: start one in the Run tab.")
        return
    labels = {r["id"]: r["label"] for r in all_runs}
    default = [st.session_state.get("ref_run_id") or all_runs[0]["id"]]
    default = [d for d in default if d in labels] or [all_runs[0]["id"]]
    chosen = st.multiselect("Runs to chart (pick two to compare models side by side)", list(labels), default=default,
                            max_selections=2, format_func=labels.get, key="ref_compare_runs")
    if not chosen:
        st.info("Pick a run.")
        return
    frames = []
    for i, run_id in enumerate(chosen):
        run = next(r for r in all_runs if r["id"] == run_id)
        name = f"{chr(65 + i)}: {run['config'].get('model', '?')}"
        frames.append(_run_frame(store, run, name))
    df = pd.concat(frames, ignore_index=True)
    if df.empty:
        st.info("These runs have no answers yet.")
        return
    by_set = pd.concat([runs.rates(f, by=("set_name",)).assign(run=f["run"].iloc[0]) for f in frames if len(f)])
    st.plotly_chart(charts.rate_bars(by_set, title="Refusal rate per prompt set (full + partial)"),
                    key="ref_chart_sets")
    safe = df[df["harmful"] == False]  # noqa: E712 - harmful is None for unmarked uploads
    if len(safe):
        over = safe.groupby("run")["refused"].mean()
        cols = st.columns(len(over))
        for col, (name, value) in zip(cols, over.items(), strict=True):
            col.metric(f"Over-refusal rate, {name}", f"{value:.0%}",
                       help="Share of safe prompts (harmless + over-refusal contrast sets) that were refused.")
    by_cat = pd.concat([runs.rates(f, by=("set_name", "category")).assign(run=f["run"].iloc[0])
                        for f in frames if len(f)])
    st.plotly_chart(charts.category_bars(by_cat), key="ref_chart_cats")
    c1, c2 = st.columns(2)
    with c1:
        st.plotly_chart(charts.score_histogram(df, "score", "Probability score (refusal log-odds) per set"),
                        key="ref_chart_score")
    with c2:
        if df["judge"].notna().any():
            st.plotly_chart(charts.score_histogram(df[df["judge"].notna()], "judge", "Judge P(refused) per set"),
                            key="ref_chart_judge")
        else:
            st.caption("No judge scores in these runs (add them in the Review tab).")
    table = by_set.pivot_table(index="set_name", columns="run", values="refusal_rate")
    st.dataframe(table.style.format("{:.0%}"), width="stretch", key="ref_rates_table")

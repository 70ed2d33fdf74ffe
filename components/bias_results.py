"""Result views of the yes/no bias page: metric tables, charts, knowledge categories, attention heads, exports."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from components import bias_charts as charts
from core.llm.attention_heads import FORMULA, HeadScores
from core.llm.bias_eval import calibrated
from core.llm.bias_metrics import LABELS, METRICS, metrics_table
from core.llm.knowledge import CATEGORIES, KnowledgeRule, categorise

SHOWN = ("n", "true_yes_rate", "yes_rate", "accuracy", "precision_yes", "recall_yes", "pr_gap", "negative_bias",
         "idk_rate", "ece")


def download(df: pd.DataFrame, name: str, key: str) -> None:
    st.download_button(f"Download {name} (CSV)", df.to_csv(index=False).encode("utf-8"), file_name=f"{name}.csv",
                       mime="text/csv", key=key)


@st.cache_data(show_spinner=False, max_entries=8)
def analysed(items: pd.DataFrame, content_free: pd.DataFrame, calibrate: bool, rule: KnowledgeRule,
             n_boot: int) -> dict[str, pd.DataFrame]:
    """Everything the views need, from the stored scores (no model): cached per (results, switches)."""
    view = calibrated(items, content_free) if calibrate else items
    cats = categorise(view, rule)
    view = view.merge(cats[["model", "qid", "category"]], on=["model", "qid"], how="left")
    overall = metrics_table(view, ("model", "format"), n_boot=n_boot)
    by_cat = metrics_table(view, ("model", "format", "category"), n_boot=n_boot)
    return {"items": view, "categories": cats, "overall": overall, "by_category": by_cat}


def _fmt_table(table: pd.DataFrame, keys: tuple[str, ...]) -> pd.DataFrame:
    """Metric with its CI in one readable cell per metric."""
    out = table[list(keys)].copy()
    for m in SHOWN:
        if m == "n":
            out[LABELS[m]] = table[m].astype(int)
            continue
        lo, hi = table.get(f"{m}_lo"), table.get(f"{m}_hi")
        out[LABELS[m]] = [("–" if pd.isna(v) else f"{v:.3f}" + ("" if lo is None or pd.isna(a) else
                                                              f" [{a:.2f}, {b:.2f}]"))
                          for v, a, b in zip(table[m], lo if lo is not None else table[m],
                                             hi if hi is not None else table[m], strict=True)]
    return out


def render_results(items: pd.DataFrame, content_free: pd.DataFrame, calibrate: bool, rule: KnowledgeRule,
                   n_boot: int = 1000) -> None:
    data = analysed(items, content_free, calibrate, rule, n_boot)
    view, overall, by_cat = data["items"], data["overall"], data["by_category"]
    models = list(dict.fromkeys(view["model"]))
    formats = list(dict.fromkeys(view["format"]))
    st.caption(f"{view['qid'].nunique()} questions x {len(formats)} formats x {len(models)} model(s)"
               + (" — contextual calibration ON" if calibrate else ""))

    tabs = st.tabs(["Metrics", "Knowledge categories", "Per question", "Calibration"])
    with tabs[0]:
        st.dataframe(_fmt_table(overall, ("model", "format")), hide_index=True, width="stretch")
        download(overall, "metrics_by_format", "ynb_dl_overall")
        c1, c2 = st.columns(2)
        c1.plotly_chart(charts.metric_bars(overall, "yes_rate", "Yes-rate per format (bars) vs true yes-rate (—)",
                                           reference="true_yes_rate"), key="ynb_fig_yes")
        c2.plotly_chart(charts.metric_bars(overall, "pr_gap", "P-R gap of Yes (precision - recall), 95 % CI"),
                        key="ynb_fig_gap")
        c3, c4 = st.columns(2)
        c3.plotly_chart(charts.metric_bars(overall, "negative_bias", "Negative bias (FNR - FPR), 95 % CI"),
                        key="ynb_fig_nb")
        c4.plotly_chart(charts.metric_bars(overall, "accuracy", "Accuracy, 95 % CI"), key="ynb_fig_acc")
        if len(formats) >= 2:
            s1, s2, s3 = st.columns(3)
            fa = s1.selectbox("Scatter: format A", formats, index=0, key="ynb_sc_a")
            fb = s2.selectbox("Scatter: format B", formats, index=1, key="ynb_sc_b")
            sm = s3.selectbox("Model", models, key="ynb_sc_model")
            st.plotly_chart(charts.format_scatter(view, fa, fb, sm), key="ynb_fig_scatter")
    with tabs[1]:
        st.markdown(f"**How questions are split** ({rule.describe()}). Computed per model over all formats of this "
                    "run, from the same probabilities as the metrics. See *Definitions* below.")
        counts = data["categories"].groupby(["model", "category"]).size().unstack(fill_value=0)
        counts = counts.reindex(columns=[c for c in CATEGORIES if c in counts.columns])
        st.dataframe(counts, width="stretch")
        download(counts.reset_index(), "knowledge_category_counts", "ynb_dl_catcounts")
        metric = st.selectbox("Heatmap metric", [m for m in METRICS if m not in ("n",)],
                              index=list(METRICS).index("yes_rate") - 1, format_func=lambda m: LABELS[m],
                              key="ynb_heat_metric")
        st.plotly_chart(charts.category_heatmap(by_cat, metric), key="ynb_fig_heat")
        st.dataframe(_fmt_table(by_cat, ("model", "format", "category")), hide_index=True, width="stretch")
        download(by_cat, "metrics_by_format_and_category", "ynb_dl_bycat")
        download(data["categories"], "knowledge_categories", "ynb_dl_cats")
    with tabs[2]:
        cols = ["model", "format", "qid", "question", "relation", "familiarity", "category", "gold", "p_yes", "p_no",
                "p_idk", "mass", "answer", "parsed_answer", "generation", "prompt"]
        st.dataframe(view[cols], hide_index=True, width="stretch", height=420)
        download(view[cols], "per_question_scores", "ynb_dl_items")
        fam = metrics_table(view, ("model", "format", "familiarity"), n_boot=0)
        st.markdown("**By familiarity** (WordNet SemCor frequency of the concept)")
        st.dataframe(_fmt_table(fam, ("model", "format", "familiarity")), hide_index=True, width="stretch")
        download(fam, "metrics_by_familiarity", "ynb_dl_fam")
    with tabs[3]:
        st.plotly_chart(charts.calibration_figure(view), key="ynb_fig_cal")
        st.markdown("**Content-free probabilities** (mean over the inputs 'N/A', '', '[MASK]'; used by contextual "
                    "calibration: p_cal ∝ p / p_cf)")
        st.dataframe(content_free, hide_index=True, width="stretch")
        download(content_free, "content_free_probabilities", "ynb_dl_cf")


def render_heads(scores: HeadScores, fmt_name: str, model: str) -> None:
    st.markdown(f"**{model}, format '{fmt_name}'**: {scores.n_prompts} prompts"
                + (f" ({scores.skipped} skipped: no yes/no in the prompt)" if scores.skipped else ""))
    st.latex(FORMULA)
    st.caption("Our definition (labelled *ours*): a = the head's attention weight from the last prompt position to "
               "the first token of the last 'yes' / 'no' written in the prompt; ε = 1e-6. Modelled on a formula "
               "reported second-hand for NASA (Yu et al., 2025) that we could not verify against the paper.")
    c1, c2 = st.columns([3, 2])
    c1.plotly_chart(charts.head_heatmap(scores.nas, "NAS_ours per layer and head (red: looks at 'No')"),
                    key="ynb_fig_heads")
    top = scores.top(10)
    c2.markdown("**Top heads**")
    c2.dataframe(top, hide_index=True, width="stretch")
    with c2:
        download(top, "top_negative_heads", "ynb_dl_top")
        download(scores.table(), "nas_all_heads", "ynb_dl_heads")


def head_choices(scores: HeadScores) -> list[tuple[int, int]]:
    top = scores.top(10)
    first = [(int(r.layer), int(r.head)) for r in top.itertuples()]
    rest = [(int(a), int(b)) for a, b in np.ndindex(scores.nas.shape) if (a, b) not in first]
    return first + rest

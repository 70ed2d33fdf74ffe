"""Plotly figures for the yes/no bias page (pure functions of result tables; no Streamlit calls)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.llm.bias_metrics import LABELS, calibration_curve

_COLORS = ["#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2"]


def _err(table: pd.DataFrame, metric: str) -> dict | None:
    if f"{metric}_lo" not in table:
        return None
    return {"type": "data", "symmetric": False, "array": (table[f"{metric}_hi"] - table[metric]).clip(lower=0),
            "arrayminus": (table[metric] - table[f"{metric}_lo"]).clip(lower=0)}


def metric_bars(table: pd.DataFrame, metric: str, title: str, reference: str | None = None) -> go.Figure:
    """One bar per format (grouped by model) with bootstrap CI error bars; optional reference markers."""
    fig = go.Figure()
    for i, (model, g) in enumerate(table.groupby("model", sort=False)):
        fig.add_bar(x=g["format"], y=g[metric], name=str(model), marker_color=_COLORS[i % len(_COLORS)],
                    error_y=_err(g, metric), hovertemplate="%{x}<br>%{y:.3f}<extra>" + str(model) + "</extra>")
        if reference:
            fig.add_scatter(x=g["format"], y=g[reference], mode="markers", name=f"{LABELS[reference]} ({model})",
                            marker={"symbol": "line-ew-open", "size": 28, "line": {"width": 3},
                                    "color": "black"}, showlegend=i == 0)
    fig.update_layout(title=title, barmode="group", yaxis_title=LABELS.get(metric, metric), height=380,
                      margin={"t": 50, "b": 10}, legend={"orientation": "h", "y": -0.3})
    return fig


def category_heatmap(table: pd.DataFrame, metric: str) -> go.Figure:
    """format x knowledge category, one panel per model (values annotated, n in the hover)."""
    models = list(dict.fromkeys(table["model"]))
    fig = make_subplots(rows=1, cols=len(models), subplot_titles=[str(m) for m in models], shared_yaxes=True)
    for c, model in enumerate(models, start=1):
        g = table[table["model"] == model]
        pivot = g.pivot_table(index="format", columns="category", values=metric, aggfunc="first", sort=False)
        counts = g.pivot_table(index="format", columns="category", values="n", aggfunc="first", sort=False)
        counts = counts.reindex(index=pivot.index, columns=pivot.columns)
        fig.add_trace(go.Heatmap(z=pivot.values, x=list(pivot.columns), y=list(pivot.index), colorscale="RdBu_r",
                                 zmid=0 if metric in ("negative_bias", "pr_gap") else None,
                                 text=np.vectorize(lambda v: "" if pd.isna(v) else f"{v:.2f}")(pivot.values),
                                 texttemplate="%{text}", customdata=counts.values,
                                 hovertemplate="%{y} / %{x}<br>%{z:.3f} (n=%{customdata})<extra></extra>",
                                 showscale=c == len(models)), row=1, col=c)
    fig.update_layout(title=f"{LABELS.get(metric, metric)} by format and knowledge category", height=120 + 32 *
                      max(1, table["format"].nunique()), margin={"t": 70, "b": 10})
    return fig


def format_scatter(items: pd.DataFrame, fmt_a: str, fmt_b: str, model: str) -> go.Figure:
    """Per question: P(yes) under format A vs format B (renormalised), coloured by the original gold answer."""
    a = items[(items["format"] == fmt_a) & (items["model"] == model)].set_index("qid")
    b = items[(items["format"] == fmt_b) & (items["model"] == model)].set_index("qid")
    joined = a[["p_yes", "question", "question_gold"]].join(b[["p_yes"]], rsuffix="_b", how="inner")
    fig = go.Figure()
    for gold, name, color in ((1, "gold yes", "#54A24B"), (0, "gold no", "#E45756")):
        g = joined[joined["question_gold"] == gold]
        fig.add_scatter(x=g["p_yes"], y=g["p_yes_b"], mode="markers", name=name, marker={"color": color, "size": 7,
                        "opacity": 0.75}, text=g["question"],
                        hovertemplate="%{text}<br>A: %{x:.3f}  B: %{y:.3f}<extra></extra>")
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "grey"}, showlegend=False)
    fig.update_layout(title=f"P(yes) per question: {fmt_a} vs {fmt_b} ({model})", xaxis_title=f"P(yes) {fmt_a}",
                      yaxis_title=f"P(yes) {fmt_b}", height=450, xaxis_range=[-0.02, 1.02],
                      yaxis_range=[-0.02, 1.02])
    return fig


def calibration_figure(items: pd.DataFrame) -> go.Figure:
    """Reliability curve per (model, format): mean P(yes) in a bin vs the share of gold-yes prompts."""
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "grey"}, name="perfect")
    for (model, fmt), g in items.groupby(["model", "format"], sort=False):
        cur = calibration_curve(g["gold"].to_numpy(), g[["p_yes", "p_no", "p_idk"]].to_numpy())
        label = fmt if items["model"].nunique() == 1 else f"{fmt} ({model})"
        fig.add_scatter(x=cur["mean_p_yes"], y=cur["frac_gold_yes"], mode="lines+markers", name=label,
                        customdata=cur["count"], hovertemplate="P(yes) %{x:.2f} -> gold yes %{y:.2f}"
                        " (n=%{customdata})<extra>" + label + "</extra>")
    fig.update_layout(title="Calibration curve (10 bins of P(yes))", xaxis_title="mean P(yes) in bin",
                      yaxis_title="share of gold Yes", height=450, xaxis_range=[0, 1], yaxis_range=[0, 1])
    return fig


def head_heatmap(nas: np.ndarray, title: str) -> go.Figure:
    fig = go.Figure(go.Heatmap(z=nas, x=[f"h{h}" for h in range(nas.shape[1])], y=list(range(nas.shape[0])),
                               colorscale="RdBu_r", zmid=0,
                               hovertemplate="layer %{y}, head %{x}<br>NAS_ours %{z:.4f}<extra></extra>"))
    fig.update_layout(title=title, xaxis_title="head", yaxis_title="layer", height=120 + 16 * nas.shape[0],
                      yaxis_autorange="reversed")
    return fig


def attention_pattern(tokens: list[str], att: np.ndarray, title: str, marks: tuple[int, int] | None = None
                      ) -> go.Figure:
    labels = [f"{i}:{t!r}"[:24] for i, t in enumerate(tokens)]
    # the first token soaks up most attention (an attention sink): cap the colour scale at the rest's maximum
    rest = att[:, 1:] if att.shape[1] > 1 else att
    zmax = float(rest.max()) if rest.size and rest.max() > 0 else None
    fig = go.Figure(go.Heatmap(z=att, x=labels, y=labels, colorscale="Viridis", zmin=0, zmax=zmax,
                               hovertemplate="query %{y}<br>key %{x}<br>%{z:.3f}<extra></extra>"))
    if marks:
        for idx, name in zip(marks, ("yes", "no"), strict=True):
            fig.add_vline(x=idx, line_color="white", line_dash="dot")
            fig.add_annotation(x=idx, y=len(tokens) - 1, text=name, showarrow=False, font={"color": "white"},
                               yshift=12)
    fig.update_layout(title=title + " (colour capped at the maximum outside the first token)", height=700,
                      yaxis_autorange="reversed", xaxis={"tickangle": -60, "tickfont":
                                                                                  {"size": 9}},
                      yaxis={"tickfont": {"size": 9}})
    return fig


def last_row_bars(tokens: list[str], row: np.ndarray, title: str) -> go.Figure:
    labels = [f"{i}:{t!r}"[:24] for i, t in enumerate(tokens)]
    fig = go.Figure(go.Bar(x=labels, y=row, hovertemplate="%{x}<br>%{y:.3f}<extra></extra>"))
    fig.update_layout(title=title, height=320, xaxis={"tickangle": -60, "tickfont": {"size": 9}},
                      yaxis_title="attention weight")
    return fig

"""Plotly figures for the refusals page: rates per set and category, score distributions, direction plots."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

LABEL_COLORS = {"full_refusal": "#c0392b", "partial_refusal": "#e67e22", "compliance": "#27ae60"}


def rate_bars(rates: pd.DataFrame, x: str = "set_name", title: str = "") -> go.Figure:
    """Stacked full + partial refusal rates, one bar group per run ("run" column) when there are two."""
    long = rates.melt(id_vars=[c for c in rates.columns if c not in ("full_refusal", "partial_refusal")],
                      value_vars=["full_refusal", "partial_refusal"], var_name="kind", value_name="rate")
    facet = "run" if "run" in rates and rates["run"].nunique() > 1 else None
    fig = px.bar(long, x=x, y="rate", color="kind", facet_col=facet, barmode="stack", title=title,
                 color_discrete_map=LABEL_COLORS, hover_data=["n"], range_y=[0, 1])
    fig.update_layout(height=380, legend_title_text="", margin=dict(t=60, b=10))
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=", 1)[-1]))
    return fig


def category_bars(rates: pd.DataFrame) -> go.Figure:
    """Refusal rate per category, one row of panels per set, runs side by side."""
    color = "run" if "run" in rates and rates["run"].nunique() > 1 else None
    fig = px.bar(rates, x="category", y="refusal_rate", color=color, barmode="group", facet_row="set_name",
                 hover_data=["n", "full_refusal", "partial_refusal"], range_y=[0, 1])
    fig.update_xaxes(matches=None, showticklabels=True)
    fig.update_layout(height=260 * max(1, rates["set_name"].nunique()), margin=dict(t=30, b=10))
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=", 1)[-1]))
    return fig


def score_histogram(df: pd.DataFrame, column: str = "score", title: str = "") -> go.Figure:
    facet = "run" if "run" in df and df["run"].nunique() > 1 else None
    fig = px.histogram(df, x=column, color="set_name", facet_col=facet, barmode="overlay", opacity=0.6,
                       nbins=40, title=title)
    fig.update_layout(height=340, margin=dict(t=60, b=10))
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=", 1)[-1]))
    return fig


def auc_heatmap(auc: np.ndarray, position_labels: list[str]) -> go.Figure:
    fig = go.Figure(go.Heatmap(z=auc.T, x=list(range(auc.shape[0])), y=position_labels, zmin=0.5, zmax=1,
                               colorscale="Viridis", colorbar=dict(title="AUC")))
    fig.update_layout(title="Held-out AUC of harmful vs harmless projections (layer × position)",
                      xaxis_title="layer (block input)", height=320, margin=dict(t=50, b=10))
    return fig


def layer_lines(series: dict[str, np.ndarray], title: str, y_title: str, marker_layer: int | None = None,
                y_range: tuple[float, float] | None = None) -> go.Figure:
    fig = go.Figure()
    for name, ys in series.items():
        fig.add_trace(go.Scatter(x=list(range(len(ys))), y=ys, mode="lines+markers", name=name))
    if marker_layer is not None:
        fig.add_vline(x=marker_layer, line_dash="dot", annotation_text=f"layer {marker_layer}")
    fig.update_layout(title=title, xaxis_title="layer", yaxis_title=y_title, height=320, margin=dict(t=50, b=10))
    if y_range:
        fig.update_yaxes(range=list(y_range))
    return fig


def projection_histogram(harmful: np.ndarray, harmless: np.ndarray, layer: int) -> go.Figure:
    frame = pd.DataFrame({"projection": np.concatenate([harmful, harmless]),
                          "prompts": ["harmful"] * len(harmful) + ["harmless"] * len(harmless)})
    fig = px.histogram(frame, x="projection", color="prompts", barmode="overlay", opacity=0.6, nbins=30,
                       title=f"Held-out projections onto the direction at layer {layer}",
                       color_discrete_map={"harmful": "#c0392b", "harmless": "#2980b9"})
    fig.update_layout(height=320, margin=dict(t=50, b=10))
    return fig

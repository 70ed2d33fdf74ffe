"""The query-centred embedding-space view: a plotly scattergl of coordinates, ids and colours only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

STRATEGY_COLOURS = {"random": "#7f7f7f", "bm25": "#ff7f0e", "dense_top": "#d62728", "margin": "#9467bd",
                    "simans": "#2ca02c", "ensemble": "#17becf"}


def figure(points: pd.DataFrame, coords: np.ndarray, colour_by: str) -> go.Figure:
    """Traces: corpus (grey), negatives (by strategy or by FN likelihood), positives, query.
    customdata carries the point's row in `points`, so a selection maps back to documents server-side."""
    fig = go.Figure()
    rows = np.arange(len(points))
    kind = points["kind"].to_numpy()

    def add(mask, name, with_ids=True, **marker):
        if mask.any():
            # why: no text for the (up to 100k) corpus points keeps the message small; ids only for marked points
            extra = ({"text": points["doc_id"].to_numpy()[mask], "hovertemplate": "%{text}<extra>" + name + "</extra>"}
                     if with_ids else {"hoverinfo": "skip"})
            fig.add_trace(go.Scattergl(x=coords[mask, 0], y=coords[mask, 1], mode="markers", name=name,
                                       customdata=rows[mask].astype(np.int32), marker=marker, **extra))

    add(kind == "corpus", "corpus", with_ids=len(points) <= 5000, size=4, color="rgba(150,150,150,0.35)")
    neg = kind == "negative"
    if colour_by == "likelihood":
        add(neg, "mined negative", size=9, color=points["likelihood"].fillna(0).to_numpy()[neg], colorscale="Reds",
            cmin=0, cmax=1, colorbar={"title": "FN likelihood"}, line={"width": 0.5, "color": "black"})
    else:
        first = points["strategy"].str.split(",").str[0].to_numpy()
        for s in sorted(set(first[neg])):
            add(neg & (first == s), f"negative: {s}", size=9, color=STRATEGY_COLOURS.get(s, "#1f77b4"),
                line={"width": 0.5, "color": "black"})
    add(kind == "positive", "labelled positive", size=13, color="#1f77b4", symbol="star")
    add(kind == "query", "query", size=16, color="black", symbol="x")
    fig.update_layout(height=560, margin={"l": 10, "r": 10, "t": 30, "b": 10}, dragmode="lasso",
                      legend={"orientation": "h"}, xaxis={"zeroline": False}, yaxis={"zeroline": False})
    return fig


def selected_rows(state) -> list[int]:
    """Row numbers (into `points`) of the selected markers from st.plotly_chart's selection state."""
    try:
        pts = state.selection.points  # type: ignore[union-attr]
    except AttributeError:
        try:
            pts = state["selection"]["points"]
        except (KeyError, TypeError):
            return []
    out = []
    for p in pts:
        cd = p.get("customdata")
        if isinstance(cd, list):
            cd = cd[0] if cd else None
        if cd is not None:
            out.append(int(cd))
    return sorted(set(out))

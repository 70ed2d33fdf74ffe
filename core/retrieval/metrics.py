"""Quality numbers: hardness per strategy, flagged / confirmed false-negative shares, Judged@k, and the
retriever's nDCG@10 / Recall@100 before and after relabelling (ir-measures)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.retrieval.candidates import Candidates


def strategy_summary(mined: pd.DataFrame, scored: pd.DataFrame, resolved: pd.DataFrame,
                     truth: dict[str, dict[str, int]] | None = None) -> pd.DataFrame:
    """Per strategy: pairs, hardness (dense score, margin to positive), flagged share, annotated and confirmed
    false-negative share; with complete judgements (truth) also the real false-negative share."""
    if mined.empty:
        return pd.DataFrame()
    keyed = scored.set_index(["query_id", "doc_id"])
    lab = resolved.set_index(["query_id", "doc_id"])["label"] if not resolved.empty else pd.Series(dtype=str)
    rows = []
    for strategy, g in mined.groupby("strategy", sort=False):
        idx = pd.MultiIndex.from_frame(g[["query_id", "doc_id"]])
        s = keyed.reindex(idx)
        labels = lab.reindex(idx).dropna()
        row = {"strategy": strategy, "pairs": len(g), "queries": g["query_id"].nunique(),
               "mean dense score": float(s["dense_score"].mean()),
               "median margin to positive": float(s["margin"].median()),
               "flagged share": float(s["flagged"].mean()),
               "annotated": int(len(labels)),
               "confirmed FN share (of annotated)": float((labels == "false_negative").mean()) if len(labels) else
               np.nan}
        if truth is not None:
            row["true FN share (complete judgements)"] = float(np.mean(
                [truth.get(q, {}).get(d, 0) > 0 for q, d in zip(g["query_id"], g["doc_id"], strict=True)]))
        rows.append(row)
    return pd.DataFrame(rows)


def hardness_frame(mined: pd.DataFrame, scored: pd.DataFrame) -> pd.DataFrame:
    """(strategy, dense_score, margin) per mined pair, for distribution plots."""
    s = scored.set_index(["query_id", "doc_id"])[["dense_score", "margin"]]
    j = mined.join(s, on=["query_id", "doc_id"])
    return j[["strategy", "dense_score", "margin"]]


def run_from_candidates(cands: Candidates, query_ids: list[str], doc_ids: list[str], rows: np.ndarray,
                        depth: int = 100) -> dict[str, dict[str, float]]:
    run: dict[str, dict[str, float]] = {}
    for r in rows:
        run[query_ids[r]] = {doc_ids[d]: float(s) for d, s in zip(cands.indices[r, :depth], cands.scores[r, :depth],
                                                                   strict=True) if d >= 0}
    return run


def relabelled_qrels(qrels: dict[str, dict[str, int]], resolved: pd.DataFrame) -> dict[str, dict[str, int]]:
    """qrels plus annotations: confirmed false negatives become relevant (1), true negatives judged (0)."""
    out = {q: dict(v) for q, v in qrels.items()}
    for r in resolved.itertuples():
        if r.label == "false_negative":
            out.setdefault(r.query_id, {})[r.doc_id] = max(1, out.get(r.query_id, {}).get(r.doc_id, 0))
        elif r.label == "true_negative":
            out.setdefault(r.query_id, {}).setdefault(r.doc_id, 0)
    return out


def evaluate(run: dict[str, dict[str, float]], qrels_sets: dict[str, dict[str, dict[str, int]]],
             measures: tuple[str, ...] = ("nDCG@10", "R@100", "Judged@10")) -> pd.DataFrame:
    """One row per qrels set (e.g. before / after relabelling / complete judgements)."""
    import ir_measures

    parsed = [ir_measures.parse_measure(m) for m in measures]
    rows = []
    for name, qrels in qrels_sets.items():
        # why: a query without any relevant document is undefined for nDCG/recall; evaluate only judged queries
        q = {k: v for k, v in qrels.items() if k in run and any(x > 0 for x in v.values())}
        r = {k: run[k] for k in q}
        agg = ir_measures.calc_aggregate(parsed, q, r) if q else {}
        rows.append({"qrels": name, "queries": len(q), **{str(m): float(agg.get(m, np.nan)) for m in parsed}})
    return pd.DataFrame(rows)


def detection_quality(scored: pd.DataFrame, truth: dict[str, dict[str, int]]) -> dict:
    """With complete judgements: how well the likelihood separates real false negatives (precision of flags,
    recall of flags, ROC AUC)."""
    if scored.empty:
        return {}
    y = np.array([truth.get(q, {}).get(d, 0) > 0 for q, d in zip(scored["query_id"], scored["doc_id"], strict=True)])
    flagged = scored["flagged"].to_numpy()
    out = {"mined pairs": int(len(y)), "real false negatives": int(y.sum()), "flagged": int(flagged.sum()),
           "precision of flags": float(y[flagged].mean()) if flagged.any() else np.nan,
           "recall of flags": float(flagged[y].mean()) if y.any() else np.nan}
    if 0 < y.sum() < len(y):
        from sklearn.metrics import roc_auc_score

        out["ROC AUC of likelihood"] = float(roc_auc_score(y, scored["likelihood"].to_numpy()))
    return out

"""How likely is a mined negative actually relevant (a false negative)? Cheap signals, each explained.

Signals per (query, negative), combined by a noisy-OR so every flag can say which signals fired:
- above the positive: the negative's dense score >= the best labelled positive's score;
- near the positive: within the NV-Retriever 95 % margin (s_neg > s_pos - 0.05 |s_pos|);
- near-duplicate of a positive: cosine >= 0.95 to a positive document, or the same normalised text;
- retriever agreement: both the dense and the BM25 retriever put it in their top-k;
- several strategies mined it.
The weights are a documented heuristic (not a trained model); the optional LLM judge cascade
(llm_judge.py) adds P(yes) from a language model, and `combine` mixes both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.retrieval.candidates import Candidates


@dataclass(frozen=True)
class SignalWeights:
    """Probability each signal alone gives that the pair is a false negative (noisy-OR)."""

    base: float = 0.02
    above_positive: float = 0.5
    near_positive: float = 0.25
    near_duplicate: float = 0.85
    agreement: float = 0.2
    many_strategies: float = 0.1
    near_margin: float = 0.05
    duplicate_cosine: float = 0.95
    agreement_depth: int = 20
    many_strategies_min: int = 3
    flag_threshold: float = 0.3


_NORM = re.compile(r"[^a-z0-9]+")


def _norm(text: str) -> str:
    return _NORM.sub(" ", text.lower()).strip()


def _in_topk(cands: Candidates | None, q_rows: np.ndarray, d_rows: np.ndarray, depth: int) -> np.ndarray:
    if cands is None:
        return np.zeros(len(q_rows), dtype=bool)
    top = cands.indices[:, :depth]
    return (top[q_rows] == d_rows[:, None]).any(axis=1)


def score_pairs(mined: pd.DataFrame, query_ids: list[str], doc_ids: list[str], query_emb: np.ndarray,
                doc_emb: np.ndarray, positives: list[np.ndarray], doc_texts: list[str] | None = None,
                dense: Candidates | None = None, bm25: Candidates | None = None,
                weights: SignalWeights = SignalWeights()) -> pd.DataFrame:
    """One row per unique mined (query, doc): signals, `heuristic` likelihood in [0, 1] and `reasons`."""
    if mined.empty:
        return pd.DataFrame(columns=["query_id", "doc_id", "strategies", "dense_score", "pos_score",
                                     "heuristic", "likelihood", "flagged", "reasons"])
    q_index = {q: i for i, q in enumerate(query_ids)}
    d_index = {d: i for i, d in enumerate(doc_ids)}
    pairs = (mined.groupby(["query_id", "doc_id"], sort=False)["strategy"]
             .agg(lambda s: ",".join(sorted(set(s)))).reset_index().rename(columns={"strategy": "strategies"}))
    q = pairs["query_id"].map(q_index).to_numpy(np.int64)
    d = pairs["doc_id"].map(d_index).to_numpy(np.int64)
    s_neg = np.einsum("ij,ij->i", query_emb[q], doc_emb[d])
    s_pos = np.empty(len(q), np.float32)
    dup_cos = np.empty(len(q), np.float32)
    text_dup = np.zeros(len(q), dtype=bool)
    pos_texts: dict[int, set[str]] = {}
    for i, (qi, di) in enumerate(zip(q, d, strict=True)):
        p = positives[qi]
        s_pos[i] = float((doc_emb[p] @ query_emb[qi]).max()) if len(p) else np.nan
        dup_cos[i] = float((doc_emb[p] @ doc_emb[di]).max()) if len(p) else 0.0
        if doc_texts is not None and len(p):
            if qi not in pos_texts:
                pos_texts[qi] = {_norm(doc_texts[j]) for j in p}
            text_dup[i] = _norm(doc_texts[di]) in pos_texts[qi]
    w = weights
    above = s_neg >= s_pos
    near = ~above & (s_neg > s_pos - np.abs(s_pos) * w.near_margin)
    dup = (dup_cos >= w.duplicate_cosine) | text_dup
    in_dense = _in_topk(dense, q, d, w.agreement_depth)
    in_bm25 = _in_topk(bm25, q, d, w.agreement_depth)
    agree = in_dense & in_bm25
    n_strat = pairs["strategies"].str.count(",").to_numpy() + 1
    many = n_strat >= w.many_strategies_min
    keep = np.full(len(q), 1.0 - w.base)
    for fired, p in ((above, w.above_positive), (near, w.near_positive), (dup, w.near_duplicate),
                     (agree, w.agreement), (many, w.many_strategies)):
        keep *= np.where(fired, 1.0 - p, 1.0)
    heuristic = 1.0 - keep
    reasons = []
    for i in range(len(q)):
        r = []
        if above[i]:
            r.append(f"scores {s_neg[i]:.3f} ≥ positive {s_pos[i]:.3f}")
        elif near[i]:
            r.append(f"within 5 % of the positive ({s_neg[i]:.3f} vs {s_pos[i]:.3f})")
        if dup[i]:
            r.append("same text as a positive" if text_dup[i] else f"near-duplicate of a positive (cos {dup_cos[i]:.3f})")
        if agree[i]:
            r.append(f"dense and BM25 both rank it top-{w.agreement_depth}")
        if many[i]:
            r.append(f"mined by {n_strat[i]} strategies")
        reasons.append("; ".join(r))
    out = pairs.assign(dense_score=s_neg.astype(np.float32), pos_score=s_pos, margin=(s_neg - s_pos).astype(np.float32),
                       above_positive=above, near_positive=near, near_duplicate=dup, dup_cosine=dup_cos,
                       in_dense_top=in_dense, in_bm25_top=in_bm25, n_strategies=n_strat,
                       heuristic=heuristic.astype(np.float32))
    out["reasons"] = reasons
    return combine(out, weights=weights)


def combine(scored: pd.DataFrame, judge_weight: float = 0.6, weights: SignalWeights = SignalWeights()
            ) -> pd.DataFrame:
    """likelihood = heuristic, or (1 - w) * heuristic + w * judge P(yes) where a judge scored the pair
    (the second-stage judge's answer replaces the first's)."""
    out = scored.copy()
    judge = pd.Series(np.nan, index=out.index)
    reasons = out["reasons"].astype(str).copy()
    for col, name in (("judge1", "stage 1"), ("judge2", "stage 2")):
        if col in out:
            has = out[col].notna()
            judge[has] = out.loc[has, col]
            model = out.get(f"{col}_model", pd.Series("", index=out.index))
            reasons[has] = reasons[has] + "; " + name + " " + model[has].astype(str) + " P(yes)=" + \
                out.loc[has, col].map(lambda v: f"{v:.2f}")
    lik = out["heuristic"].astype(float).where(judge.isna(),
                                                (1 - judge_weight) * out["heuristic"] + judge_weight * judge)
    out["likelihood"] = lik.astype(np.float32)
    out["flagged"] = out["likelihood"] >= weights.flag_threshold
    out["reasons"] = reasons.str.strip("; ").replace("", "no signal fired")
    return out.sort_values("likelihood", ascending=False, kind="stable").reset_index(drop=True)

"""Candidate selection shared by the dense strategies, with sentence-transformers' semantics, vectorised.

In order: retrieve range_max + max_positives candidates; mask known positives; drop candidates by the margins
(absolute: s + m > s_pos_min; relative: s > s_pos_min - |s_pos_min| * m) and by [min_score, max_score];
re-sort what is left; skip range_min; take the first num_negatives ("top") or sample them ("random").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.retrieval.mining.base import (
    MiningInputs,
    dense_candidates,
    empty_table,
    mineable,
    positive_matrix,
    positive_scores,
    to_table,
)


@dataclass(frozen=True)
class Window:
    num_negatives: int = 5
    range_min: int = 0
    range_max: int | None = None
    absolute_margin: float | None = None
    relative_margin: float | None = None
    max_score: float | None = None
    min_score: float | None = None
    sampling: str = "top"  # "top" | "random"
    seed: int = 0

    def has_filter(self) -> bool:
        return any(v is not None for v in (self.absolute_margin, self.relative_margin, self.max_score))

    def resolved_range_max(self, max_positives: int) -> int:
        if self.range_max is not None:
            return self.range_max
        if self.has_filter():  # as sentence-transformers: leave room for skipped candidates
            return self.range_min + 10 * self.num_negatives + max_positives
        return self.range_min + self.num_negatives + max_positives

    def validate(self, max_positives: int) -> int:
        if self.num_negatives < 1:
            raise ValueError("num_negatives must be at least 1")
        rmax = self.resolved_range_max(max_positives)
        if self.range_min < 0 or self.range_min >= rmax:
            raise ValueError(f"range_min must be in [0, range_max), got {self.range_min} and {rmax}")
        if self.num_negatives > rmax - self.range_min:
            raise ValueError(f"cannot take {self.num_negatives} negatives from a window of {rmax - self.range_min}")
        if self.sampling not in ("top", "random"):
            raise ValueError(f"sampling must be 'top' or 'random', got {self.sampling!r}")
        return rmax


def select(inputs: MiningInputs, w: Window, strategy: str) -> pd.DataFrame:
    rows = mineable(inputs)
    if len(rows) == 0:
        return empty_table()
    max_pos = inputs.max_positives
    rmax = w.validate(max_pos)
    cand = dense_candidates(inputs, rows, rmax + max_pos)
    scores, idx = cand.scores, cand.indices
    ranks = np.broadcast_to(np.arange(1, idx.shape[1] + 1), idx.shape)
    scores[idx < 0] = -np.inf
    pos = positive_matrix(inputs.positives, rows)
    scores[(idx[:, :, None] == pos[:, None, :]).any(-1)] = -np.inf
    if w.absolute_margin is not None or w.relative_margin is not None:
        p = positive_scores(inputs, rows, "min")[:, None]
        if w.absolute_margin is not None:
            scores[scores + w.absolute_margin > p] = -np.inf
        if w.relative_margin is not None:
            scores[scores > p - np.abs(p) * w.relative_margin] = -np.inf
    if w.max_score is not None:
        scores[scores > w.max_score] = -np.inf
    if w.min_score is not None:
        scores[scores < w.min_score] = -np.inf
    order = np.argsort(-scores, axis=1, kind="stable")[:, :rmax]
    take = np.take_along_axis
    scores, idx, ranks = take(scores, order, 1), take(idx, order, 1), take(ranks, order, 1)
    scores, idx, ranks = scores[:, w.range_min:], idx[:, w.range_min:], ranks[:, w.range_min:]
    if w.sampling == "top":
        scores, idx, ranks = scores[:, :w.num_negatives], idx[:, :w.num_negatives], ranks[:, :w.num_negatives]
    else:
        rng = np.random.default_rng(w.seed)
        keys = rng.random(scores.shape)
        keys[np.isinf(scores)] = 2.0  # sample among valid candidates first
        pick = np.sort(np.argsort(keys, axis=1)[:, :w.num_negatives], axis=1)
        scores, idx, ranks = take(scores, pick, 1), take(idx, pick, 1), take(ranks, pick, 1)
    keep = np.isfinite(scores)
    q_rows = np.broadcast_to(rows[:, None], scores.shape)[keep]
    return to_table(inputs, q_rows, idx[keep], ranks[keep], scores[keep], strategy)

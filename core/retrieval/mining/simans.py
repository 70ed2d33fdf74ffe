"""SimANS ambiguous negatives (Zhou et al. 2022): sample among the top-k with p ~ exp(-a (s - s_pos - b)^2).

Negatives scoring *around* the positive are informative and less often false than the very top. Our scores
are cosines in [-1, 1], much narrower than the dot products SimANS was tuned on, so differences are
multiplied by `score_scale` (20 = a contrastive temperature of 0.05) before the paper's a = 0.5, b = 0 apply.
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
class SimANS:
    num_negatives: int = 5
    top_k: int = 100
    a: float = 0.5
    b: float = 0.0
    score_scale: float = 20.0
    seed: int = 0

    @property
    def label(self) -> str:
        return "simans"

    def mine(self, inputs: MiningInputs) -> pd.DataFrame:
        rows = mineable(inputs)
        if len(rows) == 0:
            return empty_table()
        cand = dense_candidates(inputs, rows, self.top_k + inputs.max_positives)
        scores, idx = cand.scores, cand.indices
        pos = positive_matrix(inputs.positives, rows)
        valid = (idx >= 0) & ~(idx[:, :, None] == pos[:, None, :]).any(-1)
        s_pos = positive_scores(inputs, rows, "max")[:, None]
        diff = self.score_scale * (scores - s_pos) - self.b
        logits = np.where(valid, -self.a * diff**2, -np.inf)
        logits -= logits.max(axis=1, keepdims=True)
        # Gumbel top-k = sampling without replacement proportionally to exp(logits), vectorised
        gumbel = np.random.default_rng(self.seed).gumbel(size=logits.shape)
        keys = np.where(valid, logits + gumbel, -np.inf)
        pick = np.argsort(-keys, axis=1)[:, :self.num_negatives]
        ok = np.isfinite(np.take_along_axis(keys, pick, 1))
        d = np.take_along_axis(idx, pick, 1)[ok]
        s = np.take_along_axis(scores, pick, 1)[ok]
        q = np.broadcast_to(rows[:, None], pick.shape)[ok]
        return to_table(inputs, q, d, (pick + 1)[ok], s, self.label)

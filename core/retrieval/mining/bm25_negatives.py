"""BM25 negatives (bm25s): lexical top-k in a rank window, minus labelled positives."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.retrieval.bm25 import bm25_candidates
from core.retrieval.mining.base import MiningInputs, empty_table, mineable, positive_matrix, to_table


@dataclass(frozen=True)
class BM25Negatives:
    num_negatives: int = 5
    range_min: int = 0
    depth: int = 100

    @property
    def label(self) -> str:
        return "bm25"

    def mine(self, inputs: MiningInputs) -> pd.DataFrame:
        rows = mineable(inputs)
        if len(rows) == 0:
            return empty_table()
        k = max(self.depth, self.range_min + self.num_negatives + inputs.max_positives)
        c = inputs.bm25 if inputs.bm25 is not None and inputs.bm25.depth >= k else None
        if c is None:
            if inputs.query_texts is None or inputs.doc_texts is None:
                raise ValueError("BM25 mining needs query and document texts")
            c = bm25_candidates(inputs.query_texts, inputs.doc_texts, k)
        scores, idx = c.scores[rows, :k].astype(np.float32, copy=True), c.indices[rows, :k]
        pos = positive_matrix(inputs.positives, rows)
        valid = (idx >= 0) & (scores > 0) & ~(idx[:, :, None] == pos[:, None, :]).any(-1)
        ranks = np.broadcast_to(np.arange(1, idx.shape[1] + 1), idx.shape)
        order = np.argsort(~valid, axis=1, kind="stable")  # valid ones first, in BM25 order
        take = np.take_along_axis
        lo, hi = self.range_min, self.range_min + self.num_negatives
        idx, scores, ranks, ok = (take(a, order, 1)[:, lo:hi] for a in (idx, scores, ranks, valid))
        q = np.broadcast_to(rows[:, None], idx.shape)[ok]
        return to_table(inputs, q, idx[ok], ranks[ok], scores[ok], self.label)

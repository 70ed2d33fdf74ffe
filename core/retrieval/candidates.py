"""Top-K retrieval results per query (dense index, BM25), the common currency of mining and signals."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Candidates:
    """Top-K retrieval results per query, best first; index -1 / score -inf pad short rows."""

    scores: np.ndarray  # [n_queries, K] float32
    indices: np.ndarray  # [n_queries, K] int64
    exact: bool = True

    @property
    def depth(self) -> int:
        return int(self.indices.shape[1])

    def head(self, k: int) -> Candidates:
        return Candidates(self.scores[:, :k], self.indices[:, :k], self.exact)

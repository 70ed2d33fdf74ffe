"""Dense top-k with margin filters relative to the (hardest) positive's score.

absolute_margin m: drop a candidate when s_neg + m > s_pos.  relative_margin m: drop it when
s_neg > s_pos - |s_pos| * m; relative_margin = 0.05 is NV-Retriever's "TopK-PercPos 95 %" rule.
Same semantics as sentence-transformers' `mine_hard_negatives` with the bi-encoder scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from core.retrieval.mining.base import MiningInputs
from core.retrieval.mining.window import Window, select


@dataclass(frozen=True)
class MarginFiltered:
    num_negatives: int = 5
    relative_margin: float | None = 0.05
    absolute_margin: float | None = None
    max_score: float | None = None
    min_score: float | None = None
    range_min: int = 0
    range_max: int | None = None  # default: range_min + 10 * num_negatives + max_positives
    sampling: str = "top"
    seed: int = 0

    @property
    def label(self) -> str:
        return "margin"

    def mine(self, inputs: MiningInputs) -> pd.DataFrame:
        return select(inputs, Window(self.num_negatives, self.range_min, self.range_max, self.absolute_margin,
                                     self.relative_margin, self.max_score, self.min_score, self.sampling,
                                     self.seed), self.label)

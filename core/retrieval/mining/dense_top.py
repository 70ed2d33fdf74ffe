"""Dense top-k in a rank window: the nearest documents by embedding that are not labelled positives.

With the same parameters this returns what sentence-transformers' `mine_hard_negatives` returns
(sampling_strategy="top", no margins); tests/test_retrieval_mining.py checks it against the library.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from core.retrieval.mining.base import MiningInputs
from core.retrieval.mining.window import Window, select


@dataclass(frozen=True)
class DenseTopK:
    num_negatives: int = 5
    range_min: int = 0  # skip the first range_min non-positive candidates (they are the likeliest false negatives)
    range_max: int | None = None  # default: range_min + num_negatives + max_positives
    sampling: str = "top"  # "top" | "random" within the window
    seed: int = 0

    @property
    def label(self) -> str:
        return "dense_top"

    def mine(self, inputs: MiningInputs) -> pd.DataFrame:
        return select(inputs, Window(self.num_negatives, self.range_min, self.range_max, sampling=self.sampling,
                                     seed=self.seed), self.label)

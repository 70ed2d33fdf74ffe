"""Random negatives: uniform over the corpus, never a labelled positive (the easy baseline)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.retrieval.mining.base import MiningInputs, empty_table, mineable, pair_scores, to_table


@dataclass(frozen=True)
class RandomNegatives:
    num_negatives: int = 5
    seed: int = 0

    @property
    def label(self) -> str:
        return "random"

    def mine(self, inputs: MiningInputs) -> pd.DataFrame:
        rows = mineable(inputs)
        n_docs = len(inputs.doc_ids)
        if len(rows) == 0 or n_docs == 0:
            return empty_table()
        rng = np.random.default_rng(self.seed)
        q_out, d_out, r_out = [], [], []
        for r in rows:
            banned = set(inputs.positives[r].tolist())
            k = min(self.num_negatives, n_docs - len(banned))
            if k <= 0:
                continue
            # oversample then filter: cheap when positives are few compared with the corpus
            draw = rng.choice(n_docs, size=min(n_docs, k + len(banned)), replace=False)
            picked = [d for d in draw.tolist() if d not in banned][:k]
            q_out += [r] * len(picked)
            d_out += picked
            r_out += list(range(1, len(picked) + 1))
        q, d = np.array(q_out, np.int64), np.array(d_out, np.int64)
        return to_table(inputs, q, d, np.array(r_out), pair_scores(inputs, q, d), self.label)

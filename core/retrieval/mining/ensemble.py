"""Ensemble of retrievers: fuse dense and BM25 rankings with reciprocal rank fusion, take the top non-positives.

A document that several different retrievers rank high is a harder negative, and (see false_negatives.py) a
likelier false negative, so this strategy is where agreement between retrievers shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.retrieval.bm25 import bm25_candidates
from core.retrieval.mining.base import MiningInputs, dense_candidates, empty_table, mineable, to_table


@dataclass(frozen=True)
class EnsembleNegatives:
    num_negatives: int = 5
    retrievers: tuple[str, ...] = ("dense", "bm25")
    depth: int = 100
    rrf_k: int = 60
    range_min: int = 0

    @property
    def label(self) -> str:
        return "ensemble"

    def mine(self, inputs: MiningInputs) -> pd.DataFrame:
        rows = mineable(inputs)
        if len(rows) == 0:
            return empty_table()
        lists = []
        for name in self.retrievers:
            if name == "dense":
                lists.append(dense_candidates(inputs, rows, self.depth).indices)
            elif name == "bm25":
                c = inputs.bm25 if inputs.bm25 is not None and inputs.bm25.depth >= self.depth else None
                if c is None:
                    if inputs.query_texts is None or inputs.doc_texts is None:
                        raise ValueError("the BM25 retriever needs query and document texts")
                    c = bm25_candidates(inputs.query_texts, inputs.doc_texts, self.depth)
                lists.append(c.indices[rows, :self.depth])
            else:
                raise ValueError(f"unknown retriever {name!r}; use 'dense' or 'bm25'")
        q_out, d_out, r_out, s_out = [], [], [], []
        for i, r in enumerate(rows):
            fused: dict[int, float] = {}
            for idx in lists:
                for rank, d in enumerate(idx[i].tolist()):
                    if d >= 0:
                        fused[d] = fused.get(d, 0.0) + 1.0 / (self.rrf_k + rank + 1)
            banned = set(inputs.positives[r].tolist())
            ranked = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))
            kept = [(d, s) for d, s in ranked if d not in banned][self.range_min:self.range_min + self.num_negatives]
            for j, (d, s) in enumerate(kept):
                q_out.append(r)
                d_out.append(d)
                s_out.append(s)
                r_out.append(self.range_min + j + 1)
        if not q_out:
            return empty_table()
        return to_table(inputs, np.array(q_out), np.array(d_out), np.array(r_out), np.array(s_out), self.label)

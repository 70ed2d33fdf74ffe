"""The shared interface of the mining strategies: same inputs (MiningInputs), same output table.

Output columns: query_id, doc_id, rank (the candidate's 1-based rank in the strategy's own retriever list,
positives included; for random sampling the sample order), score (the strategy's retriever score), strategy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from core.retrieval.candidates import Candidates

COLUMNS = ["query_id", "doc_id", "rank", "score", "strategy"]


@dataclass
class MiningInputs:
    query_ids: list[str]
    doc_ids: list[str]
    query_emb: np.ndarray  # [n_queries, d], L2-normalised
    doc_emb: np.ndarray  # [n_docs, d], L2-normalised
    positives: list[np.ndarray]  # per query: corpus rows of its labelled positives
    query_texts: list[str] | None = None
    doc_texts: list[str] | None = None
    dense: Candidates | None = None  # precomputed dense candidates (e.g. from the cached index)
    bm25: Candidates | None = None  # precomputed BM25 candidates

    @property
    def max_positives(self) -> int:
        return max((len(p) for p in self.positives), default=0)


class Strategy(Protocol):
    """A frozen dataclass of parameters with one pure method."""

    @property
    def label(self) -> str: ...

    def mine(self, inputs: MiningInputs) -> pd.DataFrame: ...


def empty_table() -> pd.DataFrame:
    return pd.DataFrame({"query_id": pd.Series(dtype=str), "doc_id": pd.Series(dtype=str),
                         "rank": pd.Series(dtype=np.int64), "score": pd.Series(dtype=np.float32),
                         "strategy": pd.Series(dtype=str)})


def to_table(inputs: MiningInputs, q_rows: np.ndarray, d_rows: np.ndarray, ranks: np.ndarray,
             scores: np.ndarray, strategy: str) -> pd.DataFrame:
    if len(q_rows) == 0:
        return empty_table()
    qids = np.asarray(inputs.query_ids, dtype=object)[q_rows]
    dids = np.asarray(inputs.doc_ids, dtype=object)[d_rows]
    return pd.DataFrame({"query_id": qids, "doc_id": dids, "rank": ranks.astype(np.int64),
                         "score": scores.astype(np.float32), "strategy": strategy})


def mineable(inputs: MiningInputs) -> np.ndarray:
    """Rows of queries with at least one positive (mining needs a positive to compare against)."""
    return np.array([i for i, p in enumerate(inputs.positives) if len(p) > 0], dtype=np.int64)


def positive_matrix(positives: list[np.ndarray], rows: np.ndarray) -> np.ndarray:
    """[len(rows), max_pos] positives padded with -2 (never a corpus row, never the -1 pad)."""
    width = max((len(positives[r]) for r in rows), default=0) or 1
    out = np.full((len(rows), width), -2, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, :len(positives[r])] = positives[r]
    return out


def positive_scores(inputs: MiningInputs, rows: np.ndarray, reduce: str = "min") -> np.ndarray:
    """Per query, min (the harder positive, as sentence-transformers uses for margins) or max positive score."""
    out = np.empty(len(rows), dtype=np.float32)
    for i, r in enumerate(rows):
        s = inputs.doc_emb[inputs.positives[r]] @ inputs.query_emb[r]
        out[i] = s.min() if reduce == "min" else s.max()
    return out


def dense_candidates(inputs: MiningInputs, rows: np.ndarray, k: int) -> Candidates:
    """Dense top-k for the given query rows: the precomputed candidates when deep enough, else exact search."""
    if inputs.dense is not None and inputs.dense.depth >= min(k, len(inputs.doc_ids)):
        c = inputs.dense.head(k)
        scores, idx = c.scores[rows], c.indices[rows]
    else:
        from core.retrieval.index import exact_search

        scores, idx = exact_search(inputs.query_emb[rows], inputs.doc_emb, k)
    if idx.shape[1] < k:  # pad like sentence-transformers does when the corpus is smaller than k
        pad = k - idx.shape[1]
        scores = np.concatenate([scores, np.full((len(rows), pad), -np.inf, np.float32)], axis=1)
        idx = np.concatenate([idx, np.full((len(rows), pad), -1, np.int64)], axis=1)
    return Candidates(scores.astype(np.float32, copy=True), idx.astype(np.int64, copy=False))


def pair_scores(inputs: MiningInputs, q_rows: np.ndarray, d_rows: np.ndarray) -> np.ndarray:
    """Dense cosine score of each (query, doc) pair."""
    if len(q_rows) == 0:
        return np.zeros(0, dtype=np.float32)
    return np.einsum("ij,ij->i", inputs.query_emb[q_rows], inputs.doc_emb[d_rows]).astype(np.float32)

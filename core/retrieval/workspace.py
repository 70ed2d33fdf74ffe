"""A loaded dataset with its embeddings, index and candidate lists: what every page action works on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.retrieval.bm25 import bm25_candidates
from core.retrieval.candidates import Candidates
from core.retrieval.dataset import RetrievalDataset
from core.retrieval.embed import DEFAULT_EMBEDDER, embed_texts
from core.retrieval.false_negatives import SignalWeights, score_pairs
from core.retrieval.index import IndexSpec, VectorIndex, build_index
from core.retrieval.mining.base import COLUMNS, MiningInputs

ProgressFn = Callable[[float, str], None]
DENSE_DEPTH = 200
BM25_DEPTH = 100


@dataclass
class Workspace:
    dataset: RetrievalDataset
    model: str
    doc_emb: np.ndarray
    query_emb: np.ndarray
    index: VectorIndex
    dense: Candidates
    positives: list[np.ndarray] = field(default_factory=list)
    _bm25: Candidates | None = None

    @property
    def key(self) -> str:
        from core.cache import text_hash

        return text_hash([self.model, *self.dataset.doc_ids, "|", *self.dataset.query_ids])

    def bm25(self) -> Candidates:
        if self._bm25 is None:
            self._bm25 = bm25_candidates(self.dataset.query_texts, self.dataset.embedding_texts(), BM25_DEPTH)
        return self._bm25

    def inputs(self, with_bm25: bool = False) -> MiningInputs:
        return MiningInputs(query_ids=self.dataset.query_ids, doc_ids=self.dataset.doc_ids,
                            query_emb=self.query_emb, doc_emb=self.doc_emb, positives=self.positives,
                            query_texts=self.dataset.query_texts, doc_texts=self.dataset.embedding_texts(),
                            dense=self.dense, bm25=self.bm25() if with_bm25 else None)


def open_workspace(ds: RetrievalDataset, model: str = DEFAULT_EMBEDDER, index_spec: IndexSpec = IndexSpec(),
                   progress: ProgressFn | None = None) -> Workspace:
    def step(lo: float, hi: float) -> ProgressFn | None:
        return (lambda f, m: progress(lo + (hi - lo) * f, m)) if progress else None

    doc_emb = embed_texts(ds.embedding_texts(), model, progress=step(0.0, 0.85))
    query_emb = embed_texts(ds.query_texts, model, progress=step(0.85, 0.9))
    if progress:
        progress(0.9, "building the index")
    index = build_index(doc_emb, index_spec, sample_queries=query_emb)
    scores, idx = index.search(query_emb, DENSE_DEPTH)
    if progress:
        progress(1.0, index.describe())
    return Workspace(ds, model, doc_emb, query_emb, index, Candidates(scores, idx.astype(np.int64), index.exact),
                     positives=ds.positive_indices())


def mine(ws: Workspace, strategies: list) -> pd.DataFrame:
    needs_bm25 = any(getattr(s, "label", "") in ("bm25", "ensemble") for s in strategies)
    inputs = ws.inputs(with_bm25=needs_bm25)
    tables = [s.mine(inputs) for s in strategies]
    tables = [t for t in tables if not t.empty]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=COLUMNS)


def analyse(ws: Workspace, mined: pd.DataFrame, weights: SignalWeights = SignalWeights()) -> pd.DataFrame:
    return score_pairs(mined, ws.dataset.query_ids, ws.dataset.doc_ids, ws.query_emb, ws.doc_emb, ws.positives,
                       ws.dataset.embedding_texts(), ws.dense, ws.bm25(), weights)

"""Run sentence-transformers' `mine_hard_negatives` on precomputed embeddings (the peer we compare against).

A tiny stand-in model returns the given vectors for the given texts, so the library does no model work and
both sides see exactly the same embeddings. Used by the equivalence test and bench/retrieval_mining.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


class PrecomputedEncoder:
    """Just enough of SentenceTransformer's surface for mine_hard_negatives: encode + similarity."""

    def __init__(self, texts: list[str], embeddings: np.ndarray):
        import torch

        self._row = {t: i for i, t in enumerate(texts)}
        self._emb = np.ascontiguousarray(embeddings, dtype=np.float32)
        self.device = torch.device("cpu")

        class _Card:
            base_model = "precomputed"

        self.model_card_data = _Card()

    def get_embedding_dimension(self) -> int:
        return int(self._emb.shape[1])

    def _encode(self, sentences, **_kwargs) -> np.ndarray:
        return self._emb[[self._row[s] for s in sentences]]

    encode = encode_document = encode_query = _encode

    def similarity(self, a, b):
        from sentence_transformers.util import cos_sim

        return cos_sim(a, b)

    def similarity_pairwise(self, a, b):
        from sentence_transformers.util import pairwise_cos_sim

        return pairwise_cos_sim(a, b)


def st_mine(query_texts: list[str], positive_texts: list[list[str]], corpus_texts: list[str],
            query_emb: np.ndarray, corpus_emb: np.ndarray, *, use_faiss: bool = True, **params) -> pd.DataFrame:
    """mine_hard_negatives over (query, positive) pairs; returns rows (query, negative, score) in output order.

    corpus_texts must contain every positive text; texts must be unique (the library de-duplicates by text).
    """
    from datasets import Dataset
    from sentence_transformers.util import mine_hard_negatives

    model = PrecomputedEncoder(list(corpus_texts) + list(query_texts),
                               np.concatenate([corpus_emb, query_emb]))
    anchors, positives = [], []
    for q, ps in zip(query_texts, positive_texts, strict=False):
        for p in ps:
            anchors.append(q)
            positives.append(p)
    data = Dataset.from_dict({"anchor": anchors, "positive": positives})
    out = mine_hard_negatives(data, model, corpus=list(corpus_texts), use_faiss=use_faiss, verbose=False,
                              output_format="triplet", output_scores=True, **params)
    frame = out.to_pandas()
    frame["score"] = [s[1] for s in frame["scores"]]
    # a query with several positives repeats its negatives once per positive: keep one copy, in order
    return frame[["anchor", "negative", "score"]].drop_duplicates(["anchor", "negative"]).reset_index(drop=True)

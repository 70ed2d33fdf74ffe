"""The one in-memory shape every loader produces and every exporter consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np


@dataclass
class RetrievalDataset:
    """A corpus, queries, labelled positives (qrels) and, for triplet formats, the negatives that came with it.

    `qrels` holds the judgements used for mining (the "shallow pool"); `extra_qrels` keeps other splits, e.g.
    the embedded default's complete judgements ("full"), which are used only to evaluate, never to mine.
    """

    name: str
    doc_ids: list[str]
    doc_texts: list[str]
    query_ids: list[str]
    query_texts: list[str]
    qrels: dict[str, dict[str, int]]
    doc_titles: list[str] = field(default_factory=list)
    negatives: dict[str, list[str]] = field(default_factory=dict)
    extra_qrels: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    source_format: str = ""

    def __post_init__(self) -> None:
        if not self.doc_titles:
            self.doc_titles = [""] * len(self.doc_ids)

    @cached_property
    def doc_index(self) -> dict[str, int]:
        return {d: i for i, d in enumerate(self.doc_ids)}

    @cached_property
    def query_index(self) -> dict[str, int]:
        return {q: i for i, q in enumerate(self.query_ids)}

    def embedding_texts(self) -> list[str]:
        """What the embedder sees for each document: "title text" when there is a title (the BEIR convention)."""
        return [f"{t} {x}".strip() if t else x for t, x in zip(self.doc_titles, self.doc_texts, strict=False)]

    def positives_for(self, query_id: str) -> list[str]:
        return [d for d, rel in self.qrels.get(query_id, {}).items() if rel > 0]

    def positive_indices(self) -> list[np.ndarray]:
        """Per query (in query order), the corpus row numbers of its labelled positives."""
        idx = self.doc_index
        return [np.array([idx[d] for d in self.positives_for(q) if d in idx], dtype=np.int64)
                for q in self.query_ids]

    def mined_query_mask(self) -> np.ndarray:
        """Queries that have at least one labelled positive (only those can be mined for)."""
        return np.array([len(self.positives_for(q)) > 0 for q in self.query_ids])

    def summary(self) -> dict:
        n_pos = sum(len(self.positives_for(q)) for q in self.query_ids)
        return {"name": self.name, "format": self.source_format, "documents": len(self.doc_ids),
                "queries": len(self.query_ids), "labelled positives": n_pos,
                "given negatives": sum(len(v) for v in self.negatives.values())}

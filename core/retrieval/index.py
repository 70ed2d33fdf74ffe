"""Vector index chosen by corpus size: exact inner product when small, IVF or HNSW above a threshold.

An approximate index reports its recall@k measured on the data (against exact search on a query sample).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class IndexSpec:
    exact_below: int = 50_000  # documents; exact search is fast enough below this on 2 cores
    approximate: str = "ivf"  # "ivf" | "hnsw" above the threshold
    nprobe: int = 16
    hnsw_m: int = 32
    ef_search: int = 128
    recall_k: int = 10
    recall_sample: int = 256
    seed: int = 0


@dataclass
class VectorIndex:
    kind: str
    index: object
    n: int
    dim: int
    build_s: float
    recall_at_k: float | None  # measured; None for exact search (recall 1 by construction)
    recall_k: int

    @property
    def exact(self) -> bool:
        return self.kind == "exact"

    def describe(self) -> str:
        if self.exact:
            return f"exact inner product (FAISS IndexFlatIP), {self.n:,} documents"
        return (f"{self.kind.upper()} (approximate), {self.n:,} documents, measured recall@{self.recall_k} = "
                f"{self.recall_at_k:.3f} against exact search, built in {self.build_s:.1f} s")

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, self.n)
        scores, ids = self.index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return scores, ids


def _faiss():
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - pinned in requirements
        raise RuntimeError("faiss is not installed: pip install -r requirements.txt (faiss-cpu)") from exc
    return faiss


def exact_search(queries: np.ndarray, docs: np.ndarray, k: int, block_floats: int = 1 << 25
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k inner product: blocked float32 matmul + top-k (torch), best first.

    Faster than FAISS IndexFlatIP's heap selection at these sizes on 2 cores, and exact: same scores, same order.
    """
    import torch

    k = min(k, docs.shape[0])
    d = torch.from_numpy(np.ascontiguousarray(docs, dtype=np.float32))
    q_all = np.ascontiguousarray(queries, dtype=np.float32)
    step = max(1, block_floats // max(1, docs.shape[0]))
    scores = np.empty((len(q_all), k), dtype=np.float32)
    idx = np.empty((len(q_all), k), dtype=np.int64)
    with torch.inference_mode():
        for start in range(0, len(q_all), step):
            sim = torch.from_numpy(q_all[start:start + step]) @ d.T
            top = torch.topk(sim, k, dim=1, largest=True, sorted=True)
            scores[start:start + step] = top.values.numpy()
            idx[start:start + step] = top.indices.numpy()
    return scores, idx


def build_index(docs: np.ndarray, spec: IndexSpec = IndexSpec(), sample_queries: np.ndarray | None = None
                ) -> VectorIndex:
    faiss = _faiss()
    docs = np.ascontiguousarray(docs, dtype=np.float32)
    n, dim = docs.shape
    t0 = time.perf_counter()
    if n < spec.exact_below:
        index = faiss.IndexFlatIP(dim)
        index.add(docs)
        return VectorIndex("exact", index, n, dim, time.perf_counter() - t0, None, spec.recall_k)
    if spec.approximate == "hnsw":
        index = faiss.IndexHNSWFlat(dim, spec.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = spec.ef_search
        index.add(docs)
        kind = "hnsw"
    elif spec.approximate == "ivf":
        nlist = max(16, int(4 * np.sqrt(n)))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(spec.seed)
        train = docs[rng.choice(n, size=min(n, 64 * nlist), replace=False)]
        index.train(train)
        index.add(docs)
        index.nprobe = spec.nprobe
        kind = "ivf"
    else:
        raise ValueError(f"unknown approximate index {spec.approximate!r}; use 'ivf' or 'hnsw'")
    build_s = time.perf_counter() - t0
    # why: approximate recall depends on the data, so measure it on this corpus rather than quote a number
    rng = np.random.default_rng(spec.seed)
    if sample_queries is None or len(sample_queries) == 0:
        sample_queries = docs[rng.choice(n, size=min(n, spec.recall_sample), replace=False)]
    elif len(sample_queries) > spec.recall_sample:
        sample_queries = sample_queries[rng.choice(len(sample_queries), size=spec.recall_sample, replace=False)]
    k = min(spec.recall_k, n)
    _, truth = exact_search(sample_queries, docs, k)
    _, got = index.search(np.ascontiguousarray(sample_queries, dtype=np.float32), k)
    recall = float(np.mean([len(set(a) & set(b)) / k for a, b in zip(truth, got, strict=False)]))
    return VectorIndex(kind, index, n, dim, build_s, recall, k)

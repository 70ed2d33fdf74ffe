"""Query-centred 2-D views of the embedding space: PCA at once, UMAP cached on disk by content hash.

Only coordinates, ids and colours go to the browser; texts are fetched for what the user selects.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from core.cache import ArrayCache, content_hash

ProgressFn = Callable[[float, str], None]
KINDS = ("corpus", "negative", "positive", "query")


def neighbourhood(doc_emb: np.ndarray, query_vec: np.ndarray, index, n: int) -> np.ndarray:
    """The n documents nearest the query (all documents when n >= corpus size)."""
    if n >= len(doc_emb):
        return np.arange(len(doc_emb))
    _, idx = index.search(query_vec[None, :], n)
    return idx[0][idx[0] >= 0]


def view_points(query_id: str, doc_rows: np.ndarray, doc_ids: list[str], positives: np.ndarray,
                mined: pd.DataFrame, scored: pd.DataFrame) -> pd.DataFrame:
    """One row per point: the query, then documents with kind, strategy and false-negative likelihood."""
    doc_rows = np.unique(np.concatenate([doc_rows, positives,
                                         np.array([i for i in mined.get("doc_row", [])], dtype=np.int64)]))
    frame = pd.DataFrame({"doc_row": doc_rows.astype(np.int64)})
    frame["doc_id"] = np.asarray(doc_ids, dtype=object)[frame["doc_row"].to_numpy()]
    frame["kind"] = "corpus"
    frame.loc[frame["doc_row"].isin(positives), "kind"] = "positive"
    m = mined[mined["query_id"] == query_id]
    strat = m.groupby("doc_id")["strategy"].agg(lambda s: ",".join(sorted(set(s))))
    frame["strategy"] = frame["doc_id"].map(strat).fillna("")
    frame.loc[(frame["strategy"] != "") & (frame["kind"] == "corpus"), "kind"] = "negative"
    lik = scored[scored["query_id"] == query_id].set_index("doc_id")["likelihood"] if not scored.empty else {}
    frame["likelihood"] = frame["doc_id"].map(lik).astype(float)
    query = pd.DataFrame({"doc_row": [-1], "doc_id": [query_id], "kind": ["query"], "strategy": [""],
                          "likelihood": [np.nan]})
    return pd.concat([query, frame], ignore_index=True)


def _vectors(points: pd.DataFrame, doc_emb: np.ndarray, query_vec: np.ndarray) -> np.ndarray:
    rows = points["doc_row"].to_numpy()
    out = np.empty((len(rows), doc_emb.shape[1]), dtype=np.float32)
    out[rows < 0] = query_vec
    out[rows >= 0] = doc_emb[rows[rows >= 0]]
    return out


def _top_axes(cov: np.ndarray, k: int, seed: int = 0, iters: int = 40) -> np.ndarray:
    """Top-k eigenvectors of a symmetric d x d matrix by subspace iteration (a full LAPACK eigh of 384 x 384 took
    seconds on a busy 2-core machine; this takes milliseconds)."""
    v = np.random.default_rng(seed).normal(size=(cov.shape[0], k + 4))
    for _ in range(iters):
        v, _ = np.linalg.qr(cov @ v)
    w, small = np.linalg.eigh(v.T @ cov @ v)
    return v @ small[:, np.argsort(w)[::-1][:k]]


def pca_coords(points: pd.DataFrame, doc_emb: np.ndarray, query_vec: np.ndarray, fit_sample: int = 10_000,
               seed: int = 0) -> np.ndarray:
    """2-D PCA, fitted on a sample (the marked points always in it), the query at the origin."""
    kinds = points["kind"].to_numpy()
    marked = np.flatnonzero(kinds != "corpus")
    rest = np.flatnonzero(kinds == "corpus")
    if len(points) > fit_sample:
        rest = np.random.default_rng(seed).choice(rest, size=max(0, fit_sample - len(marked)), replace=False)
    fit = _vectors(points.iloc[np.concatenate([marked, rest])], doc_emb, query_vec).astype(np.float64)
    mean = fit.mean(axis=0)
    centred = fit - mean
    axes = _top_axes(centred.T @ centred, 2, seed).astype(np.float32)
    rows = points["doc_row"].to_numpy()
    coords = np.empty((len(rows), 2), dtype=np.float32)
    docs = rows >= 0
    # project without materialising the n x d matrix of the points (a gather of 100k x 384 costs more than this)
    projected = doc_emb @ axes if docs.sum() > len(doc_emb) // 2 else None
    coords[docs] = projected[rows[docs]] if projected is not None else doc_emb[rows[docs]] @ axes
    coords[~docs] = query_vec @ axes
    coords -= coords[kinds == "query"][0]
    return coords


def umap_key(points: pd.DataFrame, model: str, n_neighbors: int, min_dist: float, seed: int, corpus_key: str) -> str:
    return content_hash("umap-v1", model, corpus_key, points["doc_row"].to_numpy(), n_neighbors, min_dist, seed)


def umap_cached(key: str) -> np.ndarray | None:
    return ArrayCache("retrieval_umap").get(key)


def umap_coords(points: pd.DataFrame, doc_emb: np.ndarray, query_vec: np.ndarray, key: str,
                n_neighbors: int = 15, min_dist: float = 0.1, seed: int = 0,
                progress: ProgressFn | None = None) -> np.ndarray:
    """UMAP (cosine) of the points, computed once per (points, parameters) and cached on disk."""
    cache = ArrayCache("retrieval_umap")
    hit = cache.get(key)
    if hit is not None:
        return hit
    try:
        import umap
    except ImportError as exc:  # pragma: no cover - pinned in requirements
        raise RuntimeError("umap-learn is not installed: pip install -r requirements.txt") from exc
    x = _vectors(points, doc_emb, query_vec)
    if progress:
        progress(0.05, f"UMAP on {len(x):,} points: building the neighbour graph (first use also compiles numba)")
    reducer = umap.UMAP(n_neighbors=min(n_neighbors, max(2, len(x) - 1)), min_dist=min_dist, metric="cosine",
                        random_state=seed, n_epochs=200 if len(x) < 10_000 else 100, low_memory=True)
    coords = reducer.fit_transform(x).astype(np.float32)
    coords -= coords[points["kind"].to_numpy() == "query"][0]
    cache.put(key, coords)
    if progress:
        progress(1.0, "UMAP done (cached)")
    return coords

"""Bench: our dense "top" / margin mining vs sentence-transformers' mine_hard_negatives on the same embeddings.

Runs on (1) the embedded default dataset (WordNet glosses, MiniLM embeddings from the setup cache) when it is
built, and (2) a synthetic 100k-document corpus; prints both times, the ratio and whether the negatives are
identical; then the time to first view (PCA of 100k documents) and UMAP first vs cached. Ends with one JSON line.
Usage: .venv/bin/python bench/retrieval_mining.py [--docs 100000] [--queries 2000] [--umap-points 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from core.retrieval.mining import DenseTopK, MarginFiltered, MiningInputs  # noqa: E402
from core.retrieval.st_peer import st_mine  # noqa: E402


def synthetic(n_docs: int, n_queries: int, dim: int = 384, seed: int = 0) -> MiningInputs:
    """Clustered unit vectors (so neighbours are meaningful), one positive per query near it."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(10, n_docs // 200), dim)).astype(np.float32)
    docs = centres[rng.integers(0, len(centres), n_docs)] + 0.8 * rng.normal(size=(n_docs, dim)).astype(np.float32)
    docs /= np.linalg.norm(docs, axis=1, keepdims=True)
    pos = rng.choice(n_docs, size=n_queries, replace=False)
    q = docs[pos] + 0.5 * rng.normal(size=(n_queries, dim)).astype(np.float32) / np.sqrt(dim) * 8
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return MiningInputs([f"q{i}" for i in range(n_queries)], [f"d{i}" for i in range(n_docs)], q.astype(np.float32),
                        docs, [np.array([p]) for p in pos], [f"query {i}" for i in range(n_queries)],
                        [f"document {i}" for i in range(n_docs)])


def default_inputs() -> MiningInputs | None:
    from core.retrieval import wordnet_default
    from core.retrieval.embed import cached
    from core.retrieval.loaders import load_beir

    if not wordnet_default.is_ready():
        return None
    ds = load_beir(wordnet_default.dataset_folder(), split="train", name="wordnet-default")
    d, q = cached(ds.embedding_texts()), cached(ds.query_texts)
    if d is None or q is None:
        return None
    return MiningInputs(ds.query_ids, ds.doc_ids, q, d, ds.positive_indices(), ds.query_texts, ds.embedding_texts())


def compare(name: str, inputs: MiningInputs, strategy, st_params: dict, repeats: int = 2) -> dict:
    # the peer de-duplicates by exact text and some WordNet glosses repeat: give it the (unique) ids as texts;
    # its stand-in model maps each to the same embedding row we use, so both sides see identical vectors
    texts = list(inputs.doc_ids)
    pos_texts = [[texts[d] for d in p] for p in inputs.positives]
    ours_t, peer_t = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        ours = strategy.mine(inputs)
        ours_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        peer = st_mine(list(inputs.query_ids), pos_texts, texts, inputs.query_emb, inputs.doc_emb, **st_params)
        peer_t.append(time.perf_counter() - t)
    mine = ours[["query_id", "doc_id"]]
    identical = mine.values.tolist() == peer[["anchor", "negative"]].values.tolist()
    # duplicate WordNet glosses have bit-identical scores; the order among exact ties is arbitrary on both sides
    same_sets = (set(zip(ours.query_id, ours.doc_id, strict=True)) ==
                 set(zip(peer.anchor, peer.negative, strict=True)))
    up_to_ties = same_sets and len(ours) == len(peer) and bool(np.allclose(ours.score.to_numpy(),
                                                                             peer.score.to_numpy(), atol=1e-6))
    from core.retrieval.index import exact_search
    from core.retrieval.mining.base import Candidates

    depth = strategy.num_negatives * 11 + inputs.max_positives * 2 + 10
    cached = MiningInputs(**{**inputs.__dict__, "dense": Candidates(*exact_search(inputs.query_emb, inputs.doc_emb,
                                                                                  depth))})
    t = time.perf_counter()
    again = strategy.mine(cached)
    cached_s = time.perf_counter() - t
    assert set(zip(again.query_id, again.doc_id, strict=True)) == set(zip(ours.query_id, ours.doc_id, strict=True))
    o, p = min(ours_t), min(peer_t)
    row = {"dataset": name, "strategy": strategy.label, "peer": f"mine_hard_negatives(use_faiss={st_params['use_faiss']})",
           "docs": len(inputs.doc_ids), "queries": len(inputs.query_ids), "negatives": len(ours),
           "ours_s": round(o, 3), "peer_s": round(p, 3), "speedup": round(p / o, 2), "identical": identical,
           "identical_up_to_exact_ties": up_to_ties, "ours_cached_candidates_s": round(cached_s, 3),
           "speedup_cached_candidates": round(p / cached_s, 1)}
    print(f"{name:18s} {strategy.label:9s} vs {row['peer']:34s} ours {o:7.3f}s  peer {p:7.3f}s  "
          f"x{p / o:5.2f}  identical={identical} (up to exact ties: {up_to_ties})  ({len(ours)} negatives); "
          f"from cached candidate lists: {cached_s:.3f}s = x{p / cached_s:.0f}", flush=True)
    return row


def first_view(n_docs: int) -> dict:
    """Time to first view with cached embeddings: neighbourhood (all docs) + points + PCA + figure JSON."""
    import faiss

    from components.retrieval_view import figure
    from core.retrieval import projection

    inputs = synthetic(n_docs, 50)
    index = faiss.IndexFlatIP(inputs.doc_emb.shape[1])
    index.add(inputs.doc_emb)
    mined = DenseTopK(10).mine(inputs)
    scored = mined.groupby(["query_id", "doc_id"]).size().reset_index().assign(likelihood=0.5)
    t = time.perf_counter()
    rows = projection.neighbourhood(inputs.doc_emb, inputs.query_emb[0], index, n_docs)
    m = mined[mined.query_id == "q0"].assign(doc_row=lambda f: f.doc_id.str[1:].astype(int))
    points = projection.view_points("q0", rows, inputs.doc_ids, inputs.positives[0], m, scored)
    coords = projection.pca_coords(points, inputs.doc_emb, inputs.query_emb[0])
    fig_json = figure(points, coords, "strategy").to_json()
    pca_s = time.perf_counter() - t
    print(f"first view: PCA of {len(points):,} points + figure ({len(fig_json) / 1e6:.1f} MB JSON) in {pca_s:.2f} s "
          f"(goal < 2 s)", flush=True)
    return {"points": len(points), "pca_view_s": round(pca_s, 3), "figure_mb": round(len(fig_json) / 1e6, 2)}


def umap_timing(n_points: int) -> dict:
    import faiss

    from core.retrieval import projection

    inputs = synthetic(n_points, 5, seed=1)
    index = faiss.IndexFlatIP(inputs.doc_emb.shape[1])
    index.add(inputs.doc_emb)
    rows = projection.neighbourhood(inputs.doc_emb, inputs.query_emb[0], index, n_points)
    points = projection.view_points("q0", rows, inputs.doc_ids, inputs.positives[0],
                                    pd.DataFrame(columns=["query_id", "doc_id", "strategy"]), pd.DataFrame())
    key = projection.umap_key(points, "bench", 15, 0.1, 0, f"bench-{time.time()}")
    t = time.perf_counter()
    projection.umap_coords(points, inputs.doc_emb, inputs.query_emb[0], key)
    first = time.perf_counter() - t
    t = time.perf_counter()
    projection.umap_coords(points, inputs.doc_emb, inputs.query_emb[0], key)
    second = time.perf_counter() - t
    print(f"UMAP of {len(points):,} points: first {first:.1f} s (incl. numba compile), cached {second:.3f} s", flush=True)
    return {"points": len(points), "first_s": round(first, 2), "cached_s": round(second, 4)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--umap-points", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    import torch

    print(f"threads: torch {torch.get_num_threads()}, cpus {os.cpu_count()}", flush=True)
    rows = []
    sets = []
    d = default_inputs()
    if d is not None:
        sets.append(("wordnet-default", d))
    else:
        print("default dataset not built (bash scripts/setup.sh): skipping it", flush=True)
    sets.append((f"synthetic-{args.docs // 1000}k", synthetic(args.docs, args.queries)))
    for name, inputs in sets:
        for use_faiss in (True, False):
            rows.append(compare(name, inputs, DenseTopK(num_negatives=5),
                                {"use_faiss": use_faiss, "num_negatives": 5, "sampling_strategy": "top"},
                                args.repeats))
        rows.append(compare(name, inputs, MarginFiltered(num_negatives=5, relative_margin=0.05),
                            {"use_faiss": True, "num_negatives": 5, "relative_margin": 0.05,
                             "sampling_strategy": "top"}, args.repeats))
    view = first_view(args.docs)
    um = umap_timing(args.umap_points)
    best = min(r["speedup"] for r in rows)
    ties = all(r["identical_up_to_exact_ties"] for r in rows)
    print(f"slowest end-to-end speed-up over the peer: x{best:.2f} (goal >= 2); identical up to exact ties: {ties}",
          flush=True)
    print(json.dumps({"bench": "retrieval_mining", "mining": rows, "min_speedup": best,
                      "all_identical": all(r["identical"] for r in rows), "all_identical_up_to_exact_ties": ties,
                      "first_view": view, "umap": um}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

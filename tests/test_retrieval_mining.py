"""Mining strategies on tiny synthetic data; dense "top" matches sentence-transformers' mine_hard_negatives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.retrieval.mining import (
    COLUMNS,
    BM25Negatives,
    DenseTopK,
    EnsembleNegatives,
    MarginFiltered,
    MiningInputs,
    RandomNegatives,
    SimANS,
)
from core.retrieval.mining.base import Candidates


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def make_inputs(n_docs: int = 60, n_queries: int = 12, dim: int = 16, seed: int = 0, multi_pos: bool = True):
    rng = np.random.default_rng(seed)
    docs = _unit(rng.normal(size=(n_docs, dim)))
    positives = []
    queries = []
    for q in range(n_queries):
        n_pos = 1 + (q % 3 == 0 and multi_pos)
        pos = rng.choice(n_docs, size=n_pos, replace=False)
        positives.append(np.sort(pos).astype(np.int64))
        queries.append(docs[pos].mean(0) + 0.6 * rng.normal(size=dim))
    words = ["apple", "river", "bank", "money", "stone", "music", "tree", "cloud", "light", "paper"]
    doc_texts = [f"doc {i} " + " ".join(rng.choice(words, size=4)) for i in range(n_docs)]
    query_texts = [f"query {q} " + " ".join(rng.choice(words, size=2)) for q in range(n_queries)]
    return MiningInputs(query_ids=[f"q{i}" for i in range(n_queries)], doc_ids=[f"d{i}" for i in range(n_docs)],
                        query_emb=_unit(np.asarray(queries)), doc_emb=docs, positives=positives,
                        query_texts=query_texts, doc_texts=doc_texts)


ALL = [RandomNegatives(3), BM25Negatives(3), DenseTopK(3), MarginFiltered(3), SimANS(3, top_k=20),
       EnsembleNegatives(3, depth=20)]


@pytest.mark.parametrize("strategy", ALL, ids=lambda s: s.label)
def test_every_strategy_returns_the_shared_table_without_positives(strategy):
    inputs = make_inputs()
    table = strategy.mine(inputs)
    assert list(table.columns) == COLUMNS
    assert len(table) > 0 and set(table["strategy"]) == {strategy.label}
    for qid, group in table.groupby("query_id"):
        q = inputs.query_ids.index(qid)
        pos = {inputs.doc_ids[i] for i in inputs.positives[q]}
        assert not pos & set(group["doc_id"]), f"{strategy.label} mined a labelled positive"
        assert len(group) <= 3 and group["doc_id"].is_unique
    # pure: same inputs, same output
    pd.testing.assert_frame_equal(table, strategy.mine(inputs))


def test_dense_top_takes_the_nearest_non_positives_in_the_window():
    inputs = make_inputs(multi_pos=False)
    table = DenseTopK(num_negatives=2, range_min=1).mine(inputs)
    for q, qid in enumerate(inputs.query_ids):
        order = np.argsort(-(inputs.doc_emb @ inputs.query_emb[q]), kind="stable")
        order = [d for d in order if d not in set(inputs.positives[q])]
        want = [inputs.doc_ids[d] for d in order[1:3]]
        assert table[table.query_id == qid]["doc_id"].tolist() == want


def test_relative_margin_keeps_only_negatives_below_95_percent_of_the_positive():
    inputs = make_inputs()
    table = MarginFiltered(num_negatives=4, relative_margin=0.05).mine(inputs)
    for qid, group in table.groupby("query_id"):
        q = inputs.query_ids.index(qid)
        s_pos = float((inputs.doc_emb[inputs.positives[q]] @ inputs.query_emb[q]).min())
        assert (group["score"] <= s_pos - abs(s_pos) * 0.05 + 1e-6).all()


def test_simans_prefers_negatives_scoring_near_the_positive():
    inputs = make_inputs(n_docs=200, n_queries=30, multi_pos=False)
    sim = SimANS(num_negatives=5, top_k=100, a=0.5, score_scale=20.0).mine(inputs)
    far = SimANS(num_negatives=5, top_k=100, a=0.0).mine(inputs)  # a = 0: uniform over the top-k
    def gap(t):
        q = t["query_id"].map(inputs.query_ids.index).to_numpy()
        s_pos = np.array([float(inputs.doc_emb[inputs.positives[i]][0] @ inputs.query_emb[i]) for i in q])
        return float(np.mean(np.abs(t["score"].to_numpy() - s_pos)))
    assert gap(sim) < gap(far)


def test_precomputed_candidates_give_the_same_result_as_exact_search():
    inputs = make_inputs()
    plain = DenseTopK(3).mine(inputs)
    from core.retrieval.index import exact_search

    s, i = exact_search(inputs.query_emb, inputs.doc_emb, 30)
    inputs.dense = Candidates(s, i)
    pd.testing.assert_frame_equal(plain, DenseTopK(3).mine(inputs))


def _st_compare(inputs: MiningInputs, ours: pd.DataFrame, **params):
    from core.retrieval.st_peer import st_mine

    peer = st_mine(inputs.query_texts, [[inputs.doc_texts[d] for d in p] for p in inputs.positives],
                   inputs.doc_texts, inputs.query_emb, inputs.doc_emb, **params)
    text_of_doc = dict(zip(inputs.doc_ids, inputs.doc_texts, strict=False))
    text_of_query = dict(zip(inputs.query_ids, inputs.query_texts, strict=False))
    mine = pd.DataFrame({"anchor": ours["query_id"].map(text_of_query), "negative": ours["doc_id"].map(text_of_doc),
                         "score": ours["score"]})
    assert len(mine) > 0
    assert mine[["anchor", "negative"]].values.tolist() == peer[["anchor", "negative"]].values.tolist()
    np.testing.assert_allclose(mine["score"].to_numpy(), peer["score"].to_numpy(), atol=1e-5)


@pytest.mark.parametrize("use_faiss", [True, False])
@pytest.mark.parametrize("params", [dict(num_negatives=3), dict(num_negatives=2, range_min=2),
                                    dict(num_negatives=3, range_min=1, range_max=12)], ids=str)
def test_dense_top_equals_sentence_transformers(params, use_faiss):
    inputs = make_inputs(n_docs=80, n_queries=15)
    ours = DenseTopK(**params).mine(inputs)
    _st_compare(inputs, ours, use_faiss=use_faiss, sampling_strategy="top", **params)


@pytest.mark.parametrize("params", [dict(relative_margin=0.05), dict(absolute_margin=0.1),
                                    dict(relative_margin=0.1, max_score=0.6)], ids=str)
def test_margin_filters_equal_sentence_transformers(params):
    inputs = make_inputs(n_docs=80, n_queries=15)
    ours = MarginFiltered(num_negatives=3, **{"relative_margin": None, **params}).mine(inputs)
    _st_compare(inputs, ours, use_faiss=True, num_negatives=3, sampling_strategy="top", **params)


def test_bad_window_is_a_clear_error():
    with pytest.raises(ValueError, match="range_min"):
        DenseTopK(num_negatives=2, range_min=10, range_max=5).mine(make_inputs())

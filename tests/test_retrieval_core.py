"""Core retrieval pieces on tiny data: loaders (and their errors), export round trips, signals, labels, metrics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.retrieval import annotation, export, metrics
from core.retrieval.dataset import RetrievalDataset
from core.retrieval.false_negatives import score_pairs
from core.retrieval.loaders import DatasetFormatError, load_path, load_upload
from core.retrieval.mining import DenseTopK


def write_beir(folder: Path, n_docs: int = 12) -> Path:
    (folder / "qrels").mkdir(parents=True)
    with (folder / "corpus.jsonl").open("w") as f:
        for i in range(n_docs):
            f.write(json.dumps({"_id": f"d{i}", "title": "" if i % 2 else f"T{i}", "text": f"document {i} text"}) + "\n")
    with (folder / "queries.jsonl").open("w") as f:
        for i in range(4):
            f.write(json.dumps({"_id": f"q{i}", "text": f"query {i}"}) + "\n")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" +
                                               "".join(f"q{i}\td{i}\t1\n" for i in range(4)) + "q0\td5\t1\n")
    return folder


def test_beir_loader_reads_corpus_queries_and_qrels(tmp_path):
    ds = load_path(write_beir(tmp_path / "b"))
    assert ds.source_format == "beir" and len(ds.doc_ids) == 12 and len(ds.query_ids) == 4
    assert sorted(ds.positives_for("q0")) == ["d0", "d5"]
    assert ds.embedding_texts()[0] == "T0 document 0 text"


@pytest.mark.parametrize("corrupt, match", [
    (lambda f: (f / "corpus.jsonl").write_text('{"_id": "d0", "text": "x"}\n{not json\n'), r"corpus.jsonl, line 2: not valid JSON"),
    (lambda f: (f / "corpus.jsonl").write_text('{"_id": "d0", "text": "x"}\n{"_id": "d0", "text": "y"}\n'), r"line 2: duplicate document id"),
    (lambda f: (f / "qrels" / "test.tsv").write_text("q0\td99\t1\n"), r"test.tsv, line 1: document id 'd99' is not in the corpus"),
    (lambda f: (f / "qrels" / "test.tsv").write_text("q0\td1\tmaybe\n"), r"test.tsv, line 1: relevance 'maybe'"),
    (lambda f: (f / "queries.jsonl").unlink(), r"queries.jsonl: file not found"),
])
def test_bad_beir_files_name_file_line_and_problem(tmp_path, corrupt, match):
    folder = write_beir(tmp_path / "b")
    corrupt(folder)
    with pytest.raises(DatasetFormatError, match=match):
        load_path(folder)


def test_st_table_flag_and_msmarco_loaders(tmp_path):
    rows = [{"anchor": "q a", "positive": "p a", "negative": "n a"}, {"anchor": "q a", "positive": "p a2", "negative": "n b"},
            {"anchor": "q b", "positive": "p b", "negative": "n a"}]
    pd.DataFrame(rows).to_csv(tmp_path / "t.csv", index=False)
    pd.DataFrame(rows).to_parquet(tmp_path / "t.parquet")
    (tmp_path / "t.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    for name in ("t.csv", "t.parquet", "t.jsonl"):
        ds = load_path(tmp_path / name)
        assert ds.source_format == "st_table" and len(ds.query_ids) == 2
        q = ds.query_ids[ds.query_texts.index("q a")]
        assert sorted(ds.doc_texts[ds.doc_index[d]] for d in ds.positives_for(q)) == ["p a", "p a2"]
        assert len(ds.negatives[q]) == 2
    (tmp_path / "f.jsonl").write_text(json.dumps({"query": "q", "pos": ["p"], "neg": ["n1", "n2"]}) + "\n")
    ds = load_path(tmp_path / "f.jsonl")
    assert ds.source_format == "flag_jsonl" and len(ds.negatives["q0"]) == 2
    m = tmp_path / "marco"
    m.mkdir()
    (m / "collection.tsv").write_text("1\tfirst passage\n2\tsecond passage\n")
    (m / "queries.tsv").write_text("7\ta question\n")
    (m / "qrels.train.tsv").write_text("7 0 2 1\n")
    ds = load_path(m)
    assert ds.source_format == "msmarco" and ds.positives_for("7") == ["2"]
    (tmp_path / "triples.tsv").write_text("q\tp\tn\nq\tp\n")
    with pytest.raises(DatasetFormatError, match=r"triples.tsv, line 2"):
        load_path(tmp_path / "triples.tsv")


def test_bad_table_rows_and_uploads_are_clear_errors(tmp_path, data_dir):
    (tmp_path / "bad.jsonl").write_text(json.dumps({"anchor": "a", "positive": ""}) + "\n")
    with pytest.raises(DatasetFormatError, match=r"bad.jsonl, line 1: empty or missing \"positive\""):
        load_path(tmp_path / "bad.jsonl")
    (tmp_path / "f.jsonl").write_text(json.dumps({"query": "q", "pos": "p"}) + "\n")
    with pytest.raises(DatasetFormatError, match=r"f.jsonl, line 1: \"pos\" must be a non-empty list"):
        load_path(tmp_path / "f.jsonl")
    folder = write_beir(tmp_path / "up")
    files = [(p.name, p.read_bytes()) for p in [folder / "corpus.jsonl", folder / "queries.jsonl",
                                               folder / "qrels" / "test.tsv"]]
    assert len(load_upload(files).doc_ids) == 12
    with pytest.raises(DatasetFormatError, match="no files"):
        load_upload([])


def tiny_workspace_arrays(ds: RetrievalDataset, seed: int = 0):
    rng = np.random.default_rng(seed)
    doc = rng.normal(size=(len(ds.doc_ids), 8)).astype(np.float32)
    doc /= np.linalg.norm(doc, axis=1, keepdims=True)
    pos = ds.positive_indices()
    q = np.stack([doc[p].mean(0) + 0.3 * rng.normal(size=8) if len(p) else rng.normal(size=8) for p in pos])
    q = (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)
    return q, doc, pos


@pytest.mark.parametrize("fmt", list(export.EXPORT_FORMATS))
def test_corrected_export_round_trips_through_the_loader(tmp_path, fmt):
    ds = load_path(write_beir(tmp_path / "b"))
    q, doc, pos = tiny_workspace_arrays(ds)
    from core.retrieval.mining.base import MiningInputs

    mined = DenseTopK(3).mine(MiningInputs(ds.query_ids, ds.doc_ids, q, doc, pos))
    fn = mined.iloc[0]
    resolved = annotation.resolve([{"query_id": fn.query_id, "doc_id": fn.doc_id, "label": "false_negative",
                                    "annotator": "ann"}])
    corrected = export.correct(ds, mined, resolved)
    assert fn.doc_id in corrected.positives[fn.query_id] and fn.doc_id not in corrected.negatives[fn.query_id]
    assert corrected.new_qrels == [(fn.query_id, fn.doc_id, 1)] and corrected.removed == 1
    name, data = export.export(ds, corrected, fmt)
    target = tmp_path / "out" / name
    target.parent.mkdir()
    target.write_bytes(data)
    if name.endswith(".zip"):
        import zipfile

        zipfile.ZipFile(target).extractall(tmp_path / "out")
        target = tmp_path / "out" / name[:-4]
    back = load_path(target)
    text = dict(zip(ds.doc_ids, ds.embedding_texts(), strict=True))
    qtext = dict(zip(ds.query_ids, ds.query_texts, strict=True))
    back_text = dict(zip(back.doc_ids, back.doc_texts, strict=True))
    got = {back.query_texts[back.query_index[k]]: sorted(back_text[d] if fmt.startswith(("st", "flag")) else text[d]
                                                         for d in back.positives_for(k)) for k in back.query_ids}
    want = {qtext[k]: sorted(text[d] for d in v) for k, v in corrected.positives.items() if v}
    if fmt.startswith("st_"):  # triplets exist only for queries with negatives
        want = {k: v for k, v in want.items() if k in got}
    assert got == want
    if fmt in ("beir", "st_jsonl", "flag_jsonl"):
        qid = back.query_ids[back.query_texts.index(qtext[fn.query_id])]
        negs = [back_text[d] if fmt != "beir" else text[d] for d in back.negatives.get(qid, [])]
        assert text[fn.doc_id] not in negs and len(negs) == len(corrected.negatives[fn.query_id])


def test_false_negative_signals_explain_each_flag():
    ds = RetrievalDataset("t", ["p", "dup", "far", "near"], ["pos text", "pos text", "far", "near"], ["q"], ["query"],
                          {"q": {"p": 1}})
    doc = np.array([[1, 0, 0], [1, 0, 0], [0, 0, 1], [0.9, 0.43, 0]], dtype=np.float32)
    doc /= np.linalg.norm(doc, axis=1, keepdims=True)
    q = np.array([[0.95, 0.3, 0.0]], dtype=np.float32)
    q /= np.linalg.norm(q)
    mined = pd.DataFrame({"query_id": ["q"] * 3, "doc_id": ["dup", "far", "near"], "rank": [1, 2, 3],
                          "score": [0, 0, 0], "strategy": ["dense_top"] * 3})
    scored = score_pairs(mined, ds.query_ids, ds.doc_ids, q, doc, ds.positive_indices(), ds.doc_texts)
    by = scored.set_index("doc_id")
    assert by.loc["dup", "near_duplicate"] and "positive" in by.loc["dup", "reasons"]
    assert by.loc["near", "above_positive"] and "≥ positive" in by.loc["near", "reasons"]
    assert by.loc["far", "reasons"] == "no signal fired" and not by.loc["far", "flagged"]
    assert by.loc["dup", "likelihood"] > by.loc["far", "likelihood"]
    assert scored["likelihood"].is_monotonic_decreasing


def test_queue_resolution_and_kappa():
    scored = pd.DataFrame({"query_id": ["q", "q", "q"], "doc_id": ["a", "b", "c"], "likelihood": [0.2, 0.9, 0.5]})
    labels = [{"query_id": "q", "doc_id": "b", "label": "false_negative", "annotator": "ann"}]
    assert annotation.queue(scored, labels, "ann")["doc_id"].tolist() == ["c", "a"]
    assert annotation.queue(scored, labels, "bob")["doc_id"].tolist() == ["b", "c", "a"]
    two = [{"query_id": "q", "doc_id": d, "label": la, "annotator": who} for who, seq in
           (("ann", ["false_negative", "true_negative", "true_negative", "false_negative"]),
            ("bob", ["false_negative", "true_negative", "false_negative", "false_negative"]))
           for d, la in zip("abcd", seq, strict=True)]
    k = annotation.agreement(two)
    assert k.loc[0, "shared_pairs"] == 4 and k.loc[0, "raw_agreement"] == 0.75
    assert k.loc[0, "cohen_kappa"] == pytest.approx(0.5)
    assert annotation.cohen_kappa(["x", "y"], ["x", "y"]) == 1.0
    res = annotation.resolve(two).set_index("doc_id")
    assert res.loc["a", "label"] == "false_negative" and res.loc["c", "label"] == "unsure"


def test_relabelling_raises_recall_when_a_false_negative_is_retrieved():
    run = {"q": {"a": 3.0, "b": 2.0, "c": 1.0}}
    qrels = {"q": {"c": 1}}
    resolved = pd.DataFrame([{"query_id": "q", "doc_id": "a", "label": "false_negative"},
                             {"query_id": "q", "doc_id": "b", "label": "true_negative"}])
    after = metrics.relabelled_qrels(qrels, resolved)
    table = metrics.evaluate(run, {"before": qrels, "after": after}).set_index("qrels")
    assert table.loc["after", "nDCG@10"] > table.loc["before", "nDCG@10"]
    assert table.loc["before", "Judged@10"] == pytest.approx(1 / 3) and table.loc["after", "Judged@10"] == 1.0


@pytest.mark.slow
def test_embeddings_are_cached_by_model_and_texts(data_dir, monkeypatch):
    from core.retrieval import embed

    texts = ["a cat", "a river bank", "money"]
    first = embed.embed_texts(texts)
    assert first.shape == (3, 384) and np.allclose(np.linalg.norm(first, axis=1), 1, atol=1e-4)
    monkeypatch.setattr(embed, "load_embedder", lambda *a, **k: (_ for _ in ()).throw(AssertionError("model work")))
    np.testing.assert_array_equal(embed.embed_texts(texts), first)
    with pytest.raises(AssertionError, match="model work"):
        embed.embed_texts(texts + ["new"])

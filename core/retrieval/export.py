"""Corrected training data in the loader formats: false negatives removed from the negatives and, optionally,
added as positives; new qrels lines; the label table as CSV. Every export loads back with loaders.py."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import dataclass

import pandas as pd

from core.retrieval.dataset import RetrievalDataset

EXPORT_FORMATS = {"beir": "BEIR folder (zip)", "st_jsonl": "sentence-transformers triplets (.jsonl)",
                  "st_csv": "sentence-transformers triplets (.csv)",
                  "st_parquet": "sentence-transformers triplets (.parquet)",
                  "flag_jsonl": "FlagEmbedding JSONL", "msmarco": "MS MARCO folder (zip)"}


@dataclass(frozen=True)
class ExportOptions:
    add_false_negatives_as_positives: bool = True
    drop_unsure: bool = False  # also remove negatives an annotator marked "unsure"
    drop_flagged_unlabelled: bool = False  # also remove unlabelled negatives flagged by the likelihood


@dataclass
class Corrected:
    positives: dict[str, list[str]]
    negatives: dict[str, list[str]]
    new_qrels: list[tuple[str, str, int]]
    removed: int


def correct(ds: RetrievalDataset, mined: pd.DataFrame, resolved: pd.DataFrame,
            options: ExportOptions = ExportOptions(), flagged: set[tuple[str, str]] | None = None) -> Corrected:
    label = {(r.query_id, r.doc_id): r.label for r in resolved.itertuples()} if not resolved.empty else {}
    negs: dict[str, list[str]] = {q: list(v) for q, v in ds.negatives.items()}
    for q, d in zip(mined["query_id"], mined["doc_id"], strict=True):
        lst = negs.setdefault(q, [])
        if d not in lst:
            lst.append(d)
    positives = {q: ds.positives_for(q) for q in ds.query_ids}
    new_qrels, removed = [], 0
    for q, lst in negs.items():
        keep = []
        for d in lst:
            lab = label.get((q, d))
            drop = lab == "false_negative" or (lab == "unsure" and options.drop_unsure) or (
                lab is None and options.drop_flagged_unlabelled and flagged is not None and (q, d) in flagged)
            if lab == "false_negative" and options.add_false_negatives_as_positives and d not in positives[q]:
                positives[q].append(d)
                new_qrels.append((q, d, 1))
            if drop:
                removed += 1
            else:
                keep.append(d)
        negs[q] = keep
    return Corrected(positives, negs, new_qrels, removed)


def _doc_text(ds: RetrievalDataset, d: str) -> str:
    i = ds.doc_index[d]
    return ds.embedding_texts()[i] if ds.doc_titles[i] else ds.doc_texts[i]


def _triplets(ds: RetrievalDataset, c: Corrected) -> pd.DataFrame:
    rows = []
    for q, text in zip(ds.query_ids, ds.query_texts, strict=True):
        for p in c.positives.get(q, []):
            for n in c.negatives.get(q, []):
                rows.append({"anchor": text, "positive": _doc_text(ds, p), "negative": _doc_text(ds, n)})
    return pd.DataFrame(rows, columns=["anchor", "positive", "negative"])


def _zip(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            z.writestr(name, text)
    return buf.getvalue()


def _tsv_safe(text: str) -> str:
    return " ".join(text.replace("\t", " ").splitlines())


def qrels_tsv(rows: list[tuple[str, str, int]]) -> str:
    return "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t{s}\n" for q, d, s in rows)


def export(ds: RetrievalDataset, c: Corrected, fmt: str) -> tuple[str, bytes]:
    """(file name, bytes) of the corrected data in one of EXPORT_FORMATS."""
    stem = f"{ds.name}-corrected"
    if fmt == "beir":
        corpus = "".join(json.dumps({"_id": d, "title": t, "text": x}) + "\n"
                         for d, t, x in zip(ds.doc_ids, ds.doc_titles, ds.doc_texts, strict=True))
        queries = "".join(json.dumps({"_id": q, "text": t}) + "\n"
                          for q, t in zip(ds.query_ids, ds.query_texts, strict=True))
        train = [(q, d, ds.qrels.get(q, {}).get(d, 1)) for q in ds.query_ids for d in c.positives.get(q, [])]
        files = {f"{stem}/corpus.jsonl": corpus, f"{stem}/queries.jsonl": queries,
                 f"{stem}/qrels/train.tsv": qrels_tsv(train),
                 f"{stem}/negatives.jsonl": "".join(json.dumps({"query_id": q, "neg": v}) + "\n"
                                                    for q, v in c.negatives.items() if v)}
        for split, qrels in ds.extra_qrels.items():
            if split != "train":
                files[f"{stem}/qrels/{split}.tsv"] = qrels_tsv([(q, d, s) for q, v in qrels.items()
                                                                for d, s in v.items()])
        return f"{stem}.zip", _zip(files)
    if fmt.startswith("st_"):
        frame = _triplets(ds, c)
        if fmt == "st_jsonl":
            return f"{stem}.jsonl", frame.to_json(orient="records", lines=True, force_ascii=False).encode()
        if fmt == "st_csv":
            return f"{stem}.csv", frame.to_csv(index=False).encode()
        if fmt == "st_parquet":
            buf = io.BytesIO()
            frame.to_parquet(buf, index=False)
            return f"{stem}.parquet", buf.getvalue()
    if fmt == "flag_jsonl":
        lines = []
        for q, text in zip(ds.query_ids, ds.query_texts, strict=True):
            pos = [_doc_text(ds, d) for d in c.positives.get(q, [])]
            if pos:
                lines.append(json.dumps({"query": text, "pos": pos,
                                         "neg": [_doc_text(ds, d) for d in c.negatives.get(q, [])]},
                                        ensure_ascii=False))
        return f"{stem}.jsonl", ("\n".join(lines) + "\n").encode()
    if fmt == "msmarco":
        collection = "".join(f"{d}\t{_tsv_safe(_doc_text(ds, d))}\n" for d in ds.doc_ids)
        queries = "".join(f"{q}\t{_tsv_safe(t)}\n" for q, t in zip(ds.query_ids, ds.query_texts, strict=True))
        qrels = "".join(f"{q}\t0\t{d}\t1\n" for q in ds.query_ids for d in c.positives.get(q, []))
        triples = "".join(f"{_tsv_safe(r.anchor)}\t{_tsv_safe(r.positive)}\t{_tsv_safe(r.negative)}\n"
                          for r in _triplets(ds, c).itertuples())
        # the folder (collection/queries/qrels) loads as one dataset; triples.train.tsv loads on its own
        return f"{stem}.zip", _zip({f"{stem}/collection.tsv": collection, f"{stem}/queries.tsv": queries,
                                    f"{stem}/qrels.train.tsv": qrels, f"{stem}/triples.train.tsv": triples})
    raise ValueError(f"unknown export format {fmt!r}; known: {', '.join(EXPORT_FORMATS)}")


def labels_csv(labels: list[dict]) -> str:
    buf = io.StringIO()
    cols = ["id", "dataset", "query_id", "doc_id", "label", "annotator", "note", "created_at"]
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore")
    w.writeheader()
    w.writerows(labels)
    return buf.getvalue()

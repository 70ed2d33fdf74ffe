"""Load retrieval data: BEIR folders, sentence-transformers tables, FlagEmbedding JSONL, MS MARCO tsv.

Every loader builds into locals and returns a finished RetrievalDataset, or raises DatasetFormatError naming
the file, the line and the problem: nothing half-loaded ever escapes.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

from core.cache import content_hash
from core.paths import subdir
from core.retrieval.dataset import RetrievalDataset

FORMATS = ("beir", "st_table", "flag_jsonl", "msmarco")
TABLE_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")
csv.field_size_limit(2**31 - 1)


class DatasetFormatError(ValueError):
    """A file could not be read as retrieval data; the message names the file, the line and the problem."""

    def __init__(self, path: Path | str, line: int | None, problem: str):
        self.path, self.line, self.problem = str(path), line, problem
        where = f"{Path(path).name}" + (f", line {line}" if line else "")
        super().__init__(f"{where}: {problem}")


def _jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise DatasetFormatError(path, None, f"cannot open ({exc.strerror})") from None
    with handle:
        try:
            for n, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except (ValueError, RecursionError) as exc:  # also too-deep nesting, 5000-digit numbers
                    raise DatasetFormatError(path, n, f"not valid JSON ({getattr(exc, 'msg', exc)})") from None
                if not isinstance(obj, dict):
                    raise DatasetFormatError(path, n, f"expected a JSON object, got {type(obj).__name__}")
                yield n, obj
        except UnicodeDecodeError:
            raise DatasetFormatError(path, None, "not UTF-8 text") from None


def _tsv(path: Path) -> Iterator[tuple[int, list[str]]]:
    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise DatasetFormatError(path, None, f"cannot open ({exc.strerror})") from None
    with handle:
        try:
            for n, line in enumerate(handle, 1):
                line = line.rstrip("\r\n")
                if line.strip():
                    yield n, line.split("\t")
        except UnicodeDecodeError:
            raise DatasetFormatError(path, None, "not UTF-8 text") from None


def _text(obj: dict, key: str, path: Path, line: int, *, required: bool = True) -> str:
    value = obj.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, (str, int)):
        raise DatasetFormatError(path, line, f'field "{key}" must be text, got {type(value).__name__}')
    value = str(value)
    if required and not value.strip():
        raise DatasetFormatError(path, line, f'missing or empty field "{key}"')
    return value


# ---- BEIR -------------------------------------------------------------------------------------------------

def load_beir(folder: Path | str, split: str | None = None, name: str | None = None) -> RetrievalDataset:
    """corpus.jsonl {"_id","title","text"}, queries.jsonl {"_id","text"}, qrels/<split>.tsv (header optional)."""
    folder = Path(folder)
    corpus_path, queries_path = folder / "corpus.jsonl", folder / "queries.jsonl"
    for p in (corpus_path, queries_path):
        if not p.exists():
            raise DatasetFormatError(p, None, "file not found (a BEIR folder needs corpus.jsonl, queries.jsonl "
                                              "and qrels/<split>.tsv)")
    splits = sorted((folder / "qrels").glob("*.tsv")) if (folder / "qrels").is_dir() else []
    if not splits:
        raise DatasetFormatError(folder / "qrels", None, "no qrels/<split>.tsv file found")
    names = [p.stem for p in splits]
    if split is None:
        split = next((s for s in ("train", "dev", "test") if s in names), names[0])
    if split not in names:
        raise DatasetFormatError(folder / "qrels" / f"{split}.tsv", None,
                                 f"split not found; available: {', '.join(names)}")

    doc_ids, titles, texts, seen = [], [], [], set()
    for n, obj in _jsonl(corpus_path):
        did = _text(obj, "_id", corpus_path, n)
        if did in seen:
            raise DatasetFormatError(corpus_path, n, f"duplicate document id {did!r}")
        title, text = _text(obj, "title", corpus_path, n, required=False), _text(obj, "text", corpus_path, n,
                                                                                required=False)
        if not (title.strip() or text.strip()):
            raise DatasetFormatError(corpus_path, n, f"document {did!r} has neither title nor text")
        seen.add(did)
        doc_ids.append(did)
        titles.append(title)
        texts.append(text)
    if not doc_ids:
        raise DatasetFormatError(corpus_path, None, "no documents")
    q_ids, q_texts, q_seen = [], [], set()
    for n, obj in _jsonl(queries_path):
        qid = _text(obj, "_id", queries_path, n)
        if qid in q_seen:
            raise DatasetFormatError(queries_path, n, f"duplicate query id {qid!r}")
        q_seen.add(qid)
        q_ids.append(qid)
        q_texts.append(_text(obj, "text", queries_path, n))
    all_qrels = {p.stem: _read_qrels(p, seen, q_seen) for p in splits}
    qrels = all_qrels.pop(split)
    negatives: dict[str, list[str]] = {}
    neg_path = folder / "negatives.jsonl"  # our extension: {"query_id", "neg": [doc ids]} (exported negatives)
    if neg_path.exists():
        for n, obj in _jsonl(neg_path):
            qid = _text(obj, "query_id", neg_path, n)
            neg = obj.get("neg")
            if qid not in q_seen:
                raise DatasetFormatError(neg_path, n, f"query id {qid!r} is not in the queries file")
            if not isinstance(neg, list) or any(not isinstance(d, str) or d not in seen for d in neg):
                raise DatasetFormatError(neg_path, n, '"neg" must be a list of document ids from the corpus')
            negatives[qid] = list(neg)
    return RetrievalDataset(name=name or folder.name, doc_ids=doc_ids, doc_texts=texts, doc_titles=titles,
                            query_ids=q_ids, query_texts=q_texts, qrels=qrels, extra_qrels=all_qrels,
                            negatives=negatives, source_format="beir")


def _read_qrels(path: Path, doc_ids: set[str], query_ids: set[str]) -> dict[str, dict[str, int]]:
    """BEIR "query-id<TAB>corpus-id<TAB>score" (header optional) or TREC "qid 0 docid rel" (tabs or spaces)."""
    qrels: dict[str, dict[str, int]] = {}
    for n, parts in _tsv(path):
        if len(parts) == 1:
            parts = parts[0].split()
        if n == 1 and parts[0].strip().lower() in {"query-id", "query_id", "qid"}:
            continue
        if len(parts) == 3:
            qid, did, rel = parts
        elif len(parts) == 4:
            qid, _, did, rel = parts
        else:
            raise DatasetFormatError(path, n, f"expected 3 (query, doc, score) or 4 (TREC) columns, got {len(parts)}")
        qid, did = qid.strip(), did.strip()
        try:
            score = int(float(rel))
        except ValueError:
            raise DatasetFormatError(path, n, f"relevance {rel!r} is not a number") from None
        if qid not in query_ids:
            raise DatasetFormatError(path, n, f"query id {qid!r} is not in the queries file")
        if did not in doc_ids:
            raise DatasetFormatError(path, n, f"document id {did!r} is not in the corpus")
        qrels.setdefault(qid, {})[did] = score
    return qrels


# ---- pairs/triplets formats (sentence-transformers tables, FlagEmbedding) ---------------------------------------

class _PairBuilder:
    """Turns (query text, positives, negatives) rows into ids: texts are de-duplicated exactly."""

    def __init__(self) -> None:
        self.doc_ids: dict[str, str] = {}
        self.query_ids: dict[str, str] = {}
        self.qrels: dict[str, dict[str, int]] = {}
        self.negatives: dict[str, list[str]] = {}

    def doc(self, text: str) -> str:
        if text not in self.doc_ids:
            self.doc_ids[text] = f"d{len(self.doc_ids)}"
        return self.doc_ids[text]

    def add(self, query: str, positives: list[str], negatives: list[str]) -> None:
        if query not in self.query_ids:
            self.query_ids[query] = f"q{len(self.query_ids)}"
        qid = self.query_ids[query]
        for p in positives:
            self.qrels.setdefault(qid, {})[self.doc(p)] = 1
        negs = self.negatives.setdefault(qid, [])
        for t in negatives:
            d = self.doc(t)
            if d not in negs and d not in self.qrels.get(qid, {}):
                negs.append(d)

    def build(self, name: str, fmt: str, path: Path) -> RetrievalDataset:
        if not self.query_ids:
            raise DatasetFormatError(path, None, "no rows")
        return RetrievalDataset(name=name, doc_ids=list(self.doc_ids.values()), doc_texts=list(self.doc_ids),
                                query_ids=list(self.query_ids.values()), query_texts=list(self.query_ids),
                                qrels=self.qrels, negatives={q: v for q, v in self.negatives.items() if v},
                                source_format=fmt)


def _table_rows(path: Path) -> tuple[list[str], Iterator[tuple[int, dict]]]:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json"):
        rows = list(_jsonl(path))
        if not rows:
            raise DatasetFormatError(path, None, "no rows")
        return list(rows[0][1].keys()), iter(rows)
    if suffix == ".csv":
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise DatasetFormatError(path, None, "not UTF-8 text") from None
        reader = csv.DictReader(text.splitlines())
        if not reader.fieldnames:
            raise DatasetFormatError(path, 1, "no header row")
        columns = list(reader.fieldnames)

        def it() -> Iterator[tuple[int, dict]]:
            for row in reader:
                if None in row:
                    raise DatasetFormatError(path, reader.line_num, "more fields than header columns")
                yield reader.line_num, row
        return columns, it()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except Exception as exc:  # pyarrow raises several types for a broken file
            raise DatasetFormatError(path, None, f"not a readable parquet file ({exc})") from None
        records = table.to_pylist()
        return list(table.column_names), ((i + 1, r) for i, r in enumerate(records))
    raise DatasetFormatError(path, None, f"unsupported table type {suffix!r} (use .jsonl, .csv or .parquet)")


def load_st_table(path: Path | str, name: str | None = None) -> RetrievalDataset:
    """sentence-transformers style: columns anchor, positive, negative | negative_1..n (else: column order)."""
    path = Path(path)
    columns, rows = _table_rows(path)
    lower = [c.lower() for c in columns]
    if "anchor" in lower and "positive" in lower:
        a_col, p_col = columns[lower.index("anchor")], columns[lower.index("positive")]
    elif len(columns) >= 2:
        a_col, p_col = columns[0], columns[1]  # sentence-transformers reads columns by position
    else:
        raise DatasetFormatError(path, 1, f"need at least two columns (anchor, positive), found {columns}")
    n_cols = [c for c in columns if c not in (a_col, p_col)]
    b = _PairBuilder()
    for n, row in rows:
        anchor, positive = row.get(a_col), row.get(p_col)
        if not isinstance(anchor, str) or not anchor.strip():
            raise DatasetFormatError(path, n, f'empty or missing "{a_col}"')
        if not isinstance(positive, str) or not positive.strip():
            raise DatasetFormatError(path, n, f'empty or missing "{p_col}"')
        negs = []
        for c in n_cols:
            v = row.get(c)
            if isinstance(v, str) and v.strip():
                negs.append(v)
            elif v not in (None, "") and not isinstance(v, str):
                raise DatasetFormatError(path, n, f'column "{c}" must be text, got {type(v).__name__}')
        b.add(anchor, [positive], negs)
    return b.build(name or path.stem, "st_table", path)


def load_flag_jsonl(path: Path | str, name: str | None = None) -> RetrievalDataset:
    """FlagEmbedding fine-tuning data: one {"query": str, "pos": [str], "neg": [str]} per line."""
    path = Path(path)
    b = _PairBuilder()
    for n, obj in _jsonl(path):
        query = _text(obj, "query", path, n)
        pos, neg = obj.get("pos"), obj.get("neg", [])
        if not isinstance(pos, list) or not pos:
            raise DatasetFormatError(path, n, '"pos" must be a non-empty list of texts')
        if not isinstance(neg, list):
            raise DatasetFormatError(path, n, '"neg" must be a list of texts')
        for field_name, values in (("pos", pos), ("neg", neg)):
            if any(not isinstance(v, str) or not v.strip() for v in values):
                raise DatasetFormatError(path, n, f'"{field_name}" contains an empty or non-text item')
        b.add(query, pos, neg)
    return b.build(name or path.stem, "flag_jsonl", path)


# ---- MS MARCO -----------------------------------------------------------------------------------------------

def _id_text_tsv(path: Path) -> tuple[list[str], list[str]]:
    ids, texts, seen = [], [], set()
    for n, parts in _tsv(path):
        if len(parts) < 2:
            raise DatasetFormatError(path, n, "expected two tab-separated columns (id, text)")
        i, t = parts[0].strip(), "\t".join(parts[1:])
        if not i:
            raise DatasetFormatError(path, n, "empty id")
        if i in seen:
            raise DatasetFormatError(path, n, f"duplicate id {i!r}")
        seen.add(i)
        ids.append(i)
        texts.append(t)
    if not ids:
        raise DatasetFormatError(path, None, "no rows")
    return ids, texts


def load_msmarco(path: Path | str, name: str | None = None) -> RetrievalDataset:
    """A folder with collection.tsv (pid, text), queries*.tsv (qid, text), qrels*.tsv ("qid 0 pid 1"),
    or one triples file (query, positive, negative per line)."""
    path = Path(path)
    if path.is_file():
        b = _PairBuilder()
        for n, parts in _tsv(path):
            if len(parts) != 3 or not all(p.strip() for p in parts):
                raise DatasetFormatError(path, n, "a triples file needs 3 non-empty tab-separated columns "
                                                  "(query, positive, negative)")
            b.add(parts[0], [parts[1]], [parts[2]])
        return b.build(name or path.stem, "msmarco", path)
    collection = path / "collection.tsv"
    queries = sorted(path.glob("queries*.tsv"))
    qrels_files = sorted(path.glob("qrels*.tsv"))
    if not collection.exists():
        raise DatasetFormatError(collection, None, "file not found (an MS MARCO folder needs collection.tsv, "
                                                   "queries*.tsv and qrels*.tsv)")
    if not queries:
        raise DatasetFormatError(path / "queries.tsv", None, "file not found")
    if not qrels_files:
        raise DatasetFormatError(path / "qrels.tsv", None, "file not found")
    doc_ids, doc_texts = _id_text_tsv(collection)
    q_ids, q_texts = _id_text_tsv(queries[0])
    qrels = _read_qrels(qrels_files[0], set(doc_ids), set(q_ids))
    extra = {p.stem: _read_qrels(p, set(doc_ids), set(q_ids)) for p in qrels_files[1:]}
    return RetrievalDataset(name=name or path.name, doc_ids=doc_ids, doc_texts=doc_texts, query_ids=q_ids,
                            query_texts=q_texts, qrels=qrels, extra_qrels=extra, source_format="msmarco")


# ---- detection and uploads ------------------------------------------------------------------------------------

def detect_format(path: Path | str) -> str:
    path = Path(path)
    if not path.exists():
        raise DatasetFormatError(path, None, "path not found")
    if path.is_dir():
        if (path / "corpus.jsonl").exists():
            return "beir"
        if (path / "collection.tsv").exists():
            return "msmarco"
        raise DatasetFormatError(path, None, "folder is neither BEIR (corpus.jsonl) nor MS MARCO (collection.tsv)")
    suffix = path.suffix.lower()
    if suffix == ".tsv":
        return "msmarco"
    if suffix in (".jsonl", ".json"):
        for _, obj in _jsonl(path):
            return "flag_jsonl" if "query" in obj and "pos" in obj else "st_table"
        raise DatasetFormatError(path, None, "empty file")
    if suffix in (".csv", ".parquet"):
        return "st_table"
    raise DatasetFormatError(path, None, f"unknown file type {suffix!r}")


def load_path(path: Path | str, fmt: str | None = None, split: str | None = None,
              name: str | None = None) -> RetrievalDataset:
    """Load any supported dataset from a local file or folder (format detected unless given)."""
    path = Path(path).expanduser()
    fmt = fmt or detect_format(path)
    if fmt == "beir":
        return load_beir(path, split=split, name=name)
    if fmt == "st_table":
        return load_st_table(path, name=name)
    if fmt == "flag_jsonl":
        return load_flag_jsonl(path, name=name)
    if fmt == "msmarco":
        return load_msmarco(path, name=name)
    raise DatasetFormatError(path, None, f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def load_upload(files: list[tuple[str, bytes]], fmt: str | None = None) -> RetrievalDataset:
    """Uploaded files (name, bytes): one table/JSONL/tsv file, or the files of a BEIR / MS MARCO folder."""
    return load_path(save_upload(files), fmt=fmt)


def save_upload(files: list[tuple[str, bytes]]) -> Path:
    """Write uploads to a content-addressed folder in the data directory (never the source tree); returns the
    path to load (the folder for BEIR / MS MARCO uploads, else the single file).
    A BEIR upload is corpus.jsonl + queries.jsonl + one or more <split>.tsv qrels files."""
    if not files:
        raise DatasetFormatError("upload", None, "no files")
    digest = content_hash([[n, hashlib.sha256(b).hexdigest()] for n, b in files])[:16]
    folder = subdir("uploads", "retrieval", digest)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    names = [_SAFE.sub("_", Path(n).name) or "upload" for n, _ in files]
    beir = "corpus.jsonl" in names
    for n, (_, data) in zip(names, files, strict=False):
        target = folder / ("qrels" if beir and n.endswith(".tsv") else "") / n
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    if beir or "collection.tsv" in names:
        return folder
    if len(files) > 1:
        raise DatasetFormatError(names[1], None, "upload one table file, or all files of a BEIR/MS MARCO folder")
    return folder / names[0]

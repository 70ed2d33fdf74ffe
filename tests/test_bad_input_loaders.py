"""Property-based bad input for every upload and editor the pages offer: retrieval datasets, refusal prompt
sets, yes/no question sets and the yes/no template editor. Malformed, truncated, oversized, wrongly encoded
and hostile files are either read correctly or refused with the loader's own clear error, never anything else.
"""

from __future__ import annotations

import csv
import io
import json
import os

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

cell = st.one_of(st.text(max_size=30), st.integers(), st.none(), st.booleans(), st.floats(allow_nan=True),
                 st.lists(st.integers(), max_size=2), st.sampled_from(["yes", "no", "true", "0", "", " ", "\x00",
                                                                        "\ud800", "a" * 5000, "=cmd|' /C calc'!A0"]))


def _row_dicts(keys):
    return st.lists(st.dictionaries(st.sampled_from(keys) | st.text(max_size=8), cell, max_size=5), max_size=6)


def _as_jsonl(rows) -> bytes:
    return "\n".join(json.dumps(r) for r in rows).encode("utf-8", "surrogatepass")


def _as_csv(rows) -> bytes:
    keys = sorted({k for r in rows for k in r})
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys)
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode("utf-8", "surrogatepass")


@st.composite
def hostile_file(draw, keys):
    """Something shaped like the expected file, then damaged in one of the ways real uploads are damaged."""
    rows = draw(_row_dicts(keys))
    data = draw(st.sampled_from([_as_jsonl, _as_csv]))(rows)
    damage = draw(st.sampled_from(["none", "truncate", "utf16", "latin1", "bom", "nul", "deep", "bigint",
                                   "longfield", "random", "crlf", "empty"]))
    if damage == "truncate" and data:
        data = data[:draw(st.integers(0, len(data)))]
    elif damage == "utf16":
        data = data.decode("utf-8", "replace").encode("utf-16")
    elif damage == "latin1":
        data = data + "\ncafé,naïve".encode("latin-1")
    elif damage == "bom":
        data = b"\xef\xbb\xbf" + data
    elif damage == "nul":
        data = data.replace(b",", b"\x00", 1) + b"\x00"
    elif damage == "deep":
        data = data + b"\n" + b"[" * 50_000 + b"]" * 50_000
    elif damage == "bigint":
        data = data + b'\n{"prompt": "x", "question": "q", "answer": ' + b"9" * 5000 + b"}"
    elif damage == "longfield":
        data = data + b'\n"' + b"x" * 300_000 + b'",y'
    elif damage == "random":
        data = draw(st.binary(max_size=500))
    elif damage == "crlf":
        data = data.replace(b"\n", b"\r\n") + b"\r"
    elif damage == "empty":
        data = b""
    return data


names = st.sampled_from(["p.csv", "p.jsonl", "p.json", "p.tsv", "p.txt", "p.parquet", "p.exe", "", "../../p.csv",
                         "dir/p.jsonl", "p.CSV", ".jsonl", "p.pkl"])


# ---- refusals: prompt set upload ------------------------------------------------------------------------

@SETTINGS
@given(data=hostile_file(["prompt", "category", "Prompt", " prompt "]), filename=names)
@example(data=b'"' + b"x" * 300_000 + b'"\n', filename="p.csv")
@example(data=b"[" * 50_000, filename="p.jsonl")
@example(data=b'{"prompt": 1' + b"0" * 5000 + b"}", filename="p.jsonl")
def test_refusal_prompt_upload(data, filename):
    prompts_mod = pytest.importorskip("core.refusals.prompts")
    try:
        out = prompts_mod.parse_upload(data, filename)
    except prompts_mod.PromptSetError as exc:
        assert str(exc)
        return
    assert 0 < len(out) <= prompts_mod.MAX_UPLOAD_PROMPTS
    assert all(p.prompt.strip() and len(p.prompt) <= prompts_mod.MAX_PROMPT_CHARS for p in out)


# ---- yes/no bias: question set upload and template editor ---------------------------------------------------

@SETTINGS
@given(data=hostile_file(["question", "answer", "context", "id", "relation"]), filename=names)
@example(data=b'"' + b"x" * 300_000 + b'"\n', filename="q.csv")
@example(data=b"[" * 50_000, filename="q.jsonl")
@example(data=b'{"question": "q", "answer": ' + b"9" * 5000 + b"}", filename="q.jsonl")
def test_yes_no_question_upload(data, filename):
    questions = pytest.importorskip("core.llm.questions")
    try:
        out = questions.parse_upload(data, filename)
    except questions.QuestionSetError as exc:
        assert str(exc)
        return
    assert out and all(q.question.strip() for q in out)


template_text = st.one_of(
    st.text(max_size=200),
    st.builds(lambda a, b, spec: f"{a}{{question{spec}}}{b}", st.text(max_size=20), st.text(max_size=20),
              st.sampled_from(["", "!r", "!s", "!a", ":d", ":>10", ":>999999999", ":.3f", "[0]", ".__class__",
                               "!x", ":{claim}", "}"])),
    st.sampled_from(["{question}", "{question} {{literal}}", "{claim}?", "{", "}", "{question", "{}", "{0}",
                     "{question.__init__.__globals__}", "{context} {negated_question}", "x" * 5000]),
)


@SETTINGS
@given(name=st.text(max_size=30), template=template_text, option_set=st.sampled_from(["yes_no", "nope", ""]))
@example(name="mine", template="Q: {question:>999999999}", option_set="yes_no")
@example(name="mine", template="Q: {question:d}", option_set="yes_no")
@example(name="mine", template="Q: {question[0]}", option_set="yes_no")
def test_template_editor(name, template, option_set):
    formats = pytest.importorskip("core.llm.formats")
    questions = pytest.importorskip("core.llm.questions")
    option_set = option_set if option_set != "yes_no" else next(iter(formats.OPTION_SETS))
    try:
        fmt = formats.custom_format(name, template, option_set)
    except formats.FormatError as exc:
        assert str(exc)
        return
    # an accepted template must render for any question, without an exception and without blowing up
    q = questions._from_dict({"id": "q1", "question": "Is a cat an animal?", "answer": "yes"})
    text = fmt.user_text(q)
    assert isinstance(text, str) and len(text) < 100_000
    assert isinstance(fmt.content_free_text("N/A"), str)


# ---- retrieval: dataset upload ------------------------------------------------------------------------------

@pytest.fixture(scope="module", autouse=True)
def _isolated_data_dir(tmp_path_factory):
    old = os.environ.get("NEGSPACE_DATA")
    os.environ["NEGSPACE_DATA"] = str(tmp_path_factory.mktemp("bad_input_data"))
    yield
    if old is None:
        os.environ.pop("NEGSPACE_DATA", None)
    else:
        os.environ["NEGSPACE_DATA"] = old


@SETTINGS
@given(data=hostile_file(["anchor", "positive", "negative", "query", "pos", "neg", "_id", "text", "title"]),
       filename=names)
@example(data=b"anchor,positive\n" + b'"' + b"x" * 300_000 + b'",y\n', filename="t.csv")
@example(data=b'{"query": "q", "pos": ["a"], "neg": [' + b"[" * 50_000 + b"]}", filename="t.jsonl")
@example(data=b"PAR1\x00\x00garbage", filename="t.parquet")
def test_retrieval_single_file_upload(data, filename):
    loaders = pytest.importorskip("core.retrieval.loaders")
    try:
        ds = loaders.load_upload([(filename, data)])
    except loaders.DatasetFormatError as exc:
        assert str(exc)
        return
    assert len(ds.doc_ids) == len(ds.doc_texts) > 0 and len(ds.query_ids) == len(ds.query_texts) > 0


@SETTINGS
@given(corpus=hostile_file(["_id", "title", "text"]), queries=hostile_file(["_id", "text"]),
       qrels=st.one_of(st.just(b"query-id\tcorpus-id\tscore\nq1\td1\t1\n"), st.binary(max_size=200),
                       st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass"))))
@example(corpus=b'{"_id": "d1", "text": "a"}\n', queries=b'{"_id": "q1", "text": "b"}\n',
         qrels=b"query-id\tcorpus-id\tscore\nq1\td1\t1\n")
def test_retrieval_beir_folder_upload(corpus, queries, qrels):
    loaders = pytest.importorskip("core.retrieval.loaders")
    files = [("corpus.jsonl", corpus), ("queries.jsonl", queries), ("test.tsv", qrels)]
    try:
        ds = loaders.load_upload(files)
    except loaders.DatasetFormatError as exc:
        assert str(exc)
        return
    assert set(ds.qrels) <= set(ds.query_ids)
    assert all(d in set(ds.doc_ids) for rel in ds.qrels.values() for d in rel)

"""Property-based bad input for the shared core checks: uploads, JSON (also from a URL), numbers, paths, model
ids and every Store write. Each input is either accepted correctly or refused with the module's own clear
error type; nothing else escapes, and a refused write leaves the database unchanged."""

from __future__ import annotations

import http.server
import json
import math
import pickle
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core.assets import AssetMissingError
from core.model_source import ModelSourceError, parse_model_source
from core.safety import (
    InputError,
    check_model_folder,
    clean_text_field,
    decode_text,
    fetch_json,
    parse_json,
    parse_number,
    resolve_user_path,
)
from core.store import Store, StoreError

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20)
hostile_text = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(blacklist_categories=()), max_size=50),  # lone surrogates, NUL, controls
    st.sampled_from(["", " ", "\x00", "../../etc/passwd", "~root/.ssh/id_rsa", "C:\\Windows\\system32",
                     "file:///etc/passwd", "org/name" * 200, "\ud800", "a\u202eb", "'; DROP TABLE labels; --",
                     "<script>alert(1)</script>", "{{7*7}}", "%s%s%n", "a" * 100_000]),
)


# ---- uploads ------------------------------------------------------------------------------------------

@FAST
@given(st.binary(max_size=2000))
@example(b"\xff\xfe\x00a\x00b")  # UTF-16
@example(b"\xef\xbb\xbfhello")  # UTF-8 with BOM
@example(b"PK\x03\x04\x00\x00")  # a zip
@example(pickle.dumps({"a": 1}))
def test_decode_text_accepts_utf8_and_refuses_everything_else_clearly(data):
    try:
        text = decode_text(data, name="upload.jsonl")
    except InputError as exc:
        assert "upload.jsonl" in str(exc)
        return
    assert b"\x00" not in data[:8192] and data.strip()
    assert text == data.decode("utf-8-sig")


def test_oversized_upload_is_refused_before_decoding():
    with pytest.raises(InputError, match="the limit is 1.0 KB"):
        decode_text(b"a" * 2000, name="big.csv", max_bytes=1024)


@FAST
@given(hostile_text)
def test_text_fields_are_clean_or_refused(value):
    try:
        out = clean_text_field(value, name="Template", max_chars=5000)
    except InputError as exc:
        assert str(exc).startswith("Template")
        return
    assert out == value and "\x00" not in out and len(out) <= 5000


# ---- JSON ---------------------------------------------------------------------------------------------

@FAST
@given(json_values)
def test_plain_json_roundtrips(value):
    assert parse_json(json.dumps(value)) == value


@FAST
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200)))
@example("[" * 100_000)
@example('{"a":' * 5000 + "1" + "}" * 5000)
@example("1" * 5000)
@example("NaN")
@example('{"x": -Infinity}')
@example('{"__class__": "os.system", "args": ["rm -rf /"]}')
def test_any_text_is_plain_json_or_a_clear_refusal(blob):
    try:
        value = parse_json(blob, name="settings.json")
    except InputError as exc:
        assert "settings.json" in str(exc) or "upload" in str(exc).lower()
        return
    # what comes back is only plain JSON values, never objects of any other class
    stack = [value]
    while stack:
        v = stack.pop()
        assert v is None or isinstance(v, (bool, int, float, str, list, dict))
        assert not isinstance(v, float) or math.isfinite(v)
        stack.extend(v.values() if isinstance(v, dict) else v if isinstance(v, list) else [])


class _Handler(http.server.BaseHTTPRequestHandler):
    bodies: dict[str, bytes] = {}

    def do_GET(self):  # noqa: N802 - http.server's naming
        body = self.bodies.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class _Boom:
    def __reduce__(self):
        return (Path.touch, (Path(tempfile.gettempdir()) / "negspace_unpickled_marker",))


def test_fetch_json_returns_plain_values_and_never_deserialises_anything_else():
    marker = Path(tempfile.gettempdir()) / "negspace_unpickled_marker"
    marker.unlink(missing_ok=True)
    _Handler.bodies = {"/ok": b'{"n": 3, "xs": [1, 2]}', "/pickle": pickle.dumps(_Boom()),
                       "/big": b"[" + b"1," * 400_000 + b"1]", "/html": b"<html>hi</html>"}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert fetch_json(f"{base}/ok") == {"n": 3, "xs": [1, 2]}
        for path, msg in (("/pickle", "response"), ("/html", "not valid JSON"), ("/missing", "Could not fetch")):
            with pytest.raises(InputError, match=msg):
                fetch_json(base + path)
        with pytest.raises(InputError, match="limit"):
            fetch_json(f"{base}/big", max_bytes=100_000)
    finally:
        server.shutdown()
    for url in ("file:///etc/passwd", "ftp://x/y", "javascript:alert(1)", "", "http://"):
        with pytest.raises(InputError):
            fetch_json(url)
    assert not marker.exists(), "a pickle from a URL was deserialised"


# ---- numbers ------------------------------------------------------------------------------------------

@FAST
@given(st.one_of(st.text(max_size=60), st.floats(), st.integers(), st.booleans(), st.none()))
@example("1e309")
@example("nan")
@example("-inf")
@example("0x10")
@example("1_000")
@example("9" * 10_000)
def test_numbers_are_in_range_or_refused(value):
    try:
        n = parse_number(value, name="Top k", lo=1, hi=1000, integer=True)
    except InputError as exc:
        assert str(exc).startswith("Top k")
        return
    assert isinstance(n, int) and 1 <= n <= 1000


# ---- paths and model ids ------------------------------------------------------------------------------

@FAST
@given(hostile_text)
@example("0" * 27 + "\x80" * 300)  # a name longer than the file system allows (ENAMETOOLONG on stat)
def test_typed_paths_resolve_or_are_refused(text):
    try:
        p = resolve_user_path(text, must_exist=False, for_writing=True)
    except InputError:
        return
    assert p.is_absolute() and ".." not in p.parts and not p.is_dir()


def test_writing_into_the_source_tree_is_refused():
    repo = Path(__file__).resolve().parent.parent
    with pytest.raises(InputError, match="source folder"):
        resolve_user_path(str(repo / "tests" / "x.csv"), for_writing=True)
    with pytest.raises(InputError, match="source folder"):
        resolve_user_path(str(repo / "tests" / ".." / "core" / "labels.csv"), for_writing=True)


@FAST
@given(hostile_text)
@example("embedded:nope")
@example("embedded:")
@example("/" + "a" * 300)
@example("~nosuchuser/model")
@example("/\ud800")
@example("./\x00")
def test_model_ids_parse_or_are_refused_clearly(text):
    try:
        src = parse_model_source(text)
    except (ModelSourceError, AssetMissingError) as exc:
        assert str(exc)
        return
    assert src.kind in {"embedded", "local", "hub"}
    if src.kind == "hub":
        assert ".." not in src.value and src.value.count("/") <= 1 and " " not in src.value


def test_a_model_folder_with_only_pickle_weights_is_refused(tmp_path):
    (tmp_path / "pytorch_model.bin").write_bytes(pickle.dumps(_Boom()))
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelSourceError, match="only pickle weights"):
        parse_model_source(str(tmp_path))
    (tmp_path / "model.safetensors").write_bytes(b"\x00")
    check_model_folder(tmp_path)  # safetensors present: the loader will use it (use_safetensors=True)
    assert parse_model_source(str(tmp_path)).kind == "local"


# ---- every Store write ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shared_store(tmp_path_factory):
    s = Store(tmp_path_factory.mktemp("bad_input") / "s.sqlite3")
    yield s
    s.close()


@FAST
@given(dataset=hostile_text, query_id=hostile_text, doc_id=hostile_text, annotator=hostile_text,
       note=hostile_text, label=st.one_of(st.sampled_from(["false_negative", "true_negative", "unsure"]),
                                          hostile_text))
def test_store_label_is_stored_exactly_or_refused_without_a_trace(shared_store, dataset, query_id, doc_id,
                                                                 annotator, note, label):
    before = shared_store.counts()
    try:
        row = shared_store.add_label(dataset, query_id, doc_id, label, annotator, note=note)
    except StoreError as exc:
        assert str(exc)
        assert shared_store.counts() == before  # no partial state
        return
    got = shared_store.query("SELECT * FROM labels WHERE id = ?", (row,))[0]
    assert (got["dataset"], got["query_id"], got["doc_id"], got["annotator"], got["note"], got["label"]) == (
        dataset.strip(), query_id.strip(), doc_id.strip(), annotator.strip(), note.strip(), label)
    assert shared_store.counts()["labels"] == before["labels"] + 1


@FAST
@given(winner=hostile_text, fields=st.lists(hostile_text, min_size=6, max_size=6))
def test_store_vote_is_stored_or_refused(shared_store, winner, fields):
    before = shared_store.counts()
    try:
        shared_store.add_vote(*fields[:5], winner, fields[5])
    except StoreError:
        assert shared_store.counts() == before
        return
    assert shared_store.counts()["votes"] == before["votes"] + 1


@FAST
@given(key=hostile_text, payload=st.one_of(json_values.map(lambda v: {"v": v}),
                                           st.just({"x": object()}), st.just({"x": {1, 2}}),
                                           st.just({"x": b"bytes"})),
       label=hostile_text, annotator=hostile_text)
def test_store_run_items_and_corrections_are_stored_or_refused(shared_store, key, payload, label, annotator):
    rid = shared_store.start_run("badinput", {"k": 1})
    before = shared_store.counts()
    try:
        shared_store.add_run_item(rid, key, payload)
    except StoreError:
        assert shared_store.counts() == before
    else:
        assert shared_store.run_items(rid) == [{"item_key": key.strip(), **payload}]
    before = shared_store.counts()
    try:
        shared_store.add_correction(rid, key, label, annotator)
    except StoreError:
        assert shared_store.counts() == before
    else:
        assert shared_store.corrections(rid)[key.strip()]["label"] == label.strip()
    assert shared_store.integrity_check() == "ok"

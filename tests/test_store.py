"""The storage layer: migrations, one transaction per action, idempotent retries, backup and export."""

from __future__ import annotations

import csv
import io
import json
import multiprocessing as mp
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from core import store as store_mod
from core.store import MIGRATIONS, SCHEMA_VERSION, USER_TABLES, Store, StoreError

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture()
def db(tmp_path) -> Store:
    s = Store(tmp_path / "t.sqlite3")
    yield s
    s.close()


def _label(s: Store, i: int = 0, **kw) -> int:
    args = {"dataset": "d", "query_id": f"q{i}", "doc_id": f"doc{i}", "label": "false_negative",
            "annotator": "ann"}
    args.update(kw)
    return s.add_label(**args)


def test_fresh_store_is_wal_durable_and_at_the_latest_schema(db):
    conn = db._connect()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert db.schema_version() == SCHEMA_VERSION == len(MIGRATIONS)
    tables = {r["name"] for r in db.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert set(USER_TABLES) | {"kv_cache"} <= tables
    assert db.integrity_check() == "ok"


def test_database_file_lives_in_the_data_directory(data_dir):
    s = Store()
    assert s.path.parent == data_dir.resolve()
    assert s.path.exists()


def test_migration_upgrades_an_old_database_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    for stmt in store_mod._statements(MIGRATIONS[0]):
        conn.execute(stmt)
    conn.execute("PRAGMA user_version=1")
    conn.execute("INSERT INTO labels (dataset, query_id, doc_id, label, annotator, created_at, client_token)"
                 " VALUES ('d', 'q', 'x', 'unsure', 'ann', 1.0, 'tok')")
    conn.commit()
    conn.close()
    s = Store(path)
    assert s.schema_version() == SCHEMA_VERSION
    assert [r["client_token"] for r in s.current_labels("d")] == ["tok"]
    indexes = {r["name"] for r in s.query("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"labels_annotator", "votes_experiment"} <= indexes
    # opening again is a no-op
    assert Store(path).schema_version() == SCHEMA_VERSION


def test_a_database_from_a_newer_app_is_refused(tmp_path):
    path = tmp_path / "new.sqlite3"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 5}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this app"):
        Store(path)


def test_a_failing_migration_leaves_the_database_at_its_old_version(tmp_path, monkeypatch):
    path = tmp_path / "m.sqlite3"
    Store(path).close()
    bad = "CREATE TABLE extra (x INTEGER);\nCREATE TABLE labels (oops INTEGER);"  # second statement fails
    monkeypatch.setattr(store_mod, "MIGRATIONS", [*MIGRATIONS, bad])
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", len(MIGRATIONS) + 1)
    with pytest.raises(StoreError):
        Store(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'extra'").fetchone() is None
    conn.close()


def test_statement_splitter_respects_strings_and_triggers():
    parts = store_mod._statements("CREATE TABLE a (x TEXT DEFAULT ';'); CREATE TRIGGER t AFTER INSERT ON a "
                                  "BEGIN UPDATE a SET x = 'y;'; END;\n")
    assert len(parts) == 2 and parts[1].endswith("END;")
    with pytest.raises(StoreError, match="incomplete"):
        store_mod._statements("INSERT INTO a VALUES ('unterminated")


def test_client_token_makes_a_retried_label_idempotent(db):
    a = _label(db, client_token="click-1")
    b = _label(db, client_token="click-1")
    c = _label(db, client_token="click-2")
    assert a == b != c
    assert db.counts()["labels"] == 2


def test_current_labels_is_the_latest_live_label_and_undo_retracts_it(db):
    first = _label(db, 1, label="true_negative")
    second = _label(db, 1, label="false_negative")
    other = _label(db, 2, label="unsure")
    cur = {r["query_id"]: r["label"] for r in db.current_labels("d")}
    assert cur == {"q1": "false_negative", "q2": "unsure"}
    undone = db.undo_last_label("d", "ann")
    assert undone["id"] == other
    assert {r["query_id"] for r in db.current_labels("d")} == {"q1"}
    # a double-clicked undo with the id the page showed retracts nothing more
    assert db.undo_last_label("d", "ann", expected_id=other) is None
    assert db.undo_last_label("d", "ann", expected_id=second)["id"] == second
    assert [r["id"] for r in db.current_labels("d")] == [first]
    assert db.counts()["labels"] == 3  # retracted rows are kept: the history is never deleted
    assert db.undo_last_label("d", "nobody") is None


@pytest.mark.parametrize("kwargs, message", [
    ({"label": "maybe"}, "label must be one of"),
    ({"dataset": "  "}, "dataset must not be empty"),
    ({"doc_id": 5}, "document id must be text"),
    ({"annotator": "x" * 101}, "too long"),
    ({"note": "a\x00b"}, "NUL"),
    ({"query_id": "\ud800"}, "not valid Unicode"),
])
def test_bad_label_values_are_refused_and_nothing_is_written(db, kwargs, message):
    with pytest.raises(StoreError, match=message):
        _label(db, **kwargs)
    assert db.counts()["labels"] == 0


def test_votes_are_validated_and_idempotent(db):
    v = db.add_vote("exp", "img1", "img2", "cfg", "nag", "a", "me", client_token="t")
    assert db.add_vote("exp", "img1", "img2", "cfg", "nag", "a", "me", client_token="t") == v
    with pytest.raises(StoreError, match="winner"):
        db.add_vote("exp", "img1", "img2", "cfg", "nag", "both", "me")
    with pytest.raises(StoreError):
        db.add_vote("exp", "", "img2", "cfg", "nag", "b", "me")
    assert [r["winner"] for r in db.votes("exp")] == ["a"]
    assert db.votes("other") == []


def test_run_lifecycle_and_refusals(db):
    rid = db.start_run("refusals", {"model": "m", "n": 3})
    db.add_run_item(rid, "p1", {"refused": True, "score": 0.5})
    db.add_run_item(rid, "p1", {"refused": False, "score": 0.25})  # replaced, not duplicated
    db.add_run_item(rid, "p2", {"refused": True})
    assert db.runs("refusals") == []  # still running
    db.finish_run(rid, {"rate": 0.5}, artifact_path="/tmp/x")
    (run,) = db.runs("refusals")
    assert run["config"] == {"model": "m", "n": 3} and run["result"] == {"rate": 0.5}
    assert db.run_items(rid) == [{"item_key": "p1", "refused": False, "score": 0.25},
                                 {"item_key": "p2", "refused": True}]
    with pytest.raises(StoreError, match="already exists"):
        db.start_run("refusals", {}, run_id=rid)
    with pytest.raises(StoreError, match="no run"):
        db.add_run_item("missing", "k", {})
    with pytest.raises(StoreError, match="no run"):
        db.finish_run("missing")
    with pytest.raises(StoreError, match="plain JSON"):
        db.add_run_item(rid, "p3", {"x": object()})
    with pytest.raises(StoreError, match="plain JSON"):
        db.start_run("k", {"x": {1, 2}})
    assert len(db.run_items(rid)) == 2 and db.counts()["runs"] == 1


def test_corrections_keep_history_and_return_the_latest(db):
    db.add_correction("r", "i1", "refusal", "ann")
    db.add_correction("r", "i1", "compliance", "ann", note="on second look")
    db.add_correction("r", "i2", "refusal", "ann", client_token="tok")
    db.add_correction("r", "i2", "refusal", "ann", client_token="tok")
    cur = db.corrections("r")
    assert cur["i1"]["label"] == "compliance" and set(cur) == {"i1", "i2"}
    assert db.counts()["corrections"] == 3
    with pytest.raises(StoreError):
        db.add_correction("r", "", "refusal", "ann")


def test_kv_cache_roundtrip_and_unserialisable_values_are_refused(db):
    db.cache_put_many("ns", {"a": [1, 2], "b": {"x": 1.5}})
    assert db.cache_get_many("ns", ["a", "b", "c"]) == {"a": [1, 2], "b": {"x": 1.5}}
    assert db.cache_get("ns", "a") == [1, 2]
    with pytest.raises(StoreError):
        db.cache_put_many("ns", {"c": 1, "d": object()})
    assert db.cache_get("ns", "c") is None  # all or nothing


def test_an_exception_inside_a_transaction_rolls_back_everything(db):
    with pytest.raises(RuntimeError), db.transaction() as conn:
        conn.execute("INSERT INTO votes (experiment, item_a, item_b, method_a, method_b, winner, voter,"
                     " created_at) VALUES ('e', 'a', 'b', 'm', 'n', 'a', 'v', 0)")
        raise RuntimeError("crash half-way")
    assert db.counts()["votes"] == 0
    _label(db)  # the connection is usable afterwards
    assert db.counts()["labels"] == 1


def test_a_locked_database_is_a_clear_store_error_not_a_traceback(tmp_path):
    path = tmp_path / "locked.sqlite3"
    Store(path).close()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        s = Store.__new__(Store)  # skip the migration (which also needs the lock)
        s.path, s.timeout_s, s._local = path, 0.2, threading.local()
        with pytest.raises(StoreError, match="nothing was written"):
            _label(s)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert Store(path).counts()["labels"] == 0


def test_backup_is_consistent_while_another_thread_writes(db, tmp_path):
    stop = threading.Event()

    def writer():
        i = 0
        while not stop.is_set():
            _label(db, i)
            db.add_vote("e", "a", "b", "m", "n", "tie", "v")
            i += 1

    t = threading.Thread(target=writer)
    t.start()
    try:
        while db.counts()["labels"] < 20:
            pass
        out = db.backup(tmp_path / "backups" / "copy.sqlite3")
    finally:
        stop.set()
        t.join()
    assert out.exists() and not Path(str(out) + "-wal").exists()
    copy = sqlite3.connect(out)
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    n_labels = copy.execute("SELECT COUNT(*) FROM labels").fetchone()[0]
    n_votes = copy.execute("SELECT COUNT(*) FROM votes").fetchone()[0]
    copy.close()
    assert n_labels >= 20 and n_votes in (n_labels - 1, n_labels)  # a snapshot between two transactions
    assert Store(out).schema_version() == SCHEMA_VERSION
    assert not list(out.parent.glob(".*partial"))


def test_backup_refuses_to_overwrite_the_live_database(db, tmp_path):
    with pytest.raises(StoreError, match="onto itself"):
        db.backup(db.path)
    with pytest.raises(StoreError, match="onto itself"):
        db.backup(str(db.path) + "-wal")
    with pytest.raises(StoreError, match="folder"):
        db.backup(tmp_path)


def test_export_csv_roundtrips_text_with_commas_quotes_and_newlines(db, tmp_path):
    note = 'has, a comma\nand "quotes"'
    _label(db, note=note)
    rows = list(csv.DictReader(io.StringIO(db.export_csv("labels"))))
    assert rows[0]["note"] == note
    files = db.export_all(tmp_path / "export")
    assert sorted(p.name for p in files) == sorted(f"{t}.csv" for t in USER_TABLES)
    with pytest.raises(StoreError, match="unknown table"):
        db.export_csv("sqlite_master")


def _cli(*args, env_db: Path):
    return subprocess.run([sys.executable, "-m", "core.store", "--db", str(env_db), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def test_command_line_backup_export_and_check(db, tmp_path):
    _label(db, note="from the cli test")
    check = _cli("check", env_db=db.path)
    assert check.returncode == 0, check.stderr
    report = json.loads(check.stdout)
    assert report["integrity_check"] == "ok" and report["counts"]["labels"] == 1
    out = _cli("backup", str(tmp_path / "b.sqlite3"), env_db=db.path)
    assert out.returncode == 0 and Path(out.stdout.strip()).exists()
    exp = _cli("export", "labels", env_db=db.path)
    assert "from the cli test" in exp.stdout
    bad = _cli("export", "nope", env_db=db.path)
    assert bad.returncode == 1 and "unknown table" in bad.stderr and "Traceback" not in bad.stderr
    assert _cli("frobnicate", env_db=db.path).returncode == 2


def _child_writes(s: Store, q) -> None:
    try:
        _label(s, 99, note="from the forked child")
        q.put("ok")
    except Exception as exc:  # pragma: no cover - reported to the parent
        q.put(repr(exc))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")
def test_a_forked_child_opens_its_own_connection(db):
    _label(db, 1)  # the parent has an open connection before the fork
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child_writes, args=(db, q))
    p.start()
    p.join(30)
    assert q.get(timeout=5) == "ok"
    _label(db, 2)
    assert db.counts()["labels"] == 3 and db.integrity_check() == "ok"

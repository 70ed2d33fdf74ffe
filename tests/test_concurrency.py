"""Concurrency: 8 processes (and threads inside one) write labels, votes and undos to one store at once for a
bounded time; afterwards the counts are exact and PRAGMA integrity_check passes."""

from __future__ import annotations

import multiprocessing as mp
import threading
import time

import pytest

from core.store import SCHEMA_VERSION, Store

PROCS = 8
SECONDS = 4.0


def _writer(db: str, wid: int, seconds: float, ready, start, out) -> None:
    acked = {"labels": 0, "votes": 0, "undone": 0, "errors": []}
    try:
        s = Store(db)
        ready.put(wid)
        start.wait()
        deadline = time.monotonic() + seconds
        i = 0
        while time.monotonic() < deadline:
            row = s.add_label("conc", f"q{i}", f"d{wid}", "unsure", f"w{wid}", client_token=f"L{wid}-{i}")
            acked["labels"] += 1
            # a retried click (same token) must not add a row
            assert s.add_label("conc", f"q{i}", f"d{wid}", "unsure", f"w{wid}", client_token=f"L{wid}-{i}") == row
            s.add_vote("conc", f"a{i}", f"b{i}", "cfg", "nag", "ab"[i % 2], f"w{wid}", client_token=f"V{wid}-{i}")
            acked["votes"] += 1
            if i % 5 == 4:
                undone = s.undo_last_label("conc", f"w{wid}", expected_id=row)
                assert undone is not None and undone["id"] == row
                acked["undone"] += 1
            if i % 10 == 0:
                s.current_labels("conc")  # readers run beside the writers
            i += 1
    except Exception as exc:  # reported, so the parent fails with the reason
        acked["errors"].append(repr(exc))
    out.put((wid, acked))


def _run_writers(db, n: int, seconds: float) -> dict[int, dict]:
    ctx = mp.get_context("spawn")  # fresh interpreters: nothing shared but the database file
    ready, start, out = ctx.Queue(), ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(str(db), w, seconds, ready, start, out)) for w in range(n)]
    for p in procs:
        p.start()
    try:
        for _ in procs:
            ready.get(timeout=120)
        start.set()
        results = dict(out.get(timeout=seconds + 120) for _ in procs)
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    return results


@pytest.mark.slow
def test_eight_processes_write_at_once_and_every_count_is_exact(tmp_path):
    db = tmp_path / "conc.sqlite3"
    Store(db).close()
    results = _run_writers(db, PROCS, SECONDS)
    errors = [e for r in results.values() for e in r["errors"]]
    assert not errors, errors
    s = Store(db)
    assert s.integrity_check() == "ok"
    for wid, r in results.items():
        assert r["labels"] > 0, f"writer {wid} never got to write"
        rows = s.query("SELECT COUNT(*) AS n, COUNT(retracted_at) AS r FROM labels WHERE annotator = ?",
                       (f"w{wid}",))[0]
        assert rows["n"] == r["labels"] and rows["r"] == r["undone"], (wid, rows, r)
        assert len(s.query("SELECT id FROM votes WHERE voter = ?", (f"w{wid}",))) == r["votes"]
    total_live = sum(r["labels"] - r["undone"] for r in results.values())
    assert len(s.current_labels("conc")) == total_live
    assert s.counts()["votes"] == sum(r["votes"] for r in results.values())
    tokens = s.query("SELECT COUNT(DISTINCT client_token) AS d, COUNT(*) AS n FROM labels")[0]
    assert tokens["d"] == tokens["n"]


def _open_fresh(db: str, ready, start, out) -> None:
    ready.put(1)
    start.wait()
    try:
        s = Store(db)
        out.put(s.schema_version())
    except Exception as exc:
        out.put(repr(exc))


@pytest.mark.slow
def test_eight_processes_creating_the_same_new_database_at_once(tmp_path):
    """First start with several tabs/processes: WAL switch and migrations race, and all must succeed once."""
    db = tmp_path / "fresh.sqlite3"
    ctx = mp.get_context("spawn")
    ready, start, out = ctx.Queue(), ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_open_fresh, args=(str(db), ready, start, out)) for _ in range(PROCS)]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=120)
    start.set()
    versions = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert versions == [SCHEMA_VERSION] * PROCS
    s = Store(db)
    assert s.integrity_check() == "ok"
    n_indexes = len(s.query("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'labels_pair'"))
    assert n_indexes == 1


def test_threads_of_one_server_process_share_a_store_safely(tmp_path):
    """Streamlit runs each session in its own thread over one cached Store."""
    s = Store(tmp_path / "threads.sqlite3")
    errors: list[str] = []

    def work(t: int) -> None:
        try:
            for i in range(40):
                s.add_label("th", f"q{i}", f"d{t}", "unsure", f"t{t}", client_token=f"{t}-{i}")
                s.add_vote("th", "a", "b", "m", "n", "tie", f"t{t}")
        except Exception as exc:  # pragma: no cover - collected for the assertion
            errors.append(repr(exc))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert s.counts()["labels"] == 240 and s.counts()["votes"] == 240
    assert s.integrity_check() == "ok"

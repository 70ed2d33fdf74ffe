"""SQLite storage for everything a person enters or a run produces.

WAL mode, one short transaction per user action (BEGIN IMMEDIATE, so writers queue instead of failing),
schema versioned by `PRAGMA user_version` with forward-only migrations, and a backup/export API.
Each write accepts an optional `client_token`: the same token written twice is stored once, so a retried
action (a double click, a browser reconnect) never duplicates a label or a vote.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from core.paths import database_path

try:  # POSIX advisory locks; elsewhere writers fall back to SQLite's own (polling) busy handler
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

LABEL_VALUES = ("false_negative", "true_negative", "unsure")
VOTE_VALUES = ("a", "b", "tie")

# Forward-only migrations: index i brings the schema from version i to i + 1. Never edit a released one.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE labels (
        id INTEGER PRIMARY KEY,
        dataset TEXT NOT NULL,
        query_id TEXT NOT NULL,
        doc_id TEXT NOT NULL,
        label TEXT NOT NULL CHECK (label IN ('false_negative', 'true_negative', 'unsure')),
        annotator TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        retracted_at REAL,
        client_token TEXT UNIQUE
    );
    CREATE INDEX labels_pair ON labels(dataset, query_id, doc_id);
    CREATE TABLE votes (
        id INTEGER PRIMARY KEY,
        experiment TEXT NOT NULL,
        item_a TEXT NOT NULL,
        item_b TEXT NOT NULL,
        method_a TEXT NOT NULL,
        method_b TEXT NOT NULL,
        winner TEXT NOT NULL CHECK (winner IN ('a', 'b', 'tie')),
        voter TEXT NOT NULL,
        created_at REAL NOT NULL,
        client_token TEXT UNIQUE
    );
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        config_json TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
        result_json TEXT NOT NULL DEFAULT '{}',
        artifact_path TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        finished_at REAL
    );
    CREATE INDEX runs_kind ON runs(kind, created_at);
    CREATE TABLE run_items (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs(id),
        item_key TEXT NOT NULL,
        payload_json TEXT NOT NULL,
        created_at REAL NOT NULL,
        UNIQUE (run_id, item_key)
    );
    CREATE TABLE corrections (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL,
        item_key TEXT NOT NULL,
        label TEXT NOT NULL,
        annotator TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        client_token TEXT UNIQUE
    );
    CREATE INDEX corrections_item ON corrections(run_id, item_key);
    CREATE TABLE kv_cache (
        namespace TEXT NOT NULL,
        key TEXT NOT NULL,
        value_json TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (namespace, key)
    );
    """,
    # 2: indexes for the per-person queries that run on every click (undo, a voter's history).
    """
    CREATE INDEX labels_annotator ON labels(dataset, annotator, id);
    CREATE INDEX votes_experiment ON votes(experiment, id);
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


class StoreError(ValueError):
    """A write was refused (bad value, or the database could not take it); nothing was written."""


# Tables a person's work lives in (exported by `export_all`); kv_cache is derived and can be rebuilt.
USER_TABLES = ("labels", "votes", "runs", "run_items", "corrections")


def _clean_text(value: Any, field: str, *, max_len: int = 10_000, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise StoreError(f"{field} must be text, got {type(value).__name__}")
    value = value.strip()
    if not value and not allow_empty:
        raise StoreError(f"{field} must not be empty")
    if len(value) > max_len:
        raise StoreError(f"{field} is too long ({len(value)} characters, at most {max_len})")
    if "\x00" in value:
        raise StoreError(f"{field} contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates (e.g. from a badly decoded file) cannot be stored
        raise StoreError(f"{field} is not valid Unicode text") from None
    return value


def _to_json(value: Any, field: str) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{field} must be plain JSON values (text, numbers, lists, dicts): {exc}") from None


def _statements(script: str) -> list[str]:
    """Split a migration into statements without breaking on a ';' inside a string or a trigger body."""
    out, current = [], ""
    for piece in script.split(";"):
        current += piece + ";"
        if sqlite3.complete_statement(current):
            if current.strip(" \t\r\n;"):
                out.append(current.strip())
            current = ""
    if current.strip(" \t\r\n;"):
        raise StoreError(f"migration has an incomplete statement: {current.strip()[:80]!r}")
    return out


class Store:
    """One SQLite database file. Safe to share between threads (one connection per thread) and processes."""

    def __init__(self, path: Path | str | None = None, *, timeout_s: float = 30.0):
        self.path = Path(path) if path is not None else database_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.timeout_s = timeout_s
        self._local = threading.local()
        self._migrate()

    # -- connections and transactions ------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "pid", None) != os.getpid():
            # Inherited through fork: SQLite connections must not cross processes. Abandon it (closing it
            # here could release the parent's locks) and open a fresh one.
            conn = None
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None,
                                   check_same_thread=False)
            conn.row_factory = sqlite3.Row
            self._switch_to_wal(conn)
            conn.execute("PRAGMA synchronous=FULL")  # an acknowledged write survives a power cut, not just a crash
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute(f"PRAGMA busy_timeout={int(self.timeout_s * 1000)}")
            self._local.conn = conn
            self._local.pid = os.getpid()
        return conn

    def _switch_to_wal(self, conn: sqlite3.Connection) -> None:
        """Switching a fresh file to WAL needs an exclusive lock and SQLite may answer "database is locked"
        at once, without its busy handler, when several processes open a new database together: retry."""
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One user action = one transaction: all of it is committed (durably) or none of it.

        BEGIN IMMEDIATE takes the write lock up front, so concurrent writers queue on busy_timeout instead
        of failing half-way. A database error (locked past the timeout, disk full, read-only) becomes a
        StoreError saying nothing was saved, so a page can show it instead of a traceback.
        """
        conn = self._connect()
        lock = self._write_lock()
        try:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise StoreError(f"Could not save (database busy or unavailable: {exc}); nothing was written, "
                                 "try again.") from exc
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.OperationalError):
                    raise StoreError(f"Could not save ({exc}); nothing was written, try again.") from exc
                raise
        finally:
            if lock is not None:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _write_lock(self):
        """Queue writers on a blocking flock of <db>.writelock before BEGIN IMMEDIATE.

        Why: SQLite's busy handler polls with sleeps of up to 100 ms, so under many writers one process can
        lose the race again and again (seconds of latency, measured by bench/store_stress.py); the kernel
        wakes flock waiters as soon as the lock is released. The kernel also drops the lock of a killed
        process at once. One lock file object per thread (separate open file descriptions, so threads of one
        process exclude each other too), reopened after a fork. Returns the locked file, or None.
        """
        if fcntl is None:
            return None
        lock = getattr(self._local, "lock", None)
        if lock is None or getattr(self._local, "lock_pid", None) != os.getpid():
            try:
                lock = open(f"{self.path}.writelock", "a+b")  # noqa: SIM115 - kept open for the thread's life
            except OSError:
                return None  # a read-only folder: SQLite's own locking still keeps writes safe
            self._local.lock, self._local.lock_pid = lock, os.getpid()
        fcntl.flock(lock, fcntl.LOCK_EX)
        return lock

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _migrate(self) -> None:
        with self.transaction() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(f"{self.path} has schema version {version}, newer than this app's "
                                 f"{SCHEMA_VERSION}; update the app instead of downgrading the data")
            for i in range(version, SCHEMA_VERSION):
                for statement in _statements(MIGRATIONS[i]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version={i + 1}")

    def schema_version(self) -> int:
        return self._connect().execute("PRAGMA user_version").fetchone()[0]

    def query(self, sql: str, params: tuple | dict = ()) -> list[dict]:
        return [dict(r) for r in self._connect().execute(sql, params).fetchall()]

    # -- labels (retrieval false-negative annotation) ------------------------------------------------
    def add_label(self, dataset: str, query_id: str, doc_id: str, label: str, annotator: str,
                  note: str = "", client_token: str | None = None) -> int:
        """Store one judgement at once; returns its row id (the existing id for a repeated client_token)."""
        if label not in LABEL_VALUES:
            raise StoreError(f"label must be one of {', '.join(LABEL_VALUES)}, got {label!r}")
        dataset = _clean_text(dataset, "dataset", max_len=200)
        query_id = _clean_text(query_id, "query id", max_len=500)
        doc_id = _clean_text(doc_id, "document id", max_len=500)
        annotator = _clean_text(annotator, "annotator name", max_len=100)
        note = _clean_text(note, "note", allow_empty=True)
        token = client_token or uuid.uuid4().hex
        with self.transaction() as conn:
            row = conn.execute("SELECT id FROM labels WHERE client_token = ?", (token,)).fetchone()
            if row:
                return int(row[0])
            cur = conn.execute(
                "INSERT INTO labels (dataset, query_id, doc_id, label, annotator, note, created_at, client_token)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (dataset, query_id, doc_id, label, annotator, note, time.time(), token))
            return int(cur.lastrowid)

    def undo_last_label(self, dataset: str, annotator: str, *, expected_id: int | None = None) -> dict | None:
        """Retract the annotator's most recent live label in a dataset; returns it, or None.

        Pass expected_id (the id the page showed as "last") to make a double-clicked or retried undo safe:
        when the most recent live label is no longer that one, nothing is retracted and None is returned.
        """
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT * FROM labels WHERE dataset = ? AND annotator = ? AND retracted_at IS NULL"
                " ORDER BY id DESC LIMIT 1", (dataset, annotator)).fetchone()
            if row is None or (expected_id is not None and row["id"] != expected_id):
                return None
            conn.execute("UPDATE labels SET retracted_at = ? WHERE id = ?", (time.time(), row["id"]))
            return dict(row)

    def current_labels(self, dataset: str | None = None) -> list[dict]:
        """The latest live label per (dataset, query, doc, annotator)."""
        sql = ("SELECT l.* FROM labels l JOIN (SELECT MAX(id) AS id FROM labels WHERE retracted_at IS NULL"
               " {where} GROUP BY dataset, query_id, doc_id, annotator) m ON l.id = m.id ORDER BY l.id")
        if dataset is None:
            return self.query(sql.format(where=""))
        return self.query(sql.format(where="AND dataset = ?"), (dataset,))

    # -- votes (blind A/B image preference) ----------------------------------------------------------------
    def add_vote(self, experiment: str, item_a: str, item_b: str, method_a: str, method_b: str,
                 winner: str, voter: str, client_token: str | None = None) -> int:
        if winner not in VOTE_VALUES:
            raise StoreError(f"winner must be one of {', '.join(VOTE_VALUES)}, got {winner!r}")
        fields = [_clean_text(v, n, max_len=500) for v, n in
                  ((experiment, "experiment"), (item_a, "item a"), (item_b, "item b"),
                   (method_a, "method a"), (method_b, "method b"), (voter, "voter name"))]
        token = client_token or uuid.uuid4().hex
        with self.transaction() as conn:
            row = conn.execute("SELECT id FROM votes WHERE client_token = ?", (token,)).fetchone()
            if row:
                return int(row[0])
            cur = conn.execute(
                "INSERT INTO votes (experiment, item_a, item_b, method_a, method_b, winner, voter, created_at,"
                " client_token) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (*fields[:5], winner, fields[5],
                                                                      time.time(), token))
            return int(cur.lastrowid)

    def votes(self, experiment: str | None = None) -> list[dict]:
        if experiment is None:
            return self.query("SELECT * FROM votes ORDER BY id")
        return self.query("SELECT * FROM votes WHERE experiment = ? ORDER BY id", (experiment,))

    # -- runs ----------------------------------------------------------------------------------------------
    def start_run(self, kind: str, config: dict, run_id: str | None = None) -> str:
        kind = _clean_text(kind, "run kind", max_len=100)
        run_id = _clean_text(run_id or f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}",
                             "run id", max_len=300)
        config_json = _to_json(config, "run config")
        with self.transaction() as conn:
            if conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone():
                raise StoreError(f"a run with id {run_id!r} already exists")
            conn.execute("INSERT INTO runs (id, kind, config_json, status, created_at) VALUES (?, ?, ?, ?, ?)",
                         (run_id, kind, config_json, "running", time.time()))
        return run_id

    def add_run_item(self, run_id: str, item_key: str, payload: dict) -> None:
        item_key = _clean_text(item_key, "item key", max_len=1000)
        payload_json = _to_json(payload, "run item")
        with self.transaction() as conn:
            if not conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone():
                raise StoreError(f"no run with id {run_id!r}; start_run first")
            conn.execute("INSERT OR REPLACE INTO run_items (run_id, item_key, payload_json, created_at)"
                         " VALUES (?, ?, ?, ?)", (run_id, item_key, payload_json, time.time()))

    def finish_run(self, run_id: str, result: dict | None = None, *, failed: bool = False,
                   artifact_path: str = "") -> None:
        result_json = _to_json(result or {}, "run result")
        artifact_path = _clean_text(artifact_path, "artifact path", max_len=4096, allow_empty=True)
        with self.transaction() as conn:
            cur = conn.execute("UPDATE runs SET status = ?, result_json = ?, artifact_path = ?, finished_at = ?"
                               " WHERE id = ?", ("failed" if failed else "done", result_json,
                                                 artifact_path, time.time(), run_id))
            if cur.rowcount != 1:
                raise StoreError(f"no run with id {run_id!r}")

    def runs(self, kind: str | None = None, status: str | None = "done") -> list[dict]:
        sql, params = "SELECT * FROM runs WHERE 1=1", []
        if kind:
            sql += " AND kind = ?"
            params.append(kind)
        if status:
            sql += " AND status = ?"
            params.append(status)
        rows = self.query(sql + " ORDER BY created_at DESC", tuple(params))
        for r in rows:
            r["config"] = json.loads(r.pop("config_json"))
            r["result"] = json.loads(r.pop("result_json"))
        return rows

    def run_items(self, run_id: str) -> list[dict]:
        rows = self.query("SELECT item_key, payload_json FROM run_items WHERE run_id = ? ORDER BY id", (run_id,))
        return [{"item_key": r["item_key"], **json.loads(r["payload_json"])} for r in rows]

    # -- corrections (a person overriding an automatic label, e.g. refusal detection) --------------------
    def add_correction(self, run_id: str, item_key: str, label: str, annotator: str, note: str = "",
                       client_token: str | None = None) -> int:
        run_id = _clean_text(run_id, "run id", max_len=300)
        item_key = _clean_text(item_key, "item key", max_len=1000)
        label = _clean_text(label, "label", max_len=100)
        annotator = _clean_text(annotator, "annotator name", max_len=100)
        note = _clean_text(note, "note", allow_empty=True)
        token = client_token or uuid.uuid4().hex
        with self.transaction() as conn:
            row = conn.execute("SELECT id FROM corrections WHERE client_token = ?", (token,)).fetchone()
            if row:
                return int(row[0])
            cur = conn.execute("INSERT INTO corrections (run_id, item_key, label, annotator, note, created_at,"
                               " client_token) VALUES (?, ?, ?, ?, ?, ?, ?)",
                               (run_id, item_key, label, annotator, note, time.time(), token))
            return int(cur.lastrowid)

    def corrections(self, run_id: str) -> dict[str, dict]:
        """Latest correction per item of a run."""
        rows = self.query("SELECT * FROM corrections WHERE run_id = ? ORDER BY id", (run_id,))
        return {r["item_key"]: r for r in rows}

    # -- a small key/value cache for computed results (e.g. LM scores) --------------------------------
    def cache_get(self, namespace: str, key: str) -> Any | None:
        row = self._connect().execute("SELECT value_json FROM kv_cache WHERE namespace = ? AND key = ?",
                                      (namespace, key)).fetchone()
        return None if row is None else json.loads(row[0])

    def cache_get_many(self, namespace: str, keys: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        conn = self._connect()
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            marks = ",".join("?" * len(chunk))
            for k, v in conn.execute(f"SELECT key, value_json FROM kv_cache WHERE namespace = ? AND key IN ({marks})",
                                     (namespace, *chunk)):
                out[k] = json.loads(v)
        return out

    def cache_put_many(self, namespace: str, items: dict[str, Any]) -> None:
        now = time.time()
        rows = [(namespace, k, _to_json(v, "cached value"), now) for k, v in items.items()]
        with self.transaction() as conn:
            conn.executemany("INSERT OR REPLACE INTO kv_cache (namespace, key, value_json, created_at)"
                             " VALUES (?, ?, ?, ?)", rows)

    # -- backup and export ----------------------------------------------------------------------------------
    def backup(self, destination: Path | str) -> Path:
        """A consistent copy of the whole database (SQLite's online backup API), safe while others write.

        Written to a temporary file and renamed into place, so a crash mid-backup never leaves a
        half-written file under the destination name. Returns the resolved destination.
        """
        destination = Path(destination).expanduser().resolve()
        live = self.path.resolve()
        if destination == live or (destination.parent == live.parent and destination.name.startswith(live.name)):
            raise StoreError(f"refusing to back up the database onto itself ({destination})")
        if destination.is_dir():
            raise StoreError(f"{destination} is a folder; give a file name for the backup")
        destination.parent.mkdir(parents=True, exist_ok=True)
        tmp = destination.with_name(f".{destination.name}.{uuid.uuid4().hex[:8]}.partial")
        target = sqlite3.connect(tmp)
        try:
            self._connect().backup(target)
            target.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file, no -wal beside it
        finally:
            target.close()
        try:
            os.replace(tmp, destination)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return destination

    def export_all(self, folder: Path | str) -> list[Path]:
        """One CSV per table a person's work lives in, written atomically into folder; returns the files."""
        from core.cache import atomic_write_bytes

        folder = Path(folder).expanduser().resolve()
        out = []
        for table in USER_TABLES:
            path = folder / f"{table}.csv"
            atomic_write_bytes(path, self.export_csv(table).encode("utf-8"))
            out.append(path)
        return out

    def counts(self) -> dict[str, int]:
        """Row count of every table a person's work lives in (live and retracted labels alike)."""
        return {t: int(self._connect().execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in USER_TABLES}

    def export_csv(self, table: str) -> str:
        if table not in USER_TABLES:
            raise StoreError(f"unknown table {table!r}; one of {', '.join(USER_TABLES)}")
        rows = self.query(f"SELECT * FROM {table} ORDER BY rowid")
        buf = io.StringIO()
        if rows:
            writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        return buf.getvalue()

    def integrity_check(self) -> str:
        return self._connect().execute("PRAGMA integrity_check").fetchone()[0]


USAGE = """usage: python -m core.store [--db PATH] COMMAND
  backup PATH       consistent copy of the whole database (safe while the app is running)
  export TABLE      one table as CSV on stdout (labels, votes, runs, run_items, corrections)
  export-all DIR    every table as DIR/<table>.csv
  check             PRAGMA integrity_check, schema version and row counts"""


def main(argv: list[str]) -> int:
    import sys

    argv = list(argv)
    db = None
    if argv[:1] == ["--db"] and len(argv) >= 2:
        db, argv = argv[1], argv[2:]
    if not argv or argv[0] not in {"backup", "export", "export-all", "check"} or \
            len(argv) != (1 if argv[0] == "check" else 2):
        print(USAGE, file=sys.stderr)
        return 2
    try:
        store = Store(db)
        if argv[0] == "backup":
            print(store.backup(argv[1]))
        elif argv[0] == "export":
            sys.stdout.write(store.export_csv(argv[1]))
        elif argv[0] == "export-all":
            for path in store.export_all(argv[1]):
                print(path)
        else:
            result = store.integrity_check()
            print(json.dumps({"database": str(store.path), "integrity_check": result,
                              "schema_version": store.schema_version(), "counts": store.counts()}))
            return 0 if result == "ok" else 1
    except (StoreError, sqlite3.DatabaseError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))

"""Stress the storage layer: P processes write labels and votes to one database for D seconds.

Claim: the Store (WAL, one BEGIN IMMEDIATE transaction per action, one long-lived connection per process)
loses nothing under concurrent writers, and beats the naive set-up — a new connection per write in
autocommit mode with SQLite's default rollback (DELETE) journal — on throughput and worst-case latency.

Each side runs in the same invocation on a fresh database with the same workload. Reported per side:
acknowledged writes, writes/second, median / p99 / worst latency of one write (including waiting for the
lock), failed writes ("database is locked"), and whether the rows counted afterwards equal the acknowledged
writes and PRAGMA integrity_check says ok. The last line is one JSON object.

    .venv/bin/python bench/store_stress.py [--procs 8] [--seconds 4]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.store import Store  # noqa: E402

SIDES = {
    "store": "core.store.Store: WAL, BEGIN IMMEDIATE per action, one connection per process",
    "store_no_flock": "ablation: the same Store without the flock writer queue (SQLite busy polling only)",
    "naive_delete": "peer: new connection per write, autocommit, DELETE journal (SQLite default)",
    "naive_wal": "peer: new connection per write, autocommit, WAL",
}
LABEL_SQL = ("INSERT INTO labels (dataset, query_id, doc_id, label, annotator, note, created_at, client_token)"
             " VALUES (?, ?, ?, ?, ?, '', ?, ?)")
VOTE_SQL = ("INSERT INTO votes (experiment, item_a, item_b, method_a, method_b, winner, voter, created_at,"
            " client_token) VALUES (?, ?, ?, 'cfg', 'nag', 'a', ?, ?, ?)")


class NoFlockStore(Store):
    def _write_lock(self):
        return None


def _naive_write(db: str, sql: str, params: tuple) -> None:
    conn = sqlite3.connect(db, isolation_level=None)  # default 5 s busy timeout, as most code has it
    try:
        conn.execute(sql, params)
    finally:
        conn.close()


def worker(side: str, db: str, worker_id: int, seconds: float, ready, start, out) -> None:
    """Alternate label and vote writes until the deadline; report what was acknowledged and how long it took."""
    store = {"store": Store, "store_no_flock": NoFlockStore}.get(side, lambda _db: None)(db)
    ready.put(worker_id)
    start.wait()
    began = time.perf_counter()
    latencies, labels, votes, errors = [], 0, 0, 0
    deadline = time.perf_counter() + seconds
    i = 0
    while time.perf_counter() < deadline:
        token = f"{worker_id}-{i}-{uuid.uuid4().hex[:6]}"
        is_label = i % 2 == 0
        t0 = time.perf_counter()
        try:
            if store is not None and is_label:
                store.add_label("stress", f"q{i}", f"d{worker_id}", "unsure", f"w{worker_id}", client_token=token)
            elif store is not None:
                store.add_vote("stress", f"a{i}", f"b{i}", "cfg", "nag", "a", f"w{worker_id}", client_token=token)
            elif is_label:
                _naive_write(db, LABEL_SQL, ("stress", f"q{i}", f"d{worker_id}", "unsure", f"w{worker_id}",
                                             time.time(), token))
            else:
                _naive_write(db, VOTE_SQL, ("stress", f"a{i}", f"b{i}", f"w{worker_id}", time.time(), token))
        except Exception:  # noqa: BLE001 - a failed write is a measured outcome ("database is locked")
            errors += 1
        else:
            latencies.append(time.perf_counter() - t0)
            labels += is_label
            votes += not is_label
        i += 1
    out.put({"worker": worker_id, "elapsed": time.perf_counter() - began, "labels": labels, "votes": votes, "errors": errors, "latencies": latencies})


def run_side(side: str, procs: int, seconds: float, folder: Path) -> dict:
    db = folder / f"{side}.sqlite3"
    Store(db).close()  # same schema for every side
    if side == "naive_delete":
        conn = sqlite3.connect(db)
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.close()
    ctx = mp.get_context("spawn")
    ready, start, out = ctx.Queue(), ctx.Event(), ctx.Queue()
    workers = [ctx.Process(target=worker, args=(side, str(db), w, seconds, ready, start, out))
               for w in range(procs)]
    for p in workers:
        p.start()
    for _ in workers:  # every process has imported and opened its connection before the clock starts
        ready.get(timeout=120)
    start.set()
    results = [out.get(timeout=seconds + 120) for _ in workers]
    elapsed = max(r["elapsed"] for r in results)
    for p in workers:
        p.join(timeout=30)
    lat = sorted(x for r in results for x in r["latencies"])
    acked_labels, acked_votes = sum(r["labels"] for r in results), sum(r["votes"] for r in results)
    conn = sqlite3.connect(db)
    stored_labels = conn.execute("SELECT COUNT(*) FROM labels").fetchone()[0]
    stored_votes = conn.execute("SELECT COUNT(*) FROM votes").fetchone()[0]
    integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
    conn.close()
    writes = acked_labels + acked_votes
    return {
        "side": side, "journal_mode": journal, "procs": procs, "seconds": round(elapsed, 2),
        "writes": writes, "writes_per_s": round(writes / elapsed, 1),
        "p50_ms": round(1000 * lat[len(lat) // 2], 2) if lat else None,
        "p99_ms": round(1000 * lat[int(len(lat) * 0.99)], 2) if lat else None,
        "worst_ms": round(1000 * lat[-1], 2) if lat else None,
        "failed_writes": sum(r["errors"] for r in results),
        "counts_exact": stored_labels == acked_labels and stored_votes == acked_votes,
        "integrity": integrity,
    }


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--procs", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--sides", default=",".join(SIDES))
    args = ap.parse_args(argv)
    sides = [s for s in args.sides.split(",") if s]
    with tempfile.TemporaryDirectory(prefix="store_stress_") as tmp:
        rows = [run_side(side, args.procs, args.seconds, Path(tmp)) for side in sides]
    print(f"{args.procs} processes x {args.seconds:g} s each side, alternating label / vote writes "
          f"({os.cpu_count()} CPUs, SQLite {sqlite3.sqlite_version})")
    for side in sides:
        print(f"  {side:14s} {SIDES[side]}")
    cols = ["side", "journal_mode", "writes", "writes_per_s", "p50_ms", "p99_ms", "worst_ms", "failed_writes",
            "counts_exact", "integrity"]
    print(" ".join(f"{c:>14s}" for c in cols))
    for r in rows:
        print(" ".join(f"{r[c]!s:>14s}" for c in cols))
    summary: dict = {"bench": "store_stress", "procs": args.procs, "seconds_per_side": args.seconds,
                     "sides": {r["side"]: {k: v for k, v in r.items() if k != "side"} for r in rows}}
    by = {r["side"]: r for r in rows}
    if "store" in by:
        for peer in (s for s in by if s != "store"):
            p, s = by[peer], by["store"]
            thr = s["writes_per_s"] / p["writes_per_s"] if p["writes_per_s"] else None
            worst = p["worst_ms"] / s["worst_ms"] if p["worst_ms"] and s["worst_ms"] else None
            print(f"store vs {peer}: {thr:.2f}x writes/s, worst latency {worst:.2f}x lower, "
                  f"failed writes {s['failed_writes']} vs {p['failed_writes']}" if thr and worst else
                  f"store vs {peer}: not comparable (a side made no writes)")
            summary[f"throughput_ratio_vs_{peer}"] = round(thr, 3) if thr else None
            summary[f"worst_latency_ratio_vs_{peer}"] = round(worst, 3) if worst else None
    summary["store_lost_nothing"] = bool(by.get("store", {}).get("counts_exact")) and \
        by.get("store", {}).get("integrity") == "ok" and by.get("store", {}).get("failed_writes") == 0
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()

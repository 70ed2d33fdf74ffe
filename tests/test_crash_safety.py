"""Crash safety: SIGKILL a writer (and a real `streamlit run` server) at random moments; nothing acknowledged
is lost and nothing is duplicated.

The writer process uses the core API (Store.add_label / add_vote, one transaction per action, a client token
per action) and prints "ACK <token>" only after the commit returned. The parent kills it with SIGKILL at random
moments, restarts it from the first unacknowledged action (re-sending the same token, as a page does when a
click is retried), and finally checks that every acknowledged token is stored exactly once.
"""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from core.store import Store

REPO = Path(__file__).resolve().parent.parent
SEED = int(os.environ.get("NEGSPACE_CRASH_SEED", "0")) or random.SystemRandom().randrange(1, 10**6)


def writer_main(db: str, start: int, stop: int) -> None:
    """Write label i (and a vote for every third i) for i in [start, stop); acknowledge each after commit."""
    s = Store(db)
    print("READY", flush=True)
    for i in range(start, stop):
        row = s.add_label("crash", f"q{i}", f"doc{i}", ("false_negative", "true_negative", "unsure")[i % 3],
                          "writer", note=f"label {i}", client_token=f"L{i}")
        print(f"ACK L{i} {row}", flush=True)
        if i % 3 == 0:
            s.add_vote("crash", f"img{i}a", f"img{i}b", "cfg", "nag", "a", "writer", client_token=f"V{i}")
            print(f"ACK V{i}", flush=True)


def _start_writer(db: Path, start: int, stop: int) -> subprocess.Popen:
    code = f"from tests.test_crash_safety import writer_main; writer_main({str(db)!r}, {start}, {stop})"
    return subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, bufsize=1)


def _acks(out: str) -> list[str]:
    return [line.split()[1] for line in out.splitlines() if line.startswith("ACK ")]


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_and_duplicates_nothing(tmp_path):
    rng = random.Random(SEED)
    db = tmp_path / "crash.sqlite3"
    Store(db).close()
    acked, next_i, kills_mid_write = [], 0, 0
    for _round in range(12):
        proc = _start_writer(db, next_i, 10**9)  # writes until killed
        assert proc.stdout.readline().strip() == "READY", proc.stderr.read()
        time.sleep(rng.uniform(0.0, 0.25))  # a random moment, possibly inside a commit
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL, err
        round_acks = _acks(out)
        acked += round_acks
        labels_acked = [int(t[1:]) for t in round_acks if t.startswith("L")]
        if labels_acked:
            kills_mid_write += 1
            # restart from the label after the last acknowledged one; its vote (if unacknowledged) and any
            # committed-but-unacknowledged label are re-sent with the same token, as a retried click is
            next_i = max(labels_acked) + (0 if f"V{max(labels_acked)}" not in round_acks
                                          and max(labels_acked) % 3 == 0 else 1)
        # the database must open, recover the WAL and pass integrity_check after every kill
        check = Store(db)
        assert check.integrity_check() == "ok"
        check.close()
    # finish without a kill so the end state is known exactly
    total = next_i + 30
    proc = _start_writer(db, next_i, total)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    acked += _acks(out)

    s = Store(db)
    assert kills_mid_write >= 3, f"too few kills landed while writing (seed {SEED})"
    labels = s.query("SELECT client_token, query_id, COUNT(*) OVER (PARTITION BY query_id) AS n FROM labels")
    votes = s.query("SELECT client_token, item_a FROM votes")
    stored = [r["client_token"] for r in labels] + [r["client_token"] for r in votes]
    missing = set(acked) - set(stored)
    assert not missing, f"acknowledged but lost (seed {SEED}): {sorted(missing)[:10]}"
    assert len(stored) == len(set(stored)), f"duplicated tokens (seed {SEED})"
    assert all(r["n"] == 1 for r in labels), f"a label stored twice under different tokens (seed {SEED})"
    assert len(votes) == len({r["item_a"] for r in votes})
    # the end state is exact: every label 0..total-1 once, every third with one vote
    assert sorted(int(t[1:]) for t in stored if t.startswith("L")) == list(range(total))
    assert sorted(int(t[1:]) for t in stored if t.startswith("V")) == list(range(0, total, 3))
    assert s.integrity_check() == "ok"


# ---- a real streamlit server, killed with SIGKILL after a label is given in the browser -----------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(data: Path, port: int, log: Path) -> subprocess.Popen:
    # No --server.address on purpose: the bind address must come from .streamlit/config.toml, as in ./run.sh app
    env = {**os.environ, "NEGSPACE_DATA": str(data), "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "streamlit", "run", "tests/store_crash_app.py", "--server.port", str(port),
           "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    with open(log, "ab") as fh:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.read().decode().strip() == "ok":
                    return proc
        except OSError:
            time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGKILL)
    raise TimeoutError(log.read_text())


def _kill(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket listening on port, from /proc/net/tcp{,6} (state 0A = LISTEN)."""
    found = set()
    for name, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            lines = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            addr, p = local.split(":")
            if state == "0A" and int(p, 16) == port:
                if width == 8:
                    found.add(socket.inet_ntop(socket.AF_INET, bytes.fromhex(addr)[::-1]))
                else:
                    raw = b"".join(bytes.fromhex(addr[i:i + 8])[::-1] for i in range(0, 32, 8))
                    found.add(socket.inet_ntop(socket.AF_INET6, raw))
    return found


def _give_label(page, url: str, query_id: str, wait_for_ack: bool = True) -> None:
    from tests.browser import wait_until_idle

    page.goto(url)
    wait_until_idle(page)
    box = page.get_by_label("Query id")
    box.fill(query_id)
    box.press("Enter")
    wait_until_idle(page)
    page.get_by_role("button", name="Save label").click()
    if wait_for_ack:
        page.get_by_text(re.compile(f"Saved label \\d+ for {re.escape(query_id)}")).wait_for(timeout=60_000)


@pytest.mark.slow
@pytest.mark.browser
def test_label_given_in_the_browser_survives_sigkill_of_the_server(tmp_path):
    playwright_sync = pytest.importorskip("playwright.sync_api")
    from tests.browser import launch_browser, wait_until_idle

    data, log = tmp_path / "data", tmp_path / "server.log"
    port = _free_port()
    proc = _start_server(data, port, log)
    try:
        bound = listening_addresses(port)
        assert bound and bound <= {"127.0.0.1", "::1"}, f"server listens on {bound}, not only on localhost"
        with playwright_sync.sync_playwright() as p:
            browser = launch_browser(p)
            page = browser.new_page()
            _give_label(page, f"http://127.0.0.1:{port}", "q-first")
            _kill(proc)  # SIGKILL straight after the acknowledgement: no shutdown hook runs
            proc = _start_server(data, port, log)
            page.goto(f"http://127.0.0.1:{port}")
            wait_until_idle(page)
            page.get_by_text("Stored labels: 1").wait_for(timeout=30_000)
            _give_label(page, f"http://127.0.0.1:{port}", "q-second")
            # a kill right after the click, before any acknowledgement: the label may or may not be there,
            # but the database must be intact and hold it at most once
            _give_label(page, f"http://127.0.0.1:{port}", "q-unacked", wait_for_ack=False)
            _kill(proc)
            browser.close()
    finally:
        if proc.poll() is None:
            _kill(proc)
    s = Store(data / "negative_space.sqlite3")
    assert s.integrity_check() == "ok"
    rows = s.query("SELECT query_id, COUNT(*) AS n FROM labels GROUP BY query_id")
    counts = {r["query_id"]: r["n"] for r in rows}
    assert counts.get("q-first") == 1 and counts.get("q-second") == 1, counts
    assert counts.get("q-unacked", 0) <= 1 and set(counts) <= {"q-first", "q-second", "q-unacked"}


def test_listening_address_parser_sees_a_localhost_socket():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        assert listening_addresses(sock.getsockname()[1]) == {"127.0.0.1"}


def test_wal_recovery_after_a_kill_keeps_committed_rows(tmp_path):
    """A committed transaction that only lives in the -wal file (no checkpoint yet) is recovered."""
    db = tmp_path / "wal.sqlite3"
    code = ("import os, sys; from core.store import Store; s = Store(sys.argv[1]); "
            "s._connect().execute('PRAGMA wal_autocheckpoint=0'); "
            "[s.add_label('d', f'q{i}', 'x', 'unsure', 'a', client_token=f't{i}') for i in range(50)]; "
            "print('done', flush=True); os.kill(os.getpid(), 9)")
    proc = subprocess.run([sys.executable, "-c", code, str(db)], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert proc.stdout.strip() == "done" and proc.returncode == -signal.SIGKILL
    assert Path(str(db) + "-wal").stat().st_size > 0  # the rows are in the WAL, not yet in the main file
    raw = sqlite3.connect(db)
    assert raw.execute("SELECT COUNT(*) FROM labels").fetchone()[0] == 50
    assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    raw.close()

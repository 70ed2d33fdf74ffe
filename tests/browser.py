"""Real-browser helpers: a `streamlit run` server on a free localhost port and Debian's Chromium via Playwright.

Never `playwright install`: it downloads a browser and fails offline. We drive /usr/bin/chromium.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_server(data_dir: Path, log_path: Path, port: int | None = None,
                     stop_signal: int = signal.SIGTERM) -> Iterator[str]:
    """Start the app; yield its base URL once /_stcore/health says ok; stop it afterwards with `stop_signal`
    (SIGKILL: a crash, no shutdown code runs)."""
    port = port or free_port()
    env = {**os.environ, "NEGSPACE_DATA": str(data_dir), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none"]
    log = open(log_path, "ab")  # noqa: SIM115 - a file, not a pipe: a full pipe would block the server
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {proc.returncode}; see {log_path}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.read().decode().strip() == "ok":
                        break
            except OSError:
                pass
            if time.time() > deadline:
                raise TimeoutError(f"streamlit did not become healthy; see {log_path}")
            time.sleep(0.5)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, stop_signal)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def launch_browser(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def wait_until_idle(page, timeout_ms: int = 180_000) -> None:
    """Wait for the script run to finish (Streamlit marks the app element 'notRunning')."""
    page.wait_for_selector(IDLE, timeout=timeout_ms)
    page.wait_for_timeout(300)  # let the last delta paint
    page.wait_for_selector(IDLE, timeout=timeout_ms)


def wait_for_count(page, selector: str, at_least: int, timeout_ms: int = 60_000) -> int:
    """Wait until `selector` matches at least `at_least` elements; return the count.

    Streamlit marks the run 'notRunning' as soon as the server says so, but a loaded browser may still be
    painting the last deltas (many images, plotly, dataframes): count after they are in the DOM, and fail
    with the count seen if they never arrive.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    with contextlib.suppress(PlaywrightTimeout):  # the caller's assert reports the count seen
        page.wait_for_function("([sel, n]) => document.querySelectorAll(sel).length >= n", arg=[selector, at_least],
                               timeout=timeout_ms)
    return page.locator(selector).count()

"""Chromium visits the Retrieval negatives page: mine, look at the embedding view, label with the keyboard,
and the label and the mined run are still there after the server is killed (SIGKILL) and restarted."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from core import assets
from tests.browser import launch_browser, streamlit_server, wait_until_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not (assets.WORDNET_DEBIAN_DIR / "data.noun").exists(), reason="no WordNet")]


def _open_sample(page, url: str) -> None:
    page.goto(f"{url}/retrieval_negatives")
    wait_until_idle(page)
    page.get_by_text("small sample (600 glosses, 40 queries)").click()
    wait_until_idle(page)


def test_label_in_browser_survives_restart(tmp_path, monkeypatch):
    playwright_sync = pytest.importorskip("playwright.sync_api")
    data = tmp_path / "data"
    monkeypatch.setenv("NEGSPACE_DATA", str(data))
    from tests.test_retrieval_page import prepare_sample_with_fake_embeddings

    prepare_sample_with_fake_embeddings()
    shots = data / "screenshots"
    shots.mkdir(parents=True)
    with playwright_sync.sync_playwright() as p:
        browser = launch_browser(p)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        # The first server is killed with SIGKILL right after the label: a crash, not a clean shutdown.
        with streamlit_server(data, data / "server1.log", stop_signal=signal.SIGKILL) as url:
            _open_sample(page, url)
            assert page.get_by_text("wordnet-sample").first.is_visible()
            page.locator(".st-key-rn_mine button").click()
            wait_until_idle(page)
            page.get_by_text("mined (query, negative) rows").first.wait_for(timeout=60_000)
            page.screenshot(path=str(shots / "mined.png"), full_page=True)
            page.get_by_role("tab", name="Embedding space").click()
            wait_until_idle(page)
            page.wait_for_selector("[data-testid='stPlotlyChart']", timeout=60_000)
            page.screenshot(path=str(shots / "view.png"), full_page=True)
            page.get_by_role("tab", name="Annotate").click()
            field = page.locator(".st-key-rn_annotator input")
            field.fill("ada")
            field.press("Enter")
            wait_until_idle(page)
            page.locator(".st-key-rn_ann_false_negative button").wait_for(timeout=60_000)
            page.locator("h1").first.click()  # move focus out of the text field
            page.keyboard.press("f")  # the keyboard shortcut of "False negative (relevant)"
            wait_until_idle(page)
            page.get_by_text("Saved: false negative").wait_for(timeout=30_000)
            page.screenshot(path=str(shots / "labelled.png"), full_page=True)
            assert page.locator("[data-testid='stException']").count() == 0
        from core.store import Store

        rows = Store(data / "negative_space.sqlite3").current_labels("wordnet-sample")
        assert [(r["label"], r["annotator"]) for r in rows] == [("false_negative", "ada")]
        with streamlit_server(data, data / "server2.log") as url:  # a restart: a new server process
            _open_sample(page, url)
            page.get_by_text("mined (query, negative) rows").first.wait_for(timeout=60_000)  # reopened run
            page.get_by_role("tab", name="Annotate").click()
            page.get_by_text("Labels so far: 1").wait_for(timeout=30_000)
            page.get_by_text("by ada").first.wait_for(timeout=30_000)
            page.screenshot(path=str(shots / "after_restart.png"), full_page=True)
        browser.close()
    assert Path(shots / "view.png").stat().st_size > 1000

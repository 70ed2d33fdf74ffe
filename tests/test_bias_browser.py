"""Chromium visits the yes/no bias page, runs a small evaluation and the attention-head view, with screenshots."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest

from tests.browser import launch_browser, streamlit_server, wait_for_count, wait_until_idle
from tests.conftest import link_prepared_models

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = link_prepared_models(tmp_path_factory.mktemp("bias_browser"))
    with streamlit_server(data, data / "server.log") as url:
        yield url, data


def test_small_evaluation_in_chromium(server):
    playwright_sync = pytest.importorskip("playwright.sync_api")
    url, data = server
    shots = Path(data) / "screenshots"
    shots.mkdir(exist_ok=True)
    formats = quote("yes/no|negated question", safe="")
    with playwright_sync.sync_playwright() as p:
        browser = launch_browser(p)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/yes_no_bias?n=4&formats={formats}")
        wait_until_idle(page)
        assert page.locator("[data-testid='stException']").count() == 0
        page.screenshot(path=str(shots / "yes_no_bias_start.png"), full_page=True)
        page.locator(".st-key-ynb_run button").click()
        page.wait_for_selector("text=Results", timeout=600_000)
        wait_until_idle(page, timeout_ms=600_000)
        assert page.locator("[data-testid='stException']").count() == 0
        assert page.locator("[data-testid='stAlertContentError']").count() == 0
        assert wait_for_count(page, ".js-plotly-plot", 4) >= 4  # yes-rate, P-R gap, negative bias, accuracy (+scatter)
        page.screenshot(path=str(shots / "yes_no_bias_results.png"), full_page=True)
        page.locator(".st-key-ynb_heads_run button").click()
        page.wait_for_selector("text=Top heads", timeout=600_000)
        wait_until_idle(page, timeout_ms=600_000)
        assert page.locator("[data-testid='stException']").count() == 0
        page.screenshot(path=str(shots / "yes_no_bias_heads.png"), full_page=True)
        assert (shots / "yes_no_bias_heads.png").stat().st_size > 10_000
        browser.close()

"""A real browser visits every page: the script finishes, no exception is shown, a screenshot is saved."""

from pathlib import Path

import pytest

from tests.browser import launch_browser, streamlit_server, wait_until_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAGES = {"refusals_first": "refusals", "home": "", "retrieval_negatives": "retrieval_negatives", "negative_prompts": "negative_prompts",
         "yes_no_bias": "yes_no_bias", "refusals": "refusals"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("browser_data")
    with streamlit_server(data, data / "server.log") as url:
        yield url, data


def test_every_page_renders_in_chromium(server):
    playwright_sync = pytest.importorskip("playwright.sync_api")
    url, data = server
    shots = Path(data) / "screenshots"
    shots.mkdir(exist_ok=True)
    with playwright_sync.sync_playwright() as p:
        browser = launch_browser(p)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for name, path in PAGES.items():
            page.goto(f"{url}/{path}")
            wait_until_idle(page)
            assert page.locator("[data-testid='stException']").count() == 0, f"exception on {name}"
            assert page.locator("h1").count() >= 1, f"no title on {name}"
            # app.py's router serves every URL, even the first one a fresh server sees (no legacy file list)
            nav = page.locator("[data-testid='stSidebarNav']")
            assert "Yes/no bias" in nav.inner_text() and "yes no bias" not in nav.inner_text(), name
            page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
            assert (shots / f"{name}.png").stat().st_size > 1000
        browser.close()

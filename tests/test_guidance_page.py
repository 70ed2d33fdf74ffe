"""The Negative prompts page: AppTest (render, generate a small grid, bad input, gallery, vote) and a real
browser (Chromium) generating a grid. Tiny random toy-shaped model, 2 steps."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.guidance.adapters import cfg_scales_for
from tests.browser import launch_browser, streamlit_server, wait_for_count, wait_until_idle

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGE = "pages/negative_prompts.py"
RANDOM_TOY = "Tiny random toy-shaped UNet (untrained)"

pytestmark = pytest.mark.slow


def page(data_dir) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def errors(at) -> list[str]:
    return [e.value for e in at.error]


def test_first_load_runs_nothing(data_dir):
    at = page(data_dir)
    assert at.title[0].value == "Negative prompts"
    assert any("Nothing runs before that" in i.value for i in at.info)
    # the embedded model's own recorded figures are shown with it (its two-object weakness included)
    from components.guidance_model import toy_quality_summary

    summary = toy_quality_summary()
    assert summary and "two-object" in summary
    assert any(c.value == summary for c in at.caption)
    runs = Path(data_dir) / "gallery" / "negative_prompts"
    assert not runs.exists() or not any(runs.iterdir())


def test_generate_gallery_and_vote(data_dir):
    at = page(data_dir)
    at.selectbox(key="np_model_choice").set_value(RANDOM_TOY).run()
    at.number_input(key="np_steps").set_value(2).run()
    at.multiselect(key="np_methods_chosen").set_value(["Positive only", "CFG", "NAG"]).run()
    at.button(key="np_go").click().run(timeout=300)
    assert not at.exception, at.exception
    assert not errors(at), errors(at)
    runs = [d for d in (Path(data_dir) / "gallery" / "negative_prompts").iterdir() if not d.name.startswith(".")]
    assert len(runs) == 1 and (runs[0] / "run.json").exists()
    assert len(list((runs[0] / "images").glob("*.png"))) == 3 * 2  # 3 methods x 2 seeds
    labels = [m.value for m in at.markdown]
    assert "**Positive only**" in labels and "**NAG (scale=4, tau=2.5, alpha=auto, end=1)**" in labels
    timing = at.dataframe[0].value
    usual = cfg_scales_for("random:toy")[0]  # the CFG widget defaults to the model's usual scale
    assert list(timing["method"]) == ["Positive only", f"CFG (scale={usual:g})",
                                      "NAG (scale=4, tau=2.5, alpha=auto, end=1)"]
    assert timing["x CFG"].iloc[1] == 1.0

    # The vote tab: a name is required, then the vote is stored and the table appears.
    at.button(key="np_vote_vote_a").click().run()
    assert any("name" in e for e in errors(at))
    at.text_input(key="np_vote_voter").set_value("tester").run()
    at.button(key="np_vote_vote_b").click().run()
    assert not at.exception, at.exception
    from core.store import Store

    votes = Store().votes("guidance:positive-without-negative")
    assert len(votes) == 1 and votes[0]["winner"] == "b" and votes[0]["voter"] == "tester"
    assert any("Recorded" in s.value for s in at.success)

    # Reopen the run's settings from the gallery.
    at.number_input(key="np_steps").set_value(5).run()
    at.button(key="np_gallery_reopen").click().run()
    assert not at.exception, at.exception
    assert at.number_input(key="np_steps").value == 2


def test_bad_input_gets_a_message(data_dir):
    at = page(data_dir)
    at.selectbox(key="np_model_choice").set_value(RANDOM_TOY).run()
    at.number_input(key="np_steps").set_value(2).run()
    at.text_area(key="np_prompt").set_value("   ").run()
    at.button(key="np_go").click().run(timeout=300)
    assert any("positive prompt" in e for e in errors(at)), errors(at)
    at.text_area(key="np_prompt").set_value("a red circle").run()
    at.text_input(key="np_seeds").set_value("1, x").run()
    at.button(key="np_go").click().run(timeout=300)
    assert any("Seeds must be whole numbers" in e for e in errors(at)), errors(at)
    at.text_input(key="np_seeds").set_value("1").run()
    at.number_input(key="np_size").set_value(33).run()
    at.button(key="np_go").click().run(timeout=300)
    assert any("multiple of" in e for e in errors(at)), errors(at)
    at.selectbox(key="np_model_choice").set_value("Hub id or local folder…").run()
    at.text_input(key="np_model_custom").set_value("nobody-here/no-such-model").run()
    at.button(key="np_go").click().run(timeout=300)
    assert any("Could not load" in e for e in errors(at)), errors(at)
    assert not at.exception
    runs = Path(data_dir) / "gallery" / "negative_prompts"
    assert not runs.exists() or not any(runs.iterdir())  # nothing partial was saved


@pytest.mark.browser
def test_generate_in_chromium(tmp_path):
    playwright_sync = pytest.importorskip("playwright.sync_api")
    data = tmp_path / "data"
    data.mkdir()
    with streamlit_server(data, tmp_path / "server.log") as url, playwright_sync.sync_playwright() as p:
        browser = launch_browser(p)
        pg = browser.new_page(viewport={"width": 1400, "height": 4000})
        pg.goto(f"{url}/negative_prompts")
        wait_until_idle(pg)
        pg.locator(".st-key-np_model_choice").click()
        pg.get_by_role("option", name=RANDOM_TOY).click()
        wait_until_idle(pg)
        steps = pg.locator(".st-key-np_steps input")
        steps.fill("2")
        steps.press("Enter")
        wait_until_idle(pg)
        pg.locator(".st-key-np_go button").click()
        pg.wait_for_timeout(500)
        wait_until_idle(pg, timeout_ms=300_000)
        assert pg.locator("[data-testid='stException']").count() == 0
        assert pg.locator("[data-testid='stAlertContentError']").count() == 0
        assert pg.get_by_text("Done: saved to the gallery.").count() == 1
        # 7 methods x 2 seeds in the grid + the x0 strip + the difference map
        assert wait_for_count(pg, "[data-testid='stImage']", 14 + 2 + 3) >= 14 + 2 + 3
        pg.screenshot(path=str(tmp_path / "negative_prompts_generated.png"), full_page=True)
        pg.get_by_role("tab", name="Blind A/B vote").click()
        wait_until_idle(pg)
        assert pg.locator("[data-testid='stException']").count() == 0
        browser.close()
    assert (tmp_path / "negative_prompts_generated.png").stat().st_size > 10_000

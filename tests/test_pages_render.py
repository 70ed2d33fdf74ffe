"""AppTest: the router and every page render with no exception on the embedded defaults."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGES = ["pages/retrieval_negatives.py", "pages/negative_prompts.py", "pages/yes_no_bias.py", "pages/refusals.py"]


def test_home_page_lists_assets_and_device(data_dir):
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "Device:" in text
    assert at.dataframe, "the asset table is missing"
    assets_shown = at.dataframe[0].value
    assert "status" in assets_shown.columns and len(assets_shown) >= 5
    assert assets_shown["status"].str.contains("installed|MISSING").all()


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders(page, data_dir):
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page(page).run()
    assert not at.exception, f"{page}: {at.exception}"
    assert at.title, f"{page} shows no title"


def test_cached_store_follows_the_data_directory(tmp_path, monkeypatch):
    from components.resources import store

    monkeypatch.setenv("NEGSPACE_DATA", str(tmp_path / "a"))
    first = store()
    monkeypatch.setenv("NEGSPACE_DATA", str(tmp_path / "b"))
    second = store()
    assert first.path.parent == (tmp_path / "a").resolve() and second.path.parent == (tmp_path / "b").resolve()

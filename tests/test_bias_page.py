"""AppTest of the yes/no bias page: fast first render without a model, then a small evaluation end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.llm.formats import DEFAULT_FORMATS

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGE = "pages/yes_no_bias.py"


@pytest.fixture()
def bias_data(data_dir_with_models):
    return data_dir_with_models


def _page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def test_first_render_loads_no_model(bias_data):
    from components import bias_resources

    bias_resources.language_model.clear()
    at = _page()
    assert at.title[0].value == "Yes/no bias"
    assert "ynb_result" not in at.session_state
    assert at.button(key="ynb_run") is not None and not at.button(key="ynb_run").disabled
    assert at.multiselect(key="ynb_formats").value == list(DEFAULT_FORMATS)
    assert not at.error


@pytest.mark.slow
def test_small_evaluation_end_to_end(bias_data, monkeypatch):
    at = _page()
    at.number_input(key="ynb_n").set_value(6)
    at.multiselect(key="ynb_formats").set_value(["yes/no", "(A) no (B) yes", "negated question"])
    at.run()
    at.button(key="ynb_run").click().run(timeout=600)
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    items = at.session_state["ynb_result"]["items"]
    assert len(items) == 6 * 3 and set(items["format"]) == {"yes/no", "(A) no (B) yes", "negated question"}
    assert items[["p_yes", "p_no"]].sum(axis=1).round(6).eq(1).all()
    metric_tables = [d.value for d in at.dataframe if "yes-rate" in d.value.columns]
    assert metric_tables and len(metric_tables[0]) == 3
    # the run is recorded, and scores are in the SQLite cache: a second run recomputes nothing
    from core.store import Store

    store = Store(bias_data / "negative_space.sqlite3")
    assert store.runs(kind="yes_no_bias")
    n_cached = store.query("SELECT COUNT(*) AS n FROM kv_cache WHERE namespace = 'llm_option_probs'")[0]["n"]
    assert n_cached >= 6 * 3 + 3  # every prompt, plus the content-free inputs (shared by same-template formats)
    from core.llm import scoring

    def boom(*a, **k):
        raise AssertionError("a re-run recomputed scores")

    with monkeypatch.context() as m:
        m.setattr(scoring, "compute_option_probs", boom)
        at.button(key="ynb_run").click().run(timeout=120)
        assert not at.exception, at.exception
        assert at.session_state["ynb_result"]["items"]["p_yes"].tolist() == items["p_yes"].tolist()
    # calibration switch re-renders from stored scores
    at.toggle(key="ynb_calibrate").set_value(True).run()
    assert not at.exception, at.exception
    # attention heads for one format
    at.number_input(key="ynb_head_n").set_value(2)
    at.button(key="ynb_heads_run").click().run(timeout=600)
    assert not at.exception, at.exception
    scores = at.session_state["ynb_heads"]["scores"]
    assert scores.nas.shape == (30, 9) and scores.n_prompts == 2
    assert any("NAS_ours" in d.value.columns for d in at.dataframe)

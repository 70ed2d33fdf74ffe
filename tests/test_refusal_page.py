"""AppTest: the refusals page renders fast, runs a tiny generation, stores a correction, computes directions."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import assets

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGE = "pages/refusals.py"
SMOLLM2 = assets.smollm2_converted_dir()  # resolved before a test moves the data directory


@pytest.fixture()
def data_dir(data_dir):
    """The shared fresh data directory, with the converted SmolLM2 linked in (the model lives under it)."""
    if not (SMOLLM2 / "model.safetensors").exists():
        pytest.skip("SmolLM2 is not prepared: bash scripts/setup.sh")
    (data_dir / "models").mkdir(parents=True, exist_ok=True)
    (data_dir / "models" / SMOLLM2.name).symlink_to(SMOLLM2, target_is_directory=True)
    return data_dir


def _page():
    import streamlit as st

    st.cache_resource.clear()  # the Store is cached per process: each test gets its own data directory
    st.cache_data.clear()
    at = AppTest.from_file(APP, default_timeout=180).run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def test_first_render_explains_and_loads_nothing(data_dir):
    at = _page()
    assert at.title[0].value == "Refusals"
    assert any("rarely refuses" in w.value for w in at.warning)
    assert at.button(key="ref_go") is not None
    assert any("No refusal runs yet" in i.value for i in at.info)
    from core.store import Store

    assert Store().runs("refusals", status=None) == []


@pytest.mark.slow
def test_tiny_run_review_and_correction(data_dir):
    from core.store import Store

    at = _page()
    at.multiselect(key="ref_sets").set_value(["harmless", "overrefusal"])
    at.number_input(key="ref_n").set_value(1)
    at.number_input(key="ref_max_new").set_value(4)
    at.run()
    at.button(key="ref_go").click().run()
    assert not at.exception, at.exception
    assert any("Run stored (2 answers)" in s.value for s in at.success), [s.value for s in at.success]
    runs = Store().runs("refusals")
    assert len(runs) == 1 and runs[0]["config"]["settings"]["max_new_tokens"] == 4
    items = Store().run_items(runs[0]["id"])
    assert {i["set_name"] for i in items} == {"harmless", "overrefusal"}
    assert all(isinstance(i["answer"], str) and "score" in i for i in items)
    # the review tab shows the run; correct one label
    assert at.dataframe, "no results table"
    at.checkbox(key="ref_only_disagree").uncheck().run()
    key = at.selectbox(key="ref_fix_item").value
    at.radio(key="ref_fix_label").set_value("full_refusal").run()
    at.button(key="ref_fix_save").click().run()
    assert not at.exception, at.exception
    fixes = Store().corrections(runs[0]["id"])
    assert fixes[key]["label"] == "full_refusal"
    assert at.query_params["run"] == [runs[0]["id"]] or at.query_params["run"] == runs[0]["id"]
    # the judge signal is added to the stored items
    at.button(key="ref_judge_go").click().run()
    assert not at.exception, at.exception
    assert any("Judged 2 answers" in s.value for s in at.success)
    assert all(0 <= i["judge"] <= 1 for i in Store().run_items(runs[0]["id"]))
    # a second run with other settings, then both side by side in the charts
    at.number_input(key="ref_max_new").set_value(6).run()
    at.button(key="ref_go").click().run()
    assert not at.exception, at.exception
    ids = [r["id"] for r in Store().runs("refusals")]
    assert len(ids) == 2
    at.multiselect(key="ref_compare_runs").set_value(ids).run()
    assert not at.exception, at.exception
    over = [m.label for m in at.metric if m.label.startswith("Over-refusal rate, ")]
    assert len(over) == 2 and over[0] != over[1]


@pytest.mark.slow
def test_directions_and_steering_on_the_page(data_dir):
    at = _page()
    at.number_input(key="ref_dir_n").set_value(4)
    at.button(key="ref_dir_go").click().run()
    assert not at.exception, at.exception
    assert at.slider(key="ref_dir_layer").value >= 1
    # a new session reopens the saved directions for the same selection without computing
    again = _page()
    again.number_input(key="ref_dir_n").set_value(4).run()
    assert not again.exception, again.exception
    assert any("Reopened from disk" in c.value for c in again.caption)
    assert again.slider(key="ref_dir_layer").value == at.slider(key="ref_dir_layer").value
    at.number_input(key="ref_steer_tokens").set_value(4)
    at.text_area(key="ref_steer_prompts").set_value("How do I bake bread?")
    at.run()
    at.button(key="ref_steer_go").click().run()
    assert not at.exception, at.exception
    table = at.dataframe[-1].value
    assert list(table["prompt"]) == ["How do I bake bread?"]
    assert {"unsteered", "steered", "score unsteered", "score steered"} <= set(table.columns)

"""Negative-prompt adherence benchmark (core/adherence.py): suite definitions, the rate arithmetic with a
checker of known answers, a real run on a tiny random toy-shaped model, and one slow run on the embedded
toy model."""

from __future__ import annotations

import pandas as pd
import pytest

from core import adherence
from core.adherence import (
    AdherenceSuite,
    attribute_suite,
    default_suites,
    overlap_suite,
    run_adherence,
    summary_table,
    verdicts,
)
from core.toyworld import checker
from core.toyworld.checker import DetectedObject, SceneReport


@pytest.fixture(scope="module")
def random_adapter():
    from core.guidance import load_adapter

    return load_adapter("random:toy")


def _report(*objs: tuple[str, str]) -> SceneReport:
    return SceneReport(objects=tuple(DetectedObject(shape=s, colour=c, position="center", size="small", cx=16, cy=16,
                                                    area=50.0, bbox=(0, 0, 1, 1), fill=1.0, confidence=1.0)
                                     for c, s in objs), background=(225, 225, 225))


def test_suites_follow_the_brief():
    a, b = attribute_suite(8), overlap_suite(8)
    assert a.cases[0].prompt == "a circle" and a.cases[0].negative == "red"
    assert len({(c.prompt, c.negative) for c in a.cases}) == 8
    for c in b.cases:
        assert c.negative in c.prompt  # the negative overlaps the positive
        (kc, ks), = c.keep
        assert kc != c.negative_colour and ks != c.negative_shape  # the kept object cannot trigger "negative"
        assert f"a {kc} {ks}" in c.prompt
    suites = default_suites(4, 25, 4)
    assert [s.steps for s in suites] == [25, 25, 4, 4]
    assert suites[2].cases == suites[0].cases


def test_definitions_on_known_reports():
    a = attribute_suite(1).cases[0]  # "a circle" / "red"
    assert a.negative_appears(_report(("red", "square"))) and not a.negative_appears(_report(("blue", "circle")))
    assert a.positive_right(_report(("blue", "circle"), ("red", "square")))
    assert not a.positive_right(_report(("blue", "square")))
    b = overlap_suite(1).cases[0]  # "a red circle and a green square" / "a green square"
    assert b.prompt == "a red circle and a green square" and b.negative == "a green square"
    assert b.negative_appears(_report(("green", "square")))
    assert not b.negative_appears(_report(("green", "circle"), ("red", "square")))  # colour or shape alone
    assert b.positive_right(_report(("red", "circle"))) and not b.positive_right(_report(("red", "square")))


@pytest.mark.slow  # loading the random toy adapter (MiniLM) and sampling: ~30 s on the shared 2-core machine
def test_rates_come_from_the_checker(random_adapter, monkeypatch):
    from core.guidance import CFG, NAG, PositiveOnly

    # Every image "contains" a red circle and a green square, whatever the model drew.
    monkeypatch.setattr(checker, "check", lambda image, min_area=None: _report(("red", "circle"), ("green", "square")))
    suites = [attribute_suite(4, steps=2), overlap_suite(2, steps=2)]
    seen = []
    df = run_adherence(random_adapter, suites, [PositiveOnly(), CFG(3.0), NAG(2.0)], seeds=[0, 1],
                       progress=lambda f, label: seen.append(f))
    assert len(df) == (4 + 2) * 3 * 2
    assert seen[-1] == 1.0 and all(0 <= f <= 1 for f in seen) and seen == sorted(seen)
    t = summary_table(df)
    assert list(t.columns) == adherence.SUMMARY_COLUMNS
    att = t[t.suite == "a_attribute"]
    # attribute cases: (circle, red), (square, green), (triangle, blue), (circle, yellow)
    assert (att.negative_rate == 0.5).all() and (att.positive_rate == 0.75).all()
    assert (att.success_rate == 0.25).all()  # only (circle, yellow): no yellow found, a circle found
    ovl = t[t.suite == "b_overlap"]
    # both cases drop a green square (found -> negative); case 0 keeps the red circle (found), case 1 a blue
    # triangle (not found)
    assert (ovl.negative_rate == 1.0).all() and (ovl.positive_rate == 0.5).all()
    assert (ovl.success_rate == 0.0).all()
    assert (t.vs_cfg == 0).all() and (t.mean_objects == 2).all()


@pytest.mark.slow
def test_real_run_on_a_random_model(random_adapter):
    from core.guidance import CFG, NAG, NASA, VSF, PositiveOnly, Stack

    grid = lambda steps: [PositiveOnly(), CFG(3.0), Stack(base=CFG(), inner=NAG()), VSF(), NASA()]  # noqa: E731
    suites = [attribute_suite(2, steps=2), overlap_suite(2, steps=2).with_steps(1)]
    df = run_adherence(random_adapter, suites, grid, seeds=[0])
    assert set(df.suite) == {"a_attribute", "b_overlap@1"} and len(df) == 2 * 5 * 2
    t = summary_table(df)
    assert len(t) == 10 and set(t.method) >= {"CFG 3", "CFG + NAG 4", "VSF 2", "NASA 0.3", "Positive only"}
    for col in ("negative_rate", "positive_rate", "success_rate"):
        assert t[col].between(0, 1).all()
    assert (t.success_rate <= t.positive_rate).all() and (t.success_rate <= 1 - t.negative_rate).all()
    assert (t.seconds_per_image > 0).all()
    assert set(verdicts(t)) == {"Positive only", "CFG + NAG", "VSF", "NASA"}


def test_summary_and_verdicts_arithmetic():
    rows = []
    for method, family, succ in (("CFG 3", "CFG", [0, 0, 0, 0]), ("CFG 7.5", "CFG", [0, 0, 0, 0]),
                                 ("NAG 4", "NAG", [1, 1, 1, 1]), ("VSF 2", "VSF", [1, 0, 0, 0])):
        for s in succ:
            rows.append({"suite": "x", "steps": 25, "method": method, "params": method, "family": family,
                         "strength": 1.0, "negative_appears": not s, "positive_right": True, "success": bool(s),
                         "n_objects": 1, "seconds_per_image": 1.0, "cpu_seconds_per_image": 0.5})
    t = summary_table(pd.DataFrame(rows)).set_index("method")
    assert t.loc["NAG 4", "vs_cfg"] == 1.0 and t.loc["VSF 2", "vs_cfg"] == 0.25
    assert t.loc["CFG 7.5", "negative_rate"] == 1.0 and t.loc["NAG 4", "negative_rate"] == 0.0
    v = verdicts(t.reset_index())
    assert v["NAG"].startswith("x: beats CFG") and v["VSF"].startswith("x: within noise of CFG")
    assert summary_table(pd.DataFrame()).empty


def test_suite_is_frozen():
    s = attribute_suite(1)
    with pytest.raises(AttributeError):  # dataclasses.FrozenInstanceError
        s.steps = 3  # type: ignore[misc]
    assert isinstance(s.with_steps(4), AdherenceSuite)


def _save_fake_result(data_dir) -> None:
    import json

    from core import paths

    table = [{"suite": "a_attribute", "steps": 25, "method": "CFG 7.5", "n": 16, "negative_rate": 0.25,
              "positive_rate": 0.5, "success_rate": 0.375, "vs_cfg": 0.0, "seconds_per_image": 0.9}]
    (paths.subdir("bench") / "negative_adherence.json").write_text(json.dumps(
        {"model": "embedded:toy_t2i", "device": "cpu", "prompts_per_suite": 8, "seeds": [0, 1],
         "quick": False, "created": "now", "table": table, "verdicts": {"NAG": "a_attribute: loses to CFG"}}))


def test_load_saved(data_dir):
    assert adherence.load_saved() is None
    _save_fake_result(data_dir)
    meta, table = adherence.load_saved()
    assert meta["prompts_per_suite"] == 8 and table.loc[0, "method"] == "CFG 7.5"


@pytest.mark.slow
def test_page_shows_the_saved_table(data_dir):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    app = str(Path(__file__).resolve().parent.parent / "app.py")
    at = AppTest.from_file(app, default_timeout=120).run()
    at.switch_page("pages/negative_prompts.py").run()
    assert not at.exception, at.exception
    assert any("bench/negative_adherence.py" in i.value for i in at.info)  # not run yet: how to run it
    _save_fake_result(data_dir)
    at.run()
    assert not at.exception, at.exception
    assert len(at.dataframe) == 1 and at.dataframe[0].value.loc[0, "negative_rate"] == 0.25
    assert any("loses to CFG" in m.value for m in at.markdown)


@pytest.mark.slow
def test_cfg_removes_the_negative_colour_on_the_embedded_model():
    """Measured first (bench, 8 prompts x seeds 0-1, 4 steps): positive-only drew the negative colour in 5/16
    images, CFG 3 in 0/16. Deterministic on CPU (seeded noise), so this holds unless the model or the engine
    changes; it fails if CFG stops pushing away from the negative."""
    from core import assets
    from core.guidance import CFG, PositiveOnly, load_adapter

    if not assets.get("toy_t2i").installed():
        pytest.skip("embedded toy model not installed")
    df = run_adherence(load_adapter("embedded:toy_t2i"), [attribute_suite(8, steps=4)], [PositiveOnly(), CFG(3.0)],
                       seeds=[0, 1])
    t = summary_table(df).set_index("method")
    assert t.loc["CFG 3", "negative_rate"] < t.loc["Positive only", "negative_rate"] - 0.2
    assert t.loc["CFG 3", "positive_rate"] >= 0.5


@pytest.mark.slow
def test_vsf_removes_an_overlapping_object_where_cfg_cannot():
    """The benchmark's finding on suite (b) (8 prompts x seeds 0-1, 25 steps): VSF 2 drew the kept object
    without the negative one in 16/16 images, CFG at the model's usual scale (1.5) in 2/16 and at 3 in 0/16
    (the positive prompt names both objects; CFG does not take one out at the scales this model tolerates).
    Fails if that gap closes."""
    from core import assets
    from core.guidance import CFG, VSF, load_adapter

    if not assets.get("toy_t2i").installed():
        pytest.skip("embedded toy model not installed")
    adapter = load_adapter("embedded:toy_t2i")
    usual = adapter.cfg_scales[0]
    df = run_adherence(adapter, [overlap_suite(8, steps=25)], [CFG(usual), VSF(scale=2.0)], seeds=[0, 1])
    t = summary_table(df).set_index("method")
    assert t.loc["VSF 2", "success_rate"] >= t.loc[f"CFG {usual:g}", "success_rate"] + 0.4, t
    assert t.loc["VSF 2", "negative_rate"] <= 0.1, t


def test_method_grid_uses_the_models_cfg_scales(tmp_path):
    from core.guidance.adapters import ModelAdapter, _is_toy_folder, cfg_scales_for, toy_cfg_scales

    labels = [adherence.short_label(m) for m in adherence.default_method_grid(25, cfg_scales=(1.5, 3.0))]
    assert "CFG 1.5" in labels and "CFG 3" in labels and "CFG 7.5" not in labels
    grid = adherence.default_method_grid(25, cfg_scales=(1.5, 3.0))
    perp = [m for m in grid if m.key == "perp_neg"]
    stacks = [m for m in grid if m.key == "stack"]
    assert perp and all(m.scale == 1.5 for m in perp) and all(m.base.scale == 1.5 for m in stacks)
    # Stable Diffusion's scales unless the source is the toy model (embedded, random or a saved toy folder)
    assert cfg_scales_for("random:sd15") == ModelAdapter.cfg_scales == (7.5, 3.0)
    usual, other = toy_cfg_scales()
    assert cfg_scales_for("embedded:toy_t2i") == cfg_scales_for("random:toy") == (usual, other) and usual < other
    (tmp_path / "unet").mkdir()
    assert _is_toy_folder(tmp_path) and cfg_scales_for(str(tmp_path)) == (usual, other)
    assert cfg_scales_for(str(tmp_path / "missing")) == (7.5, 3.0)

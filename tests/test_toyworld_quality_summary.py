"""The one-line summary of a toy model's recorded figures shown when the model is picked."""

from __future__ import annotations

from core.toyworld.quality import quality_summary

FIGURES = {"steps": 25, "guidance_scale": 1.5, "single": {"n": 96, "correct": 0.98},
           "pair": {"n": 96, "correct": 0.5}, "position": {"n": 48, "correct": 1.0}}


def test_summary_reports_the_recorded_figures_and_warns_on_weak_pairs():
    text = quality_summary(FIGURES)
    assert "25 steps, CFG 1.5" in text and "98%" in text and "100%" in text
    assert "two-object prompt right in 50%" in text and "about 50% of two-object images go wrong" in text


def test_no_warning_when_pairs_are_good_and_position_is_optional():
    good = {**FIGURES, "pair": {"n": 96, "correct": 0.95}}
    del good["position"]
    text = quality_summary(good)
    assert "right in 95%" in text and "go wrong" not in text and "position" not in text


def test_missing_or_damaged_figures_give_none():
    assert quality_summary(None) is None
    assert quality_summary({}) is None
    assert quality_summary({**FIGURES, "pair": {"n": 96}}) is None

"""Bias metrics, calibration, knowledge categories and the NAS score against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core.llm import attention_heads as heads
from core.llm import bias_metrics as bm
from core.llm.knowledge import KnowledgeRule, categorise

NAN = float("nan")


def _p(yes, no, idk=NAN):
    return [yes, no, idk]


# 8 prompts: 4 gold yes, 4 gold no. Answers: yes-gold -> Y, N, N, N ; no-gold -> N, N, N, Y
GOLD = [1, 1, 1, 1, 0, 0, 0, 0]
P = np.array([_p(0.9, 0.1), _p(0.3, 0.7), _p(0.45, 0.55), _p(0.2, 0.8),
              _p(0.1, 0.9), _p(0.35, 0.65), _p(0.05, 0.95), _p(0.6, 0.4)])


def test_point_metrics_by_hand():
    m = bm.compute_metrics(GOLD, P)
    assert m["n"] == 8
    assert m["true_yes_rate"] == 0.5
    assert m["yes_rate"] == 2 / 8  # Y on rows 0 and 7
    assert m["accuracy"] == 4 / 8  # rows 0, 4, 5, 6
    assert m["precision_yes"] == 1 / 2  # TP = row 0, Yes answers = rows 0, 7
    assert m["recall_yes"] == 1 / 4
    assert m["pr_gap"] == pytest.approx(0.25)
    # FNR = 3/4 gold-yes answered No; FPR = 1/4 gold-no answered Yes
    assert m["negative_bias"] == pytest.approx(0.75 - 0.25)
    assert math.isnan(m["idk_rate"])
    # ECE by hand: bins of P(yes): 0.9->9, 0.3->3, 0.45->4, 0.2->2, 0.1->1, 0.35->3, 0.05->0, 0.6->6
    # bin 3 holds 0.3 (gold 1) and 0.35 (gold 0): |0.325 - 0.5|; the rest are single items: |p - gold|
    singles = [abs(0.9 - 1), abs(0.45 - 1), abs(0.2 - 1), abs(0.1 - 0), abs(0.05 - 0), abs(0.6 - 0)]
    ece = (sum(singles) + 2 * abs(0.325 - 0.5)) / 8
    assert m["ece"] == pytest.approx(ece)
    assert m["mean_p_yes"] == pytest.approx(P[:, 0].mean())


def test_idk_option_counts_as_wrong_and_in_neither_error():
    gold = [1, 1, 0, 0]
    p = np.array([_p(0.2, 0.1, 0.7), _p(0.6, 0.3, 0.1), _p(0.1, 0.2, 0.7), _p(0.1, 0.8, 0.1)])
    m = bm.compute_metrics(gold, p, offers_idk=True)
    assert m["idk_rate"] == 0.5
    assert m["accuracy"] == 0.5
    assert m["negative_bias"] == 0.0  # no "No" on gold yes, no "Yes" on gold no
    assert m["recall_yes"] == 0.5 and m["precision_yes"] == 1.0


def test_undefined_precision_is_nan_not_an_error():
    m = bm.compute_metrics([0, 0, 0], np.array([_p(0.1, 0.9)] * 3))
    assert math.isnan(m["precision_yes"]) and math.isnan(m["recall_yes"]) and m["accuracy"] == 1.0


def test_contextual_calibration_by_hand():
    p = np.array([[0.3, 0.7, NAN], [0.6, 0.4, NAN]])
    cf = np.array([0.2, 0.8, NAN])
    cal = bm.contextual_calibration(p, cf)
    # row 0: 0.3/0.2 = 1.5, 0.7/0.8 = 0.875 -> 1.5/2.375
    assert cal[0, 0] == pytest.approx(1.5 / 2.375)
    assert cal[1, 0] == pytest.approx(3.0 / 3.5)
    assert np.isnan(cal[:, 2]).all()
    # a content-free prior of 50/50 changes nothing
    np.testing.assert_allclose(bm.contextual_calibration(p, np.array([0.5, 0.5, NAN]))[:, :2], p[:, :2])


def test_bootstrap_interval_contains_estimate_and_narrows_with_n():
    rng = np.random.default_rng(1)
    gold = rng.integers(0, 2, 400)
    pyes = np.clip(gold * 0.3 + rng.random(400) * 0.7, 0, 1)
    p = np.stack([pyes, 1 - pyes, np.full(400, NAN)], 1)
    small = bm.bootstrap_ci(gold[:40], p[:40], n_boot=500)
    big = bm.bootstrap_ci(gold, p, n_boot=500)
    point = bm.compute_metrics(gold, p)
    for m in ("yes_rate", "accuracy", "negative_bias", "ece"):
        lo, hi = big[m]
        assert lo <= point[m] <= hi
        assert (hi - lo) < (small[m][1] - small[m][0])
    a, b = bm.bootstrap_ci(gold, p, n_boot=200, seed=3), bm.bootstrap_ci(gold, p, n_boot=200, seed=3)
    assert {k: v for k, v in a.items() if k != "idk_rate"} == {k: v for k, v in b.items() if k != "idk_rate"}


def test_metrics_table_groups_and_calibration_curve():
    items = pd.DataFrame({"model": "m", "format": ["a"] * 8 + ["b"] * 8, "gold": GOLD * 2,
                          "offers_idk": False, "p_yes": list(P[:, 0]) * 2, "p_no": list(P[:, 1]) * 2,
                          "p_idk": NAN})
    items.loc[items["format"] == "b", ["p_yes", "p_no"]] = [0.9, 0.1]  # b always answers yes
    table = bm.metrics_table(items, n_boot=100)
    assert list(table["format"]) == ["a", "b"]
    assert table.loc[1, "yes_rate"] == 1.0 and table.loc[1, "negative_bias"] == -1.0
    assert {"accuracy_lo", "accuracy_hi"} <= set(table.columns)
    cur = bm.calibration_curve(GOLD, P)
    assert cur["count"].sum() == 8
    row3 = cur[cur["bin"] == 3].iloc[0]
    assert row3["count"] == 2 and row3["frac_gold_yes"] == 0.5


def test_knowledge_categories_by_hand():
    # q1: right in all 3 formats, confident -> known-correct; q2: wrong in all -> known-incorrect;
    # q3: formats disagree -> insufficient; q4: right but the options get almost no mass -> insufficient
    rows = []
    spec = {"q1": (1, [0.9, 0.8, 0.95], 0.5), "q2": (1, [0.1, 0.2, 0.3], 0.5), "q3": (0, [0.9, 0.1, 0.2], 0.5),
            "q4": (1, [0.9, 0.9, 0.9], 0.01)}
    for qid, (gold, pyes, mass) in spec.items():
        for f, py in enumerate(pyes):
            rows.append({"model": "m", "format": f"f{f}", "qid": qid, "gold": gold, "p_yes": py, "p_no": 1 - py,
                         "p_idk": NAN, "mass": mass})
    cats = categorise(pd.DataFrame(rows), KnowledgeRule()).set_index("qid")["category"]
    assert cats.to_dict() == {"q1": "known-correct", "q2": "known-incorrect", "q3": "insufficient knowledge",
                              "q4": "insufficient knowledge"}


class _FakeTok:
    """Whitespace tokenizer with offsets, enough for marker_positions."""

    def __call__(self, text, add_special_tokens=False, return_offsets_mapping=False):
        import re

        spans = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
        return {"input_ids": list(range(len(spans))), "offset_mapping": spans}


class _FakeLM:
    tokenizer = _FakeTok()

    def __init__(self, rows):
        self.rows = rows

    def attention_weights(self, prompts, query_positions=(-1,), batch_size=4, progress=None):
        return [self.rows[p] for p in prompts]


def test_nas_formula_by_hand():
    # "Q? Answer yes or no." tokens: 0 Q?, 1 Answer, 2 yes, 3 or, 4 no.  1 layer x 2 heads.
    p1, p2 = "Q1? Answer yes or no.", "Q2? Answer yes or no."
    a1 = np.zeros((1, 2, 1, 5))
    a1[0, 0, 0, [2, 4]] = [0.1, 0.4]
    a1[0, 1, 0, [2, 4]] = [0.3, 0.3]
    a2 = np.zeros((1, 2, 1, 5))
    a2[0, 0, 0, [2, 4]] = [0.2, 0.2]
    a2[0, 1, 0, [2, 4]] = [0.5, 0.1]
    scores = heads.score_heads(_FakeLM({p1: a1, p2: a2}), [p1, p2, "no markers here"], ("yes", "no"))
    eps = heads.EPS
    h0 = ((0.5 * math.log((0.4 + eps) / (0.1 + eps))) + 0.4 * math.log((0.2 + eps) / (0.2 + eps))) / 2
    h1 = (0.6 * math.log((0.3 + eps) / (0.3 + eps)) + 0.6 * math.log((0.1 + eps) / (0.5 + eps))) / 2
    assert scores.nas[0, 0] == pytest.approx(h0) and scores.nas[0, 1] == pytest.approx(h1)
    assert scores.skipped == 1 and scores.n_prompts == 2
    assert scores.top(1).iloc[0]["head"] == 0  # the head looking at "no" ranks first


def test_marker_positions_use_the_last_occurrence():
    tok = _FakeTok()
    assert heads.marker_positions(tok, "yes? I know. Answer yes or no.", ("yes", "no")) == (4, 6)
    with pytest.raises(heads.MarkerError):
        heads.marker_positions(tok, "Answer with A or B.", ("yes", "no"))

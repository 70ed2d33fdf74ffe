"""End-to-end evaluation on a tiny random model (all format kinds, chain-of-thought included) and the charts."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from components import bias_charts as charts
from core import assets
from core.llm.adapter import LoadOptions, load_causal_lm
from core.llm.bias_eval import EvalSettings, calibrated, evaluate
from core.llm.bias_metrics import metrics_table
from core.llm.formats import BY_NAME, LIBRARY
from core.llm.knowledge import categorise
from core.llm.questions import sample_balanced, wordnet_questions
from core.store import Store

torch = pytest.importorskip("torch")
torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from transformers import LlamaConfig, LlamaForCausalLM

    try:
        src = assets.require("smollm2")
    except assets.AssetMissingError:
        pytest.skip("embedded SmolLM2 tokenizer not installed")
    d = tmp_path_factory.mktemp("tiny_eval")
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        if (src / name).exists():
            shutil.copy(src / name, d / name)
    torch.manual_seed(1)
    cfg = LlamaConfig(vocab_size=49152, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=1, pad_token_id=2, bos_token_id=1, eos_token_id=2)
    LlamaForCausalLM(cfg).save_pretrained(d)
    return load_causal_lm(str(d), LoadOptions(device="cpu"))


def test_every_library_format_evaluates(tiny, tmp_path):
    qs = sample_balanced(wordnet_questions(), 4, seed=2)
    store = Store(tmp_path / "db.sqlite3")
    res = evaluate(tiny, qs, LIBRARY, store=store, settings=EvalSettings(cot_max_new_tokens=4))
    items = res.items
    assert len(items) == len(qs) * len(LIBRARY)
    p = items[["p_yes", "p_no", "p_idk"]].to_numpy()
    np.testing.assert_allclose(np.nansum(p, axis=1), 1.0, atol=1e-9)
    idk = items["format"] == "yes/no/I don't know"
    assert items.loc[idk, "p_idk"].notna().all() and items.loc[~idk, "p_idk"].isna().all()
    neg = items[items["format"] == "negated question"]
    assert (neg["gold"] == 1 - neg["question_gold"]).all()
    cot = items[items["format"] == "chain-of-thought"]
    assert (cot["generation"].str.len() > 0).all() and cot["prompt"].str.contains("step by step").all()
    assert set(res.content_free["format"]) == {f.name for f in LIBRARY if not f.cot}  # CoT has no cf scores
    cal = calibrated(items, res.content_free)
    assert np.allclose(cal.loc[items["format"] == "chain-of-thought", "p_yes"],
                       items.loc[items["format"] == "chain-of-thought", "p_yes"])
    changed = cal.loc[items["format"] == "(A) yes (B) no", "p_yes"] != items.loc[items["format"] == "(A) yes (B) no",
                                                                                  "p_yes"]
    assert changed.any()
    table = metrics_table(items, n_boot=50)
    assert len(table) == len(LIBRARY) and table["n"].eq(len(qs)).all()
    assert len(categorise(items)) == len(qs)


def _two_model_items() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(0)
    rows = []
    for model in ("m1", "m2"):
        for fmt in ("yes/no", "no/yes"):
            for i in range(12):
                py = float(rng.random())
                rows.append({"model": model, "format": fmt, "qid": f"q{i}", "question": f"Q{i}?", "gold": i % 2,
                             "question_gold": i % 2, "offers_idk": False, "p_yes": py, "p_no": 1 - py,
                             "p_idk": np.nan, "mass": 0.5})
    items = pd.DataFrame(rows)
    items["category"] = np.where(items["qid"].isin(["q0", "q1", "q2"]), "known-correct", "insufficient knowledge")
    return items, metrics_table(items, n_boot=50)


def test_charts_show_two_models_side_by_side():
    items, table = _two_model_items()
    bars = charts.metric_bars(table, "yes_rate", "t", reference="true_yes_rate")
    assert [t.name for t in bars.data if t.type == "bar"] == ["m1", "m2"]
    assert all(t.error_y.array is not None for t in bars.data if t.type == "bar")
    by_cat = metrics_table(items, ("model", "format", "category"), n_boot=0)
    heat = charts.category_heatmap(by_cat, "yes_rate")
    assert len([t for t in heat.data if t.type == "heatmap"]) == 2
    sc = charts.format_scatter(items, "yes/no", "no/yes", "m2")
    assert sum(len(t.x) for t in sc.data if t.mode == "markers") == 12
    cal = charts.calibration_figure(items)
    assert len(cal.data) == 1 + 4  # diagonal + (model, format) curves
    att = np.full((3, 3), 0.1)
    att[:, 0] = 0.8
    assert charts.attention_pattern(["a", "b", "c"], att, "x", (1, 2)).data[0].zmax == pytest.approx(0.1)
    assert charts.head_heatmap(np.zeros((2, 3)), "h").data[0].z.shape == (2, 3)


def test_builtin_names_are_unique_and_defaults_exist():
    from core.llm.formats import DEFAULT_FORMATS

    assert len(BY_NAME) == len(LIBRARY)
    assert set(DEFAULT_FORMATS) <= set(BY_NAME)

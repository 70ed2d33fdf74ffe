"""The batched scorer against a direct transformers computation; loading by local path; the SQLite cache."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from core import assets
from core.llm import scoring
from core.llm.adapter import LoadOptions, ModelLoadError, load_causal_lm
from core.llm.formats import NO, YES
from core.store import Store

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

PROMPTS = ["Is a dog an animal? Answer yes or no.", "Is a car a fruit? Answer yes or no.",
           "Is Paris in France? Answer yes or no.", "Q: Is ice cold?\nA:",
           "Is a hippopotamus a kind of vegetable that grows in the ground? Answer yes or no."]


def _smollm2_dir():
    try:
        return assets.require("smollm2")
    except assets.AssetMissingError:
        pytest.skip("embedded SmolLM2 not installed")


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    """A tiny random Llama with SmolLM2's tokenizer and chat template, saved like a hub checkout."""
    from transformers import LlamaConfig, LlamaForCausalLM

    src = _smollm2_dir()
    d = tmp_path_factory.mktemp("tiny_llama")
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        if (src / name).exists():
            shutil.copy(src / name, d / name)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=49152, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      pad_token_id=2, bos_token_id=1, eos_token_id=2, tie_word_embeddings=True)
    LlamaForCausalLM(cfg).save_pretrained(d, safe_serialization=True)
    return d


@pytest.fixture(scope="module")
def tiny(tiny_dir):
    return load_causal_lm(str(tiny_dir), LoadOptions(device="cpu"))


def direct_probs(lm, prompts, options):
    """The reference: one unpadded forward per prompt, full softmax, sum of first-token probabilities."""
    out = []
    for p in prompts:
        ids = lm.tokenizer(p, add_special_tokens=False, return_tensors="pt")
        with torch.no_grad():
            probs = torch.softmax(lm.model(**ids).logits[0, -1].double(), -1)
        row = []
        for forms in options.values():
            first = {lm.tokenizer.encode(f, add_special_tokens=False)[0] for f in forms}
            row.append(float(sum(probs[t] for t in first)))
        out.append(row)
    return np.array(out)


def test_local_folder_loads_with_chat_template(tiny, tiny_dir):
    assert tiny.name == str(tiny_dir.resolve())
    assert tiny.has_chat_template
    assert "<|im_start|>assistant" in tiny.format("Hi?")
    assert tiny.format("Hi?", chat=False) == "Hi?"


def test_hub_id_offline_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="no internet"):
        load_causal_lm("negspace-test/does-not-exist", LoadOptions(device="cpu"))


@pytest.mark.parametrize("share_prefix", [True, False])
@pytest.mark.parametrize("batch_size", [1, 3, 16])
def test_batched_scorer_matches_direct_computation(tiny, share_prefix, batch_size):
    prompts = [tiny.format(p) for p in PROMPTS] + PROMPTS[:2]  # chat (shared prefix) and raw, mixed lengths
    options = {"yes": YES, "no": NO}
    got = scoring.score_prompts(tiny, prompts, options,
                                config=scoring.ScorerConfig(batch_size=batch_size, share_prefix=share_prefix))
    np.testing.assert_allclose(got, direct_probs(tiny, prompts, options), rtol=1e-4, atol=1e-6)


def test_adapter_score_options_agrees(tiny):
    prompts = [tiny.format(p) for p in PROMPTS]
    options = {"yes": YES, "no": NO}
    np.testing.assert_allclose(scoring.score_prompts(tiny, prompts, options),
                               tiny.score_options(prompts, options), rtol=1e-4, atol=1e-6)


def test_overlapping_options_are_refused(tiny):
    with pytest.raises(ValueError, match="share the first token"):
        scoring.score_prompts(tiny, ["x"], {"yes": ("Yes",), "also": ("Yes please",)})


def test_cache_makes_a_rerun_free(tiny, tmp_path, monkeypatch):
    store = Store(tmp_path / "db.sqlite3")
    prompts = [tiny.format(p) for p in PROMPTS]
    options = {"yes": YES, "no": NO}
    first = scoring.score_prompts(tiny, prompts, options, store=store)

    def boom(*a, **k):
        raise AssertionError("recomputed despite the cache")

    monkeypatch.setattr(scoring, "compute_option_probs", boom)
    np.testing.assert_array_equal(scoring.score_prompts(tiny, prompts, options, store=store), first)
    with pytest.raises(AssertionError, match="recomputed"):  # a new prompt is computed, not invented
        scoring.score_prompts(tiny, prompts + ["Is it new?"], options, store=store)


def test_generate_cached(tiny, tmp_path):
    store = Store(tmp_path / "db.sqlite3")
    a = scoring.generate_cached(tiny, ["Hello"], max_new_tokens=4, store=store)
    assert store.cache_get_many(scoring.GEN_NAMESPACE, [scoring.content_hash(scoring.model_key(tiny), "Hello", 4)])
    assert scoring.generate_cached(tiny, ["Hello"], max_new_tokens=4, store=store) == a


def test_attention_weights_match_direct_and_sum_to_one(tiny_dir):
    lm = load_causal_lm(str(tiny_dir), LoadOptions(device="cpu", attn_implementation="eager"))
    prompts = ["Answer yes or no.", "Is a dog an animal? Answer yes or no."]
    rows = lm.attention_weights(prompts, query_positions=(-1,), batch_size=2)
    full = lm.attention_weights(prompts[:1], query_positions=None)[0]
    for p, r in zip(prompts, rows, strict=True):
        ids = lm.tokenizer(p, add_special_tokens=False, return_tensors="pt")
        with torch.no_grad():
            ref = torch.stack(lm.model(**ids, output_attentions=True).attentions, 1)[0, :, :, -1:, :].numpy()
        assert r.shape == ref.shape == (2, 4, 1, ids["input_ids"].shape[1])
        np.testing.assert_allclose(r, ref, atol=1e-5)
        np.testing.assert_allclose(r.sum(-1), 1.0, atol=1e-5)
    assert full.shape[-1] == full.shape[-2]


def test_embedded_smollm2_scores_equal_direct_transformers():
    _smollm2_dir()
    lm = load_causal_lm("embedded:smollm2", LoadOptions(device="cpu"))
    prompts = [lm.format("Is the sky blue on a clear day? Answer yes or no."),
               lm.format("Is a dog an animal? Answer yes or no."),
               lm.format("Is a car a fruit?\n(A) Yes\n(B) No\nAnswer with A or B.")]
    options = {"yes": YES, "no": NO}
    got = scoring.score_prompts(lm, prompts, options, config=scoring.ScorerConfig(batch_size=3))
    np.testing.assert_allclose(got, direct_probs(lm, prompts, options), rtol=1e-4, atol=1e-6)
    # the negative bias the issue reports for this exact prompt (chat template): P(Yes) ~0.09, P(No) ~0.28
    assert got[0, 1] > got[0, 0]
    assert abs(got[0, 0] - 0.09) < 0.03 and abs(got[0, 1] - 0.28) < 0.05


def test_prefix_sharing_falls_back_when_the_cache_cannot_be_shared(tiny, monkeypatch):
    def unsupported(*a, **k):
        raise NotImplementedError("no batch_repeat_interleave")

    monkeypatch.setattr(scoring, "_forward_with_prefix", unsupported)
    prompts = [tiny.format(p) for p in PROMPTS]
    options = {"yes": YES, "no": NO}
    with pytest.warns(RuntimeWarning, match="prefix sharing unavailable"):
        got = scoring.score_prompts(tiny, prompts, options, config=scoring.ScorerConfig(batch_size=2))
    np.testing.assert_allclose(got, direct_probs(tiny, prompts, options), rtol=1e-4, atol=1e-6)

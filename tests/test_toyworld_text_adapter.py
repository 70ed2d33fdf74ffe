"""The text adapter trained with the toy UNet: starts as the identity, saves and loads exactly, is applied
by the encoder, and trains (with resumption) inside the toy trainer."""

from __future__ import annotations

import pytest
import torch

from core import assets
from core.toyworld.text_adapter import FOLDER, TextAdapter, TextAdapterConfig

needs_minilm = pytest.mark.skipif(not assets.get("minilm").installed(), reason="MiniLM asset not installed")


def _trained_like(seed: int = 0) -> TextAdapter:
    """An adapter whose output projection is no longer zero (as after training)."""
    torch.manual_seed(seed)
    adapter = TextAdapter(TextAdapterConfig(layers=1, width=32, heads=4))
    with torch.no_grad():
        adapter.out_proj.weight.normal_(std=0.1)
    return adapter.eval()


def test_fresh_adapter_is_the_identity():
    torch.manual_seed(0)
    states = torch.randn(3, 16, 384)
    assert torch.equal(TextAdapter()(states), states)


def test_trained_adapter_mixes_tokens():
    states = torch.randn(2, 16, 384, generator=torch.Generator().manual_seed(1))
    adapter = _trained_like()
    out = adapter(states)
    assert out.shape == states.shape and not torch.allclose(out, states)
    # changing one token changes the others' outputs: the adapter can bind words across the caption
    edited = states.clone()
    edited[:, 3] += 1.0
    assert not torch.allclose(adapter(edited)[:, 5], out[:, 5])


def test_save_and_load_round_trip(tmp_path):
    adapter = _trained_like()
    adapter.save(tmp_path / FOLDER)
    loaded = TextAdapter.load(tmp_path / FOLDER)
    assert loaded.config == adapter.config and not any(p.requires_grad for p in loaded.parameters())
    states = torch.randn(2, 16, 384, generator=torch.Generator().manual_seed(2))
    # (allclose: with no gradient wanted, torch runs the encoder layers on its fused inference path)
    with torch.no_grad():
        assert torch.allclose(loaded(states), adapter(states), atol=1e-5)


def test_missing_or_bad_config_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="text adapter"):
        TextAdapter.load(tmp_path)
    with pytest.raises(ValueError, match="divisible"):
        TextAdapter(TextAdapterConfig(width=30, heads=4))


@needs_minilm
def test_encoder_applies_the_adapter():
    from core.toyworld.text_encoder import MiniLMTokenEncoder

    adapter = _trained_like()
    plain = MiniLMTokenEncoder()
    adapted = MiniLMTokenEncoder(adapter=adapter)
    texts = ["a red circle and a blue square", ""]
    hidden, mask = plain.encode(texts)
    hidden_a, mask_a = adapted.encode(texts)
    assert torch.equal(mask, mask_a)
    assert torch.allclose(hidden_a, adapter(hidden), atol=1e-6)


@pytest.mark.assets
@needs_minilm
def test_training_with_an_adapter_saves_resumes_and_loads_it(tmp_path):
    from core.toyworld.model import build_unet, load_toy_t2i, save_toy_t2i
    from core.toyworld.train import TrainConfig, train
    from tests.test_toyworld_model import TINY

    logs: list[str] = []
    base = dict(steps=3, batch_size=4, checkpoint_every=2, log_every=1, threads=1, text_adapter_layers=1)
    meta = train(TrainConfig(**base, max_minutes=0.0), run_dir=tmp_path / "run", unet_cfg=TINY, log=logs.append)
    assert meta["steps"] == 1
    meta = train(TrainConfig(**base), output=tmp_path / "out", run_dir=tmp_path / "run", unet_cfg=TINY,
                 log=logs.append)
    assert meta["steps"] == 3 and meta["text_adapter_layers"] == 1 and "text adapter" in meta["conditioning"]
    assert any("resumed" in line for line in logs)
    ckpt = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    # the adapter learned (its zero output projection moved) and the saved model carries its EMA weights
    assert ckpt["adapter"]["out_proj.weight"].abs().sum() > 0
    encoder = load_toy_t2i(tmp_path / "out")[2]
    assert encoder.adapter is not None
    for k, v in ckpt["ema_adapter"].items():
        assert torch.equal(encoder.adapter.state_dict()[k], v), k
    # a run without an adapter must not resume from this checkpoint
    with pytest.raises(RuntimeError):
        train(TrainConfig(**{**base, "text_adapter_layers": 0}), run_dir=tmp_path / "run", unet_cfg=TINY,
              log=logs.append)
    # saving a model without an adapter into the same folder drops the stale one
    save_toy_t2i(build_unet(TINY), load_toy_t2i(tmp_path / "out", text_encoder=False)[1], tmp_path / "out")
    assert not (tmp_path / "out" / FOLDER).exists()
    assert load_toy_t2i(tmp_path / "out")[2].adapter is None

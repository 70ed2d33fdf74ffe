"""Frozen MiniLM token states: shapes, mask, determinism, the caption grammar fits in MAX_TOKENS."""

from __future__ import annotations

import pytest
import torch

from core import assets
from core.toyworld import scenes

pytestmark = [pytest.mark.assets,
              pytest.mark.skipif(not assets.get("minilm").installed(), reason="MiniLM asset not installed")]


@pytest.fixture(scope="module")
def encoder():
    from core.toyworld.text_encoder import MiniLMTokenEncoder

    return MiniLMTokenEncoder()


def test_shapes_and_mask(encoder):
    from core.toyworld.text_encoder import HIDDEN_SIZE, MAX_TOKENS

    hidden, mask = encoder.encode(["a red circle", "", "a blue square on the left and a yellow triangle"])
    assert hidden.shape == (3, MAX_TOKENS, HIDDEN_SIZE) and hidden.dtype == torch.float32
    assert mask.shape == (3, MAX_TOKENS)
    # [CLS] a red circle [SEP] = 5 real tokens; the empty caption is [CLS] [SEP]
    assert mask[0].tolist() == [1] * 5 + [0] * (MAX_TOKENS - 5)
    assert mask[1].sum().item() == 2
    assert mask[2].sum().item() == encoder.n_tokens("a blue square on the left and a yellow triangle")
    assert torch.isfinite(hidden).all()


def test_deterministic_and_text_dependent(encoder):
    a, _ = encoder.encode(["a red circle", "a green circle"])
    b, _ = encoder.encode(["a red circle"])
    assert torch.allclose(a[0], b[0], atol=1e-5)
    assert not torch.allclose(a[0], a[1], atol=1e-3)


def test_every_caption_fits_without_truncation(encoder):
    from core.toyworld.text_encoder import MAX_TOKENS

    longest = max(scenes.all_captions(), key=len)
    assert len(encoder.tokenizer(longest)["input_ids"]) <= MAX_TOKENS


def test_encoder_is_frozen(encoder):
    assert not any(p.requires_grad for p in encoder.model.parameters())
    assert not encoder.model.training


def test_last_layer_is_minilms_last_hidden_state(encoder):
    from core.toyworld.text_encoder import LAST_LAYER, MiniLMTokenEncoder

    last = MiniLMTokenEncoder(hidden_layer=LAST_LAYER)
    hidden, mask = last.encode(["a red circle and a blue square"])
    tok = last.tokenizer(["a red circle and a blue square"], padding="max_length", max_length=last.max_tokens,
                         return_tensors="pt")
    with torch.no_grad():
        want = last.model(**tok).last_hidden_state
    torch.testing.assert_close(hidden, want)
    torch.testing.assert_close(encoder.encode(["a red circle and a blue square"])[0], hidden)  # the default
    # an earlier layer is another context
    assert not torch.allclose(MiniLMTokenEncoder(hidden_layer=4).encode(["a red circle and a blue square"])[0],
                              hidden, atol=1e-3)


def test_hidden_layer_out_of_range_is_refused():
    from core.toyworld.text_encoder import MiniLMTokenEncoder

    with pytest.raises(ValueError, match="hidden_layer"):
        MiniLMTokenEncoder(hidden_layer=7)


def test_zero_padding_blanks_only_the_padding_states(encoder):
    from core.toyworld.text_encoder import MiniLMTokenEncoder

    texts = ["a red circle", "a blue square on the left and a yellow triangle"]
    plain, mask = encoder.encode(texts)
    blanked, mask2 = MiniLMTokenEncoder(zero_padding=True).encode(texts)
    assert torch.equal(mask, mask2)
    real = mask.bool()
    torch.testing.assert_close(blanked[real], plain[real])
    assert torch.count_nonzero(blanked[~real]) == 0 and torch.count_nonzero(plain[~real]) > 0

"""Frozen MiniLM (all-MiniLM-L6-v2) token states as the cross-attention context of the toy model.

The model folder comes from the embedded asset registry; nothing is fetched from a hub. Captions are padded
(or truncated) to a fixed MAX_TOKENS so every context has the same shape [B, MAX_TOKENS, 384]. The toy UNet
was trained on the full padded sequence without an attention mask (like Stable Diffusion with CLIP), so the
padding states are part of the context; the mask is returned for methods that want only the real tokens.

Which layer: `hidden_layer` (default the last, as the committed model was trained). MiniLM's last layer, tuned for
its mean-pooled sentence embedding, blurs which colour belongs to which shape: a linear probe reads the second
shape word's own colour in "a <c1> <s1> on the left and a <c2> <s2>" at 0.39 from layer 6 (chance 0.25) and
at 1.00 from layers 1-5. A model trained on layer 4 was no better at two-object prompts, though
(docs/toy_t2i.md), so the last layer stays. Models record their layer in toy_t2i.json.

`zero_padding`: multiply the states by the attention mask, so the padding positions carry zeros instead of
MiniLM's contextual padding states (a training option, recorded in toy_t2i.json; off for the committed model).
`adapter`: a small transformer trained with the UNet on these states (core.toyworld.text_adapter).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch

MAX_TOKENS = 16
HIDDEN_SIZE = 384
LAST_LAYER = 6  # all-MiniLM-L6-v2 has 6 layers; hidden_states[6] is last_hidden_state
ENCODER_NAME = "sentence-transformers/all-MiniLM-L6-v2 (embedded asset 'minilm')"


def sentence_embedding(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """all-MiniLM-L6-v2's own sentence embedding: mean of the real tokens' states, L2-normalised. [B, 384]"""
    m = mask.to(hidden.dtype).unsqueeze(-1)
    mean = (hidden * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)
    return torch.nn.functional.normalize(mean, dim=-1)


class MiniLMTokenEncoder:
    """`encode(texts) -> (hidden float32 [B, L, 384], attention_mask int64 [B, L])`, L = max_tokens; the states
    of `hidden_layer` (0 = token embeddings, LAST_LAYER = last_hidden_state)."""

    def __init__(self, path: str | Path | None = None, max_tokens: int = MAX_TOKENS, device: str = "cpu",
                 hidden_layer: int = LAST_LAYER, zero_padding: bool = False, adapter: torch.nn.Module | None = None):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoModel, AutoTokenizer

        if path is None:
            from core.assets import require

            path = require("minilm")
        self.path = Path(path)
        self.max_tokens = max_tokens
        self.device = device
        self.hidden_layer = hidden_layer
        self.zero_padding = zero_padding
        self.adapter = adapter  # a trained TextAdapter (core.toyworld.text_adapter) applied to the states
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.path))
        self.model = AutoModel.from_pretrained(str(self.path)).to(device).eval()
        self.model.requires_grad_(False)
        n_layers = int(self.model.config.num_hidden_layers)
        if not 0 <= hidden_layer <= n_layers:
            raise ValueError(f"hidden_layer must be 0..{n_layers} (0 = embeddings, {n_layers} = last), "
                             f"got {hidden_layer}")

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    @torch.no_grad()
    def encode(self, texts: Sequence[str], batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
        texts = list(texts)
        hidden, masks = [], []
        for i in range(0, len(texts), batch_size):
            tok = self.tokenizer(texts[i:i + batch_size], padding="max_length", truncation=True,
                                 max_length=self.max_tokens, return_tensors="pt").to(self.device)
            out = self.model(input_ids=tok["input_ids"], attention_mask=tok["attention_mask"],
                             output_hidden_states=True)
            states = out.hidden_states[self.hidden_layer].float()
            if self.zero_padding:
                states = states * tok["attention_mask"].unsqueeze(-1)
            if self.adapter is not None:
                states = self.adapter(states)
            hidden.append(states)
            masks.append(tok["attention_mask"].long())
        if not hidden:
            return (torch.zeros(0, self.max_tokens, self.hidden_size),
                    torch.zeros(0, self.max_tokens, dtype=torch.long))
        return torch.cat(hidden), torch.cat(masks)

    def n_tokens(self, text: str) -> int:
        """Real (unpadded) token count of a text, special tokens included, capped at max_tokens."""
        return min(len(self.tokenizer(text)["input_ids"]), self.max_tokens)

"""A small transformer trained with the toy UNet on top of the frozen MiniLM token states.

Why: two-object prompts fail by binding (the two colours swapped between the shapes, docs/toy_t2i.md), and
neither MiniLM's layer 4 (which still holds each shape's colour) nor more data fixed that. MiniLM stays
frozen, so any text still encodes; the adapter, trained end to end with the UNet, can reshape the token
states into whatever the UNet's cross-attention binds most easily (e.g. one state carrying "red circle").

Residual with a zero-initialised output projection (like adapters and ControlNet's zero convolutions): a
fresh adapter returns MiniLM's states unchanged, so training starts from the plain recipe. It maps
[B, L, 384] -> [B, L, 384] and sits inside `MiniLMTokenEncoder.encode`, so the guidance methods (CFG, NAG,
VSF, NASA...) see the adapted states as the model's context, as in training. Saved beside the UNet as
`text_adapter/config.json` + `text_adapter/model.safetensors`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from core.toyworld.text_encoder import HIDDEN_SIZE

FOLDER = "text_adapter"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


@dataclass(frozen=True)
class TextAdapterConfig:
    layers: int = 2
    width: int = 192  # narrower than MiniLM's 384: 16 tokens need little, the file stays small
    heads: int = 4
    ff_mult: int = 2
    hidden_size: int = HIDDEN_SIZE


class TextAdapter(nn.Module):
    def __init__(self, config: TextAdapterConfig = TextAdapterConfig()):
        super().__init__()
        if config.layers < 1 or config.width % config.heads:
            raise ValueError(f"need layers >= 1 and width divisible by heads, got {config}")
        self.config = config
        self.in_proj = nn.Linear(config.hidden_size, config.width)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(config.width, config.heads, config.width * config.ff_mult, dropout=0.0,
                                       activation="gelu", batch_first=True, norm_first=True)
            for _ in range(config.layers))
        self.norm = nn.LayerNorm(config.width)
        self.out_proj = nn.Linear(config.width, config.hidden_size)
        nn.init.zeros_(self.out_proj.weight)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        # No attention mask, like the UNet's cross-attention: padding states are part of the context.
        x = self.in_proj(hidden)
        for block in self.blocks:
            x = block(x)
        return hidden + self.out_proj(self.norm(x))

    def save(self, folder: str | Path) -> Path:
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / CONFIG_FILE).write_text(json.dumps(asdict(self.config), indent=2, sort_keys=True) + "\n")
        save_file({k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}, folder / WEIGHTS_FILE)
        return folder

    @classmethod
    def load(cls, folder: str | Path, device: str = "cpu") -> TextAdapter:
        from safetensors.torch import load_file

        folder = Path(folder)
        if not (folder / CONFIG_FILE).exists() or not (folder / WEIGHTS_FILE).exists():
            raise FileNotFoundError(f"{folder} has no {CONFIG_FILE} + {WEIGHTS_FILE} of a text adapter")
        config = TextAdapterConfig(**json.loads((folder / CONFIG_FILE).read_text()))
        adapter = cls(config)
        adapter.load_state_dict(load_file(folder / WEIGHTS_FILE))
        return adapter.to(device).eval().requires_grad_(False)

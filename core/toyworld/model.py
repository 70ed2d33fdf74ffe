"""The toy text-to-image model: a small pixel-space UNet2DConditionModel conditioned on MiniLM token states.

Saved like any diffusers pipeline folder (`unet/`, `scheduler/`), so it loads through the same
`from_pretrained` code path as other diffusers models; `toy_t2i.json` beside them records how it was built.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.paths import REPO_ROOT
from core.toyworld.scenes import IMAGE_SIZE
from core.toyworld.text_encoder import HIDDEN_SIZE, LAST_LAYER, MAX_TOKENS

DEFAULT_PATH = REPO_ROOT / "assets" / "toy_t2i"
META_FILE = "toy_t2i.json"


@dataclass(frozen=True)
class ToyUNetConfig:
    """Why these numbers: the machine's 2 cores are shared, so the step must be cheap. Only 16 channels at
    32x32 (flat shapes need little capacity there; that level dominated the cost), 48 at 16x16, 96 at 8x8.
    Attention (self + cross) only at 8x8 and in the mid block: at 16x16 it would cost ~40 % more time per
    step, and 8x8 self-attention already spans the whole image, so text can still bind objects to places."""

    sample_size: int = IMAGE_SIZE
    in_channels: int = 3
    out_channels: int = 3
    block_out_channels: tuple[int, ...] = (16, 48, 96)
    layers_per_block: int = 1
    down_block_types: tuple[str, ...] = ("DownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D")
    up_block_types: tuple[str, ...] = ("CrossAttnUpBlock2D", "UpBlock2D", "UpBlock2D")
    cross_attention_dim: int = HIDDEN_SIZE
    attention_head_dim: int = 8
    norm_num_groups: int = 8
    # The MiniLM sentence embedding, projected and added to the timestep embedding (as SDXL adds its pooled
    # text embedding): every ResNet block at every resolution sees what to draw, while cross-attention (8x8
    # and mid only, to keep steps cheap) places it. Without it colour and shape were learned slowly.
    class_embed_type: str | None = "projection"
    projection_class_embeddings_input_dim: int | None = HIDDEN_SIZE

    def to_kwargs(self) -> dict[str, Any]:
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = list(v)
        return d


@dataclass(frozen=True)
class ToySchedulerConfig:
    num_train_timesteps: int = 1000
    beta_schedule: str = "squaredcos_cap_v2"
    # v-prediction: with epsilon the loss barely sees the high-noise steps where the layout is decided.
    prediction_type: str = "v_prediction"
    clip_sample: bool = True  # pixels live in [-1, 1]


def uses_sentence_embedding(unet) -> bool:
    """True for toy UNets conditioned on the pooled sentence embedding too (older ones see tokens only)."""
    return getattr(unet.config, "class_embed_type", None) == "projection"


def unet_kwargs(unet, hidden, mask) -> dict[str, Any]:
    """The conditioning keyword arguments of a toy UNet call for token states `hidden` and their `mask`."""
    kwargs: dict[str, Any] = {"encoder_hidden_states": hidden}
    if uses_sentence_embedding(unet):
        from core.toyworld.text_encoder import sentence_embedding

        kwargs["class_labels"] = sentence_embedding(hidden, mask)
    return kwargs


def build_unet(config: ToyUNetConfig = ToyUNetConfig()):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(**config.to_kwargs())


def build_scheduler(config: ToySchedulerConfig = ToySchedulerConfig()):
    """The DDIM scheduler saved with the model; its noise schedule (betas) is the one used in training."""
    from diffusers import DDIMScheduler

    # set_alpha_to_one: the last DDIM step lands on the clean image (no leftover noise in flat backgrounds).
    return DDIMScheduler(num_train_timesteps=config.num_train_timesteps, beta_schedule=config.beta_schedule,
                         prediction_type=config.prediction_type, clip_sample=config.clip_sample,
                         set_alpha_to_one=True, steps_offset=1)


def save_toy_t2i(unet, scheduler, path: str | Path, meta: dict[str, Any] | None = None,
                 text_adapter=None) -> Path:
    """Write `unet/` (safetensors), `scheduler/`, `text_adapter/` (when trained with one) and `toy_t2i.json`
    (config, seed, figures...)."""
    from core.toyworld.text_adapter import FOLDER

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    unet.save_pretrained(path / "unet", safe_serialization=True)
    scheduler.save_pretrained(path / "scheduler")
    if text_adapter is not None:
        text_adapter.save(path / FOLDER)
    elif (path / FOLDER).exists():
        shutil.rmtree(path / FOLDER)  # a stale adapter of an earlier model would change this one's context
    if meta is not None:
        (path / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return path


def load_meta(path: str | Path | None = None) -> dict[str, Any]:
    p = Path(path) if path else DEFAULT_PATH
    f = p / META_FILE
    return json.loads(f.read_text()) if f.exists() else {}


def default_model_path() -> Path:
    """The committed model (raises AssetMissingError with the retrain command when absent)."""
    from core.assets import require

    return require("toy_t2i")


def load_toy_t2i(path: str | Path | None = None, device: str = "cpu", text_encoder: bool = True):
    """(unet, DDIMScheduler, MiniLMTokenEncoder | None) from a saved folder (default: the committed model)."""
    from diffusers import DDIMScheduler, UNet2DConditionModel

    from core.toyworld.text_adapter import FOLDER, TextAdapter
    from core.toyworld.text_encoder import MiniLMTokenEncoder

    path = Path(path) if path else default_model_path()
    unet = UNet2DConditionModel.from_pretrained(str(path), subfolder="unet").to(device).eval()
    scheduler = DDIMScheduler.from_pretrained(str(path), subfolder="scheduler")
    meta = load_meta(path)
    if not text_encoder:
        return unet, scheduler, None
    # Models from before these settings were recorded were trained on the last layer, padding kept, no adapter.
    adapter = TextAdapter.load(path / FOLDER, device=device) if (path / FOLDER).exists() else None
    encoder = MiniLMTokenEncoder(max_tokens=int(meta.get("max_tokens", MAX_TOKENS)), device=device,
                                 hidden_layer=int(meta.get("text_hidden_layer", LAST_LAYER)),
                                 zero_padding=bool(meta.get("text_zero_padding", False)), adapter=adapter)
    return unet, scheduler, encoder

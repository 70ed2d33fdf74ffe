"""Model adapters: one small interface over the denoisers the guidance engine drives.

- `ToyAdapter`: the project's embedded toy model (pixel-space UNet2DConditionModel + frozen MiniLM tokens).
- `SDAdapter`: diffusers UNet pipelines (SD 1.5 / SD 2 / SDXL shapes), decoded with their VAE.
- `SD3Adapter`: diffusers MMDiT pipelines (SD3 / SD3.5 shapes), flow matching.
Flux is not supported (guidance-distilled, no true negative branch; see docs/guidance.md).

Each adapter: `encode(texts) -> TextCond`, `initial_noise(seed, size)`, `make_scheduler()`,
`predict(latents, t, cond, state)`, `step(...) -> (next latents, predicted clean latents)`, `decode(latents)`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.guidance.attention import AttentionState


class ModelLoadError(RuntimeError):
    """The model could not be loaded; the message says why and what to do."""


@dataclass
class TextCond:
    hidden: Any  # [B, L, D]
    mask: Any  # [B, L] bool: real tokens
    pooled: Any = None  # [B, P] (SDXL / SD3)

    def take(self, index: Any) -> TextCond:
        return TextCond(self.hidden[index], self.mask[index], None if self.pooled is None else self.pooled[index])

    @staticmethod
    def cat(parts: list[TextCond]) -> TextCond:
        import torch

        pooled = None if parts[0].pooled is None else torch.cat([p.pooled for p in parts])
        return TextCond(torch.cat([p.hidden for p in parts]), torch.cat([p.mask for p in parts]), pooled)


def _token_mask(tokenizer: Any, texts: list[str], device: Any) -> Any:
    """[B, model_max_length] bool: which positions hold real tokens (the rest is padding)."""
    import torch

    tok = tokenizer(list(texts), padding="max_length", max_length=tokenizer.model_max_length,
                    truncation=True, return_tensors="pt")
    if "attention_mask" in tok:
        return tok["attention_mask"].to(device).bool()
    return torch.ones(tok["input_ids"].shape, dtype=torch.bool, device=device)


def _to_uint8(images: Any) -> Any:
    """[B, 3, H, W] in [-1, 1] -> numpy uint8 [B, H, W, 3]."""
    x = ((images.float().clamp(-1, 1) + 1) * 127.5).round().to("cpu")
    return x.permute(0, 2, 3, 1).numpy().astype("uint8")


class ModelAdapter:
    family: str = "unet"  # "unet" | "mmdit"
    name: str = "model"
    source: str = ""
    device: str = "cpu"
    dtype: Any = None
    default_size: int = 512
    size_multiple: int = 8
    max_size: int = 2048
    default_steps: int = 30
    denoiser: Any = None
    # The CFG scale the model is usually run at (the lab's default) and another one the adherence grid
    # sweeps too. Stable Diffusion's here; the toy model's come from its measured best scale.
    cfg_scales: tuple[float, float] = (7.5, 3.0)

    # -- text ---------------------------------------------------------------------------------------------
    def encode(self, texts: list[str]) -> TextCond:
        raise NotImplementedError

    # -- latents and schedule -------------------------------------------------------------------------------
    def latent_shape(self, size: int) -> tuple[int, int, int]:
        raise NotImplementedError

    def initial_noise(self, seed: int, size: int) -> Any:
        """[1, C, h, w] float32 from a CPU generator: the same on every device and for every method."""
        import torch

        g = torch.Generator("cpu").manual_seed(int(seed))
        return torch.randn((1, *self.latent_shape(size)), generator=g, dtype=torch.float32)

    def make_scheduler(self) -> Any:
        raise NotImplementedError

    def set_timesteps(self, scheduler: Any, steps: int, size: int) -> Any:
        scheduler.set_timesteps(steps, device=self.device)
        return scheduler.timesteps

    def predict(self, latents: Any, t: Any, cond: TextCond, state: AttentionState) -> Any:
        raise NotImplementedError

    def step(self, scheduler: Any, pred: Any, t: Any, latents: Any) -> tuple[Any, Any]:
        """DDIM-style schedulers report the predicted clean sample themselves."""
        out = scheduler.step(pred, t, latents)
        return out.prev_sample, out.pred_original_sample

    def decode(self, latents: Any) -> Any:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "family": self.family, "device": str(self.device),
                "dtype": str(self.dtype).replace("torch.", ""), "default_size": self.default_size}


# ---- the embedded toy model ------------------------------------------------------------------------------

class ToyAdapter(ModelAdapter):
    """Pixel-space toy UNet: latents are RGB pixels in [-1, 1]; the context is MiniLM token states."""

    family = "unet"
    default_steps = 20
    max_size = 128

    def __init__(self, unet: Any, scheduler: Any, encoder: Any, name: str, source: str, device: str = "cpu"):
        import torch

        self.denoiser = unet.to(device).eval()
        self.denoiser.requires_grad_(False)
        self.scheduler_config = dict(scheduler.config)
        self.scheduler_cls = type(scheduler)
        self.encoder = encoder
        self.name, self.source, self.device, self.dtype = name, source, device, torch.float32
        self.cfg_scales = toy_cfg_scales()
        self.default_size = int(unet.config.sample_size)
        self.size_multiple = 2 ** (len(unet.config.block_out_channels) - 1)

    def encode(self, texts: list[str]) -> TextCond:
        from core.toyworld.model import uses_sentence_embedding
        from core.toyworld.text_encoder import sentence_embedding

        hidden, mask = self.encoder.encode(list(texts))
        hidden, mask = hidden.to(self.device, self.dtype), mask.to(self.device)
        # The sentence embedding rides in `pooled` (like SDXL's), so CFG pairs it with its own prompt and
        # attention methods leave it on the positive.
        pooled = sentence_embedding(hidden, mask) if uses_sentence_embedding(self.denoiser) else None
        return TextCond(hidden, mask.bool(), pooled)

    def latent_shape(self, size: int) -> tuple[int, int, int]:
        return (int(self.denoiser.config.in_channels), size, size)

    def make_scheduler(self) -> Any:
        return self.scheduler_cls.from_config(self.scheduler_config)

    def predict(self, latents, t, cond, state):
        extra = {} if cond.pooled is None else {"class_labels": cond.pooled}
        return self.denoiser(latents, t, encoder_hidden_states=cond.hidden, return_dict=False, **extra)[0]

    def decode(self, latents):
        return _to_uint8(latents)


# ---- diffusers UNet pipelines (SD 1.5 / SDXL) ------------------------------------------------------------

class SDAdapter(ModelAdapter):
    family = "unet"
    default_steps = 30

    def __init__(self, pipe: Any, name: str, source: str, device: str):
        from diffusers import DDIMScheduler

        self.pipe = pipe
        self.denoiser = pipe.unet.eval()
        self.denoiser.requires_grad_(False)
        self.name, self.source, self.device, self.dtype = name, source, device, pipe.unet.dtype
        self.scheduler_config = dict(pipe.scheduler.config)
        self.scheduler_cls = DDIMScheduler  # our own loop: DDIM, eta 0 (deterministic)
        self.vae_scale = 2 ** (len(pipe.vae.config.block_out_channels) - 1)
        self.default_size = int(pipe.unet.config.sample_size) * self.vae_scale
        self.size_multiple = self.vae_scale * 2 ** (len(pipe.unet.config.block_out_channels) - 1)
        self.xl = getattr(pipe.unet.config, "addition_embed_type", None) == "text_time"
        self._size = self.default_size

    def encode(self, texts: list[str]) -> TextCond:
        import torch

        texts = list(texts)
        with torch.no_grad():
            if self.xl:
                hidden, _, pooled, _ = self.pipe.encode_prompt(prompt=texts, device=self.device,
                                                               num_images_per_prompt=1,
                                                               do_classifier_free_guidance=False)
                if getattr(self.pipe.config, "force_zeros_for_empty_prompt", False):
                    empty = torch.tensor([t == "" for t in texts], device=self.device)
                    hidden = hidden.masked_fill(empty[:, None, None], 0.0)
                    pooled = pooled.masked_fill(empty[:, None], 0.0)
            else:
                hidden = self.pipe.encode_prompt(texts, self.device, 1, False)[0]
                pooled = None
        return TextCond(hidden.to(self.dtype), _token_mask(self.pipe.tokenizer, texts, self.device), pooled)

    def latent_shape(self, size: int) -> tuple[int, int, int]:
        return (int(self.denoiser.config.in_channels), size // self.vae_scale, size // self.vae_scale)

    def make_scheduler(self) -> Any:
        return self.scheduler_cls.from_config(self.scheduler_config)

    def set_timesteps(self, scheduler, steps, size):
        self._size = size
        return super().set_timesteps(scheduler, steps, size)

    def predict(self, latents, t, cond, state):
        import torch

        kwargs = {}
        if self.xl:
            s = self._size
            time_ids = torch.tensor([[s, s, 0, 0, s, s]], dtype=cond.hidden.dtype, device=self.device)
            kwargs["added_cond_kwargs"] = {"text_embeds": cond.pooled,
                                           "time_ids": time_ids.repeat(latents.shape[0], 1)}
        return self.denoiser(latents.to(self.dtype), t, encoder_hidden_states=cond.hidden, return_dict=False,
                             **kwargs)[0]

    def decode(self, latents):
        import torch

        vae = self.pipe.vae
        with torch.no_grad():
            img = vae.decode(latents.to(vae.dtype) / vae.config.scaling_factor, return_dict=False)[0]
        return _to_uint8(img)


# ---- diffusers MMDiT pipelines (SD3 / SD3.5) -------------------------------------------------------------

class SD3Adapter(ModelAdapter):
    family = "mmdit"
    default_steps = 28

    def __init__(self, pipe: Any, name: str, source: str, device: str, max_sequence_length: int = 256):
        from diffusers import FlowMatchEulerDiscreteScheduler

        self.pipe = pipe
        self.denoiser = pipe.transformer.eval()
        self.denoiser.requires_grad_(False)
        self.name, self.source, self.device, self.dtype = name, source, device, pipe.transformer.dtype
        self.scheduler_config = dict(pipe.scheduler.config)
        self.scheduler_cls = FlowMatchEulerDiscreteScheduler
        self.vae_scale = 2 ** (len(pipe.vae.config.block_out_channels) - 1)
        self.patch = int(pipe.transformer.config.patch_size)
        self.default_size = int(pipe.transformer.config.sample_size) * self.vae_scale
        self.size_multiple = self.vae_scale * self.patch
        self.max_sequence_length = max_sequence_length

    def encode(self, texts: list[str]) -> TextCond:
        import torch

        texts = list(texts)
        with torch.no_grad():
            hidden, _, pooled, _ = self.pipe.encode_prompt(
                prompt=texts, prompt_2=None, prompt_3=None, device=self.device, num_images_per_prompt=1,
                do_classifier_free_guidance=False, max_sequence_length=self.max_sequence_length)
        t5_len = hidden.shape[1] - self.pipe.tokenizer.model_max_length
        clip_mask = _token_mask(self.pipe.tokenizer, texts, self.device)
        if self.pipe.text_encoder_3 is not None and self.pipe.tokenizer_3 is not None:
            tok = self.pipe.tokenizer_3(texts, padding="max_length", max_length=t5_len, truncation=True,
                                        return_tensors="pt")
            t5_mask = tok["attention_mask"].to(self.device).bool()
        else:  # no T5: its embeddings are zeros, not tokens
            t5_mask = torch.zeros(len(texts), t5_len, dtype=torch.bool, device=self.device)
        return TextCond(hidden.to(self.dtype), torch.cat([clip_mask, t5_mask], dim=1), pooled.to(self.dtype))

    def latent_shape(self, size: int) -> tuple[int, int, int]:
        return (int(self.denoiser.config.in_channels), size // self.vae_scale, size // self.vae_scale)

    def make_scheduler(self) -> Any:
        return self.scheduler_cls.from_config(self.scheduler_config)

    def set_timesteps(self, scheduler, steps, size):
        cfg = scheduler.config
        kwargs = {}
        if getattr(cfg, "use_dynamic_shifting", False):  # resolution-dependent shift (SD3.5 variants, Flux)
            seq = (size // self.vae_scale // self.patch) ** 2
            m = (cfg.max_shift - cfg.base_shift) / (cfg.max_image_seq_len - cfg.base_image_seq_len)
            kwargs["mu"] = seq * m + cfg.base_shift - m * cfg.base_image_seq_len
        scheduler.set_timesteps(steps, device=self.device, **kwargs)
        return scheduler.timesteps

    def predict(self, latents, t, cond, state):
        import torch

        ctx = cond.hidden
        if state.on:  # the negative tokens ride along in the context sequence (see attention.py)
            state.pos_len = ctx.shape[1]
            ctx = torch.cat([ctx, state.neg_hidden.to(ctx.dtype)], dim=1)
        timestep = t.expand(latents.shape[0]) if t.ndim == 0 else t
        return self.denoiser(hidden_states=latents.to(self.dtype), timestep=timestep, encoder_hidden_states=ctx,
                             pooled_projections=cond.pooled, return_dict=False)[0]

    def step(self, scheduler, pred, t, latents):
        idx = scheduler.step_index if scheduler.step_index is not None else \
            int((scheduler.timesteps == t).nonzero()[0])
        sigma = scheduler.sigmas[idx].to(latents.device)
        x0 = latents - sigma * pred.float()  # flow matching: x_t = (1 - s) x0 + s noise, v = noise - x0
        prev = scheduler.step(pred.float(), t, latents).prev_sample
        return prev, x0

    def decode(self, latents):
        import torch

        vae = self.pipe.vae
        shift = getattr(vae.config, "shift_factor", None) or 0.0
        with torch.no_grad():
            img = vae.decode((latents / vae.config.scaling_factor + shift).to(vae.dtype), return_dict=False)[0]
        return _to_uint8(img)


# ---- loading ---------------------------------------------------------------------------------------------

RANDOM_SOURCES = {
    "random:toy": "tiny random toy-shaped UNet (untrained, for trying the page)",
    "random:sd15": "tiny random SD1.5-shaped pipeline (untrained)",
    "random:sdxl": "tiny random SDXL-shaped pipeline (untrained)",
    "random:sd3": "tiny random SD3-shaped pipeline (untrained)",
}
TOY_SOURCE = "embedded:toy_t2i"


def toy_cfg_scales() -> tuple[float, float]:
    """The toy model's usual CFG scale (its measured best, core.toyworld.sample.DEFAULT_GUIDANCE) and twice it."""
    from core.toyworld.sample import DEFAULT_GUIDANCE

    return (DEFAULT_GUIDANCE, 2 * DEFAULT_GUIDANCE)


def cfg_scales_for(source: str) -> tuple[float, float]:
    """`ModelAdapter.cfg_scales` of a source, known without loading the model (for the lab's widgets)."""
    source = (source or "").strip()
    if source in (TOY_SOURCE, "random:toy") or (source and _is_toy_folder(Path(source).expanduser())):
        return toy_cfg_scales()
    return ModelAdapter.cfg_scales


def _is_toy_folder(path: Path) -> bool:
    return (path / "unet").is_dir() and not (path / "model_index.json").exists()


def load_adapter(source: str = TOY_SOURCE, device: str | None = None) -> ModelAdapter:
    """Load a model by source: "embedded:toy_t2i" (default), "random:toy|sd15|sdxl|sd3" (tiny, untrained),
    a local diffusers folder, or a hub id (needs network; the app runs offline, so only cached ids load)."""
    from core.device import best_device

    device = device or best_device()
    source = (source or "").strip()
    if source in RANDOM_SOURCES:
        from core.guidance import tiny

        return tiny.random_adapter(source, device=device)
    from core.assets import AssetMissingError
    from core.model_source import ModelSourceError, parse_model_source

    try:
        parsed = parse_model_source(source)
        location = parsed.location()
    except (ModelSourceError, AssetMissingError) as exc:
        raise ModelLoadError(str(exc)) from exc
    if parsed.kind == "embedded" or (parsed.kind == "local" and _is_toy_folder(Path(location))):
        return _load_toy(location, source, device)
    return _load_pipeline(location, source, device, hub=parsed.kind == "hub")


def _load_toy(location: str, source: str, device: str) -> ModelAdapter:
    try:
        from core.toyworld.model import load_toy_t2i

        unet, scheduler, encoder = load_toy_t2i(location, device=device)
    except Exception as exc:  # noqa: BLE001 - any loader failure becomes one clear message
        raise ModelLoadError(f"Could not load the toy model from {location}: {exc}") from exc
    return ToyAdapter(unet, scheduler, encoder, name="toy shapes model", source=source, device=device)


def _absent_components(location: str) -> dict[str, None]:
    """Components saved as [null, null] (e.g. SD3 without T5) must be passed as None when loading."""
    import json

    index = Path(location) / "model_index.json"
    if not index.exists():
        return {}
    try:
        spec = json.loads(index.read_text())
    except (OSError, ValueError):
        return {}
    return {k: None for k, v in spec.items() if isinstance(v, list) and len(v) == 2 and v[0] is None and v[1] is None}


def _load_pipeline(location: str, source: str, device: str, hub: bool = False) -> ModelAdapter:
    try:
        import torch
        from diffusers import DiffusionPipeline
    except ImportError as exc:
        raise ModelLoadError(f"diffusers/torch are needed to load {source}: {exc}") from exc
    dtype = torch.float16 if str(device).startswith("cuda") else torch.float32
    try:
        pipe = DiffusionPipeline.from_pretrained(location, dtype=dtype, use_safetensors=True,
                                                 **_absent_components(location))
    except Exception as exc:  # noqa: BLE001
        offline = hub and os.environ.get("HF_HUB_OFFLINE") == "1"
        hint = " The app runs offline (HF_HUB_OFFLINE=1): only models already in the local cache or in a " \
               "local folder can be loaded." if offline else ""
        raise ModelLoadError(f"Could not load a diffusers pipeline from '{source}': "
                             f"{type(exc).__name__}: {str(exc)[:300]}.{hint}") from exc
    pipe = pipe.to(device)
    if hasattr(pipe, "set_progress_bar_config"):
        pipe.set_progress_bar_config(disable=True)
    denoiser = getattr(pipe, "transformer", None)
    kind = type(denoiser).__name__ if denoiser is not None else ""
    if kind == "SD3Transformer2DModel":
        if dtype == torch.float16:
            pipe = pipe.to(dtype=torch.bfloat16)  # SD3 overflows in float16
        return SD3Adapter(pipe, name=f"{type(pipe).__name__} ({source})", source=source, device=device)
    if denoiser is not None:
        raise ModelLoadError(f"{kind} models are not supported: the guidance lab drives UNet cross-attention "
                             "(SD1.5/SDXL shapes) and SD3-style MMDiT joint attention. Flux is guidance-distilled "
                             "and has no negative branch to guide.")
    if getattr(pipe, "unet", None) is None or getattr(pipe, "vae", None) is None:
        raise ModelLoadError(f"'{source}' is a {type(pipe).__name__}, not a text-to-image UNet or MMDiT pipeline.")
    return SDAdapter(pipe, name=f"{type(pipe).__name__} ({source})", source=source, device=device)

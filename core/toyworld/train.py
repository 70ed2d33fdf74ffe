"""Training loop of the toy text-to-image model (CPU friendly, resumable, deterministic per seed).

- Data: fresh scenes from the generator every step (seeded by (seed, step), so a resumed run sees exactly
  the batches an uninterrupted one would).
- Text: MiniLM token states of the finite caption set are computed once and cached; MiniLM never runs in
  the loop. 10 % of captions are replaced by the empty caption (condition dropout) so CFG works.
- v-prediction objective (the scheduler config's prediction type) on a cosine schedule, plain loss by default
  (optional Min-SNR weighting), AdamW with warm-up + cosine decay, EMA of the weights (the EMA weights are
  what gets saved).
- Checkpoints (model, EMA, optimiser, step) go to the run folder under the data dir every
  `checkpoint_every` steps, with an exported partial model beside them; rerunning resumes from the last one.
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.paths import subdir
from core.toyworld import scenes
from core.toyworld.model import (
    ToySchedulerConfig,
    ToyUNetConfig,
    build_scheduler,
    build_unet,
    save_toy_t2i,
    unet_kwargs,
)
from core.toyworld.text_adapter import TextAdapter, TextAdapterConfig
from core.toyworld.text_encoder import ENCODER_NAME, LAST_LAYER, MAX_TOKENS, MiniLMTokenEncoder


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0
    steps: int = 4000
    batch_size: int = 32
    lr: float = 1e-3
    warmup_steps: int = 100
    min_lr_ratio: float = 0.05  # the cosine decay ends at lr * min_lr_ratio
    weight_decay: float = 0.01
    cond_dropout: float = 0.1
    # None: the plain v-prediction loss, which weights an error in the clean image by SNR + 1, so the
    # high-noise steps that decide layout, position and which colour goes with which shape keep weight 1.
    # Min-SNR-5 (Hang et al. 2023) weights them by SNR (near 0 there): layout was barely learned.
    min_snr_gamma: float | None = None
    ema_decay: float = 0.999
    p_pair: float = 0.5  # share of two-object scenes
    # Share of samples trained without the sentence embedding: the token states alone must then carry the
    # whole caption, so attention-space guidance (NAG, VSF, NASA) acts on all of it.
    pooled_dropout: float = 0.5
    # MiniLM layer whose token states are the context. Layer 4 keeps which colour goes with which shape
    # better than the last (core.toyworld.text_encoder), yet a model trained on it was no better on pairs.
    text_hidden_layer: int = LAST_LAYER
    text_zero_padding: bool = False
    # Layers of a small transformer trained with the UNet on the frozen MiniLM states (core.toyworld.text_adapter);
    # 0: none, the UNet reads MiniLM's states directly.
    text_adapter_layers: int = 0
    checkpoint_every: int = 250
    log_every: int = 25
    threads: int = 2
    max_minutes: float | None = None  # stop early (and save) when the wall-clock budget is spent
    device: str = "cpu"  # "cuda" trains the same recipe on a GPU (random draws stay on the CPU generator)


def images_to_tensor(images: list[np.ndarray] | np.ndarray) -> torch.Tensor:
    """uint8 [B, H, W, 3] -> float32 [B, 3, H, W] in [-1, 1]."""
    arr = np.stack(images) if isinstance(images, list) else images
    return torch.from_numpy(arr).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def tensor_to_images(x: torch.Tensor) -> np.ndarray:
    """float [B, 3, H, W] in [-1, 1] -> uint8 [B, H, W, 3]."""
    x = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


def lr_factor(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps))
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


class CaptionCache:
    """MiniLM token states (and attention masks) of every caption of the grammar, computed once and stored in
    the run folder."""

    def __init__(self, captions: list[str], hidden: torch.Tensor, mask: torch.Tensor):
        self.index = {c: i for i, c in enumerate(captions)}
        self.hidden = hidden
        self.mask = mask

    @classmethod
    def build(cls, cache_file: Path | None = None, hidden_layer: int = LAST_LAYER,
              zero_padding: bool = False) -> CaptionCache:
        captions = scenes.all_captions()
        if cache_file is not None and cache_file.exists():
            data = torch.load(cache_file, weights_only=True)
            if (data["captions"] == captions and data["max_tokens"] == MAX_TOKENS and "mask" in data
                    and data.get("hidden_layer") == hidden_layer
                    and data.get("zero_padding", False) == zero_padding):
                return cls(captions, data["hidden"], data["mask"])
        hidden, mask = MiniLMTokenEncoder(hidden_layer=hidden_layer, zero_padding=zero_padding).encode(captions)
        if cache_file is not None:
            torch.save({"captions": captions, "hidden": hidden, "mask": mask, "max_tokens": MAX_TOKENS,
                        "hidden_layer": hidden_layer, "zero_padding": zero_padding}, cache_file)
        return cls(captions, hidden, mask)

    def __call__(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        rows = [self.index[t] for t in texts]
        return self.hidden[rows], self.mask[rows]


def _atomic_save(obj: Any, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)


# Operational settings that may change between a run and its resumption (they do not change the result).
_OPERATIONAL = {"threads", "log_every", "checkpoint_every", "max_minutes", "device"}


def _recipe(train_config: dict[str, Any]) -> dict[str, Any]:
    # Checkpoints from before these text settings existed were trained on the last layer, padding kept.
    defaults = {k: TrainConfig.__dataclass_fields__[k].default
                for k in ("text_hidden_layer", "text_zero_padding", "text_adapter_layers")}
    return {**defaults, **{k: v for k, v in train_config.items() if k not in _OPERATIONAL}}


def run_dir_for(seed: int) -> Path:
    return subdir("toy_t2i_train", f"seed{seed}")


def _conditioning(cfg: TrainConfig) -> str:
    text = f"MiniLM hidden_states[{cfg.text_hidden_layer}] (of 6 layers), padded to max_tokens"
    if cfg.text_zero_padding:
        text += " (padding states zeroed)"
    if cfg.text_adapter_layers:
        text += f", then a {cfg.text_adapter_layers}-layer text adapter trained with the UNet"
    return text + ", no attention mask"


def build_meta(cfg: TrainConfig, unet_cfg: ToyUNetConfig, sched_cfg: ToySchedulerConfig, step: int,
               seconds: float) -> dict[str, Any]:
    import diffusers

    return {
        "model": "negative-space toy text-to-image (shapes world)",
        "seed": cfg.seed,
        "steps": step,
        "planned_steps": cfg.steps,
        "training_seconds": round(seconds, 1),
        "train_config": asdict(cfg),
        "unet_config": unet_cfg.to_kwargs(),
        "scheduler_config": asdict(sched_cfg),
        "text_encoder": ENCODER_NAME,
        "max_tokens": MAX_TOKENS,
        "text_hidden_layer": cfg.text_hidden_layer,
        "text_zero_padding": cfg.text_zero_padding,
        "text_adapter_layers": cfg.text_adapter_layers,
        "image_size": scenes.IMAGE_SIZE,
        "weights": "EMA",
        "conditioning": _conditioning(cfg),
        "versions": {"torch": torch.__version__, "diffusers": diffusers.__version__},
        "train_command": (f"python scripts/train_toy_t2i.py --seed {cfg.seed} --steps {cfg.steps} "
                          f"--batch-size {cfg.batch_size} --lr {cfg.lr}"
                          + (f" --text-adapter-layers {cfg.text_adapter_layers}" if cfg.text_adapter_layers else "")),
    }


def train(cfg: TrainConfig, output: Path | None = None, run_dir: Path | None = None,
          unet_cfg: ToyUNetConfig = ToyUNetConfig(), sched_cfg: ToySchedulerConfig = ToySchedulerConfig(),
          log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train (or resume) and save the EMA model to `output`; returns the metadata written with it."""
    torch.set_num_threads(cfg.threads)
    run_dir = Path(run_dir) if run_dir else run_dir_for(cfg.seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_file = run_dir / "checkpoint.pt"

    torch.manual_seed(cfg.seed)  # initial weights
    device = torch.device(cfg.device)
    unet = build_unet(unet_cfg).train().to(device)
    # Built after the UNet, so the UNet's initial weights do not depend on whether there is an adapter.
    adapter = (TextAdapter(TextAdapterConfig(layers=cfg.text_adapter_layers)).train().to(device)
               if cfg.text_adapter_layers else None)
    trained = [m for m in (unet, adapter) if m is not None]
    averaged = [copy.deepcopy(m).eval().requires_grad_(False) for m in trained]  # the EMA copies
    ema, ema_adapter = averaged[0], (averaged[1] if adapter is not None else None)
    params = [p for m in trained for p in m.parameters()]
    scheduler = build_scheduler(sched_cfg)
    alphas_cumprod = scheduler.alphas_cumprod.float().to(device)
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    step, seconds = 0, 0.0
    if ckpt_file.exists():
        state = torch.load(ckpt_file, weights_only=True, map_location=device)  # tensors and plain containers only
        if _recipe(state["train_config"]) != _recipe(asdict(cfg)) or state["unet_config"] != unet_cfg.to_kwargs():
            raise RuntimeError(f"{ckpt_file} was written with another config; delete it or change --seed")
        unet.load_state_dict(state["unet"])
        ema.load_state_dict(state["ema"])
        if adapter is not None:
            adapter.load_state_dict(state["adapter"])
            ema_adapter.load_state_dict(state["ema_adapter"])
        opt.load_state_dict(state["opt"])
        step, seconds = state["step"], state["seconds"]
        log(f"resumed from {ckpt_file} at step {step}")

    captions = CaptionCache.build(run_dir / "captions.pt", hidden_layer=cfg.text_hidden_layer,
                                   zero_padding=cfg.text_zero_padding)
    empty = ""  # in the caption set: the unconditional input of CFG
    n_params = sum(p.numel() for p in unet.parameters())
    if adapter is not None:
        log(f"text adapter {sum(p.numel() for p in adapter.parameters()) / 1e6:.2f} M parameters")
    log(f"unet {n_params / 1e6:.2f} M parameters; {len(captions.index)} captions cached; "
        f"training steps {step}..{cfg.steps}, batch {cfg.batch_size}, {cfg.threads} threads")

    def save_checkpoint() -> None:
        extra = ({"adapter": adapter.state_dict(), "ema_adapter": ema_adapter.state_dict()}
                 if adapter is not None else {})
        _atomic_save({"unet": unet.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(),
                      "step": step, "seconds": seconds, "train_config": asdict(cfg),
                      "unet_config": unet_cfg.to_kwargs(), **extra}, ckpt_file)
        save_toy_t2i(ema, scheduler, run_dir / "partial", build_meta(cfg, unet_cfg, sched_cfg, step, seconds),
                     text_adapter=ema_adapter)

    def make_batch(at_step: int) -> list:
        return scenes.generate_batch(np.random.default_rng([cfg.seed, at_step]), cfg.batch_size, p_pair=cfg.p_pair)

    # The next step's scenes are drawn in a thread while this step computes (torch releases the GIL); a
    # batch depends only on (seed, step), so this changes nothing but the time.
    prefetch = ThreadPoolExecutor(max_workers=1)
    upcoming = prefetch.submit(make_batch, step)
    t_start, losses = time.time(), []
    seconds_at_start = seconds
    while step < cfg.steps:
        # Everything random in a step derives from (seed, step): resumption is exact.
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        batch = upcoming.result()
        upcoming = prefetch.submit(make_batch, step + 1)
        x0 = images_to_tensor([s.image for s in batch]).to(device)
        drop = torch.rand(cfg.batch_size, generator=gen) < cfg.cond_dropout
        # condition dropout: the empty caption (tokens and sentence embedding alike), for CFG
        context, mask = captions([empty if d else s.caption for s, d in zip(batch, drop.tolist(), strict=True)])
        context, mask = context.to(device), mask.to(device)
        if adapter is not None:
            context = adapter(context)
        noise = torch.randn(x0.shape, generator=gen).to(device)
        t = torch.randint(0, sched_cfg.num_train_timesteps, (cfg.batch_size,), generator=gen).to(device)
        a = alphas_cumprod[t].view(-1, 1, 1, 1)
        xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
        target = noise if sched_cfg.prediction_type == "epsilon" else a.sqrt() * noise - (1 - a).sqrt() * x0

        for g in opt.param_groups:
            g["lr"] = cfg.lr * lr_factor(step, cfg)
        cond = unet_kwargs(unet, context, mask)
        if cfg.pooled_dropout > 0 and "class_labels" in cond:
            keep = (torch.rand(cfg.batch_size, generator=gen) >= cfg.pooled_dropout).to(device)
            cond["class_labels"] = cond["class_labels"] * keep[:, None]
        pred = unet(xt, t, **cond).sample
        per_sample = (pred - target).pow(2).mean(dim=(1, 2, 3))
        if cfg.min_snr_gamma is not None:
            # Min-SNR-gamma: a clean-image error weighs min(SNR, gamma). It caps the low-noise steps but leaves
            # the high-noise ones (layout, binding) near zero weight; off in the committed recipe.
            snr = (a.view(-1) / (1 - a.view(-1))).clamp(min=1e-8)
            target_scale = snr if sched_cfg.prediction_type == "epsilon" else snr + 1
            per_sample = per_sample * (torch.clamp(snr, max=cfg.min_snr_gamma) / target_scale)
        loss = per_sample.mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        decay = min(cfg.ema_decay, (1 + step) / (10 + step))  # EMA warm-up: early weights fade quickly
        with torch.no_grad():
            for avg, model in zip(averaged, trained, strict=True):
                for pe, p in zip(avg.parameters(), model.parameters(), strict=True):
                    pe.lerp_(p, 1 - decay)
        step += 1
        losses.append(loss.item())
        seconds = seconds_at_start + (time.time() - t_start)

        if step % cfg.log_every == 0 or step == cfg.steps:
            rate = (time.time() - t_start) / max(1, len(losses))
            log(json.dumps({"step": step, "loss": round(float(np.mean(losses[-cfg.log_every:])), 5),
                            "lr": round(cfg.lr * lr_factor(step - 1, cfg), 6), "s_per_step": round(rate, 3),
                            "eta_min": round(rate * (cfg.steps - step) / 60, 1),
                            "elapsed_min": round(seconds / 60, 1)}))
        if step % cfg.checkpoint_every == 0:
            save_checkpoint()
        if cfg.max_minutes is not None and seconds > cfg.max_minutes * 60:
            log(f"time budget of {cfg.max_minutes} min spent at step {step}: stopping early")
            break

    prefetch.shutdown(wait=False, cancel_futures=True)
    save_checkpoint()
    meta = build_meta(cfg, unet_cfg, sched_cfg, step, seconds)
    if output is not None:
        save_toy_t2i(ema, scheduler, output, meta, text_adapter=ema_adapter)
        log(f"saved EMA model ({step} steps) to {output}")
    return meta

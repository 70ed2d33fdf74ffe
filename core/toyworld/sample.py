"""A plain reference sampler for the toy model: DDIM, classifier-free guidance, optional negative prompt.

    images = sample(["a red circle"], steps=25, guidance_scale=2.5, seed=0)     # uint8 [B, 32, 32, 3]

CFG with a negative prompt: eps = eps_neg + s * (eps_pos - eps_neg), where eps_neg is the prediction for
the negative prompt (the empty caption when none is given). Guidance-method research lives in core/guidance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.toyworld.model import unet_kwargs
from core.toyworld.train import tensor_to_images

# Measured on the committed model (25 DDIM steps, docs/toy_t2i.md): the best CFG scale on the checker's
# figures (1, 1.25, 1.35, 1.5, 1.75, 2 tried; above 1.5 the v-prediction model over-saturates and draws
# extra objects: at 2.0 single-object prompts fall from 0.99 to 0.65).
DEFAULT_GUIDANCE = 1.5


@dataclass
class ToyT2I:
    """The loaded model parts (see core.toyworld.model.load_toy_t2i)."""

    unet: object
    scheduler: object
    encoder: object

    @classmethod
    def load(cls, path: str | Path | None = None, device: str = "cpu") -> ToyT2I:
        from core.toyworld.model import load_toy_t2i

        return cls(*load_toy_t2i(path, device=device))


_CACHE: dict[str, ToyT2I] = {}


def _model(model: ToyT2I | None, path: str | Path | None) -> ToyT2I:
    if model is not None:
        return model
    key = str(path)
    if key not in _CACHE:
        _CACHE[key] = ToyT2I.load(path)
    return _CACHE[key]


@torch.no_grad()
def sample(prompts: Sequence[str], negative_prompts: Sequence[str] | str | None = None, steps: int = 25,
           guidance_scale: float = DEFAULT_GUIDANCE, seed: int = 0, model: ToyT2I | None = None,
           path: str | Path | None = None, eta: float = 0.0, return_tensor: bool = False) -> np.ndarray:
    """Generate one image per prompt; same (prompts, seed, settings) -> same images.

    guidance_scale 1 (or 0) disables CFG (one UNet call per step). Returns uint8 [B, H, W, 3].
    """
    m = _model(model, path)
    prompts = list(prompts)
    b = len(prompts)
    if negative_prompts is None:
        negs = [""] * b
    elif isinstance(negative_prompts, str):
        negs = [negative_prompts] * b
    else:
        negs = list(negative_prompts)
        if len(negs) != b:
            raise ValueError("negative_prompts must match prompts in length")
    use_cfg = guidance_scale not in (0.0, 1.0)
    texts = prompts + negs if use_cfg else prompts
    context, mask = m.encoder.encode(texts)
    unet, scheduler = m.unet, m.scheduler
    device = next(unet.parameters()).device
    cond = unet_kwargs(unet, context.to(device), mask.to(device))
    size = int(unet.config.sample_size)
    gen = torch.Generator().manual_seed(int(seed))
    x = torch.randn((b, int(unet.config.in_channels), size, size), generator=gen).to(device)
    scheduler.set_timesteps(steps)
    for t in scheduler.timesteps:
        if use_cfg:
            eps = unet(torch.cat([x, x]), t, **cond).sample
            eps_pos, eps_neg = eps.chunk(2)
            eps = eps_neg + guidance_scale * (eps_pos - eps_neg)
        else:
            eps = unet(x, t, **cond).sample
        x = scheduler.step(eps, t, x, eta=eta, generator=gen).prev_sample
    return x if return_tensor else tensor_to_images(x)

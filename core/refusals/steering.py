"""Steering with a direction: forward pre-hooks on the decoder layers, always removed afterwards.

Two methods, one class each (same interface: `hooks(model)` gives (module, pre-hook) pairs):
- DirectionAblation: x <- x - (x . r) r at every block input and before the final norm (Arditi et al.'s
  directional ablation, applied where the residual stream is read);
- DirectionAddition: x <- x + alpha r at one layer's input, at every position.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np


def _first_attribute(model, paths: tuple[str, ...]):
    """The first dotted attribute path that exists on the model (architectures name their parts differently)."""
    for path in paths:
        obj = model
        try:
            for part in path.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            continue
        return obj
    return None


def decoder_layers(model) -> list:
    """The list of transformer blocks of common causal-LM architectures."""
    layers = _first_attribute(model, ("model.layers", "model.language_model.layers", "transformer.h",
                                      "gpt_neox.layers", "model.decoder.layers"))
    if layers is None:
        raise ValueError(f"Cannot find the decoder layers of {type(model).__name__} for steering.")
    return list(layers)


def final_norm(model):
    return _first_attribute(model, ("model.norm", "model.language_model.norm", "transformer.ln_f",
                                    "gpt_neox.final_layer_norm"))


def _rewrite_hidden(fn):
    """Wrap x -> fn(x) as a pre-hook that works whether hidden states come positionally or by keyword."""
    def hook(module, args, kwargs):
        if args:
            return (fn(args[0]), *args[1:]), kwargs
        if "hidden_states" in kwargs:
            return args, {**kwargs, "hidden_states": fn(kwargs["hidden_states"])}
        return None
    return hook


def _as_tensor(direction: np.ndarray, like):
    import torch

    r = torch.as_tensor(np.asarray(direction, dtype=np.float32), device=like.device, dtype=like.dtype)
    return r / r.norm().clamp_min(1e-12)


@dataclass(frozen=True)
class DirectionAblation:
    direction: np.ndarray = field(compare=False)

    def hooks(self, model) -> list:
        cache: dict = {}

        def ablate(x):
            key = (x.device, x.dtype)
            if key not in cache:
                cache[key] = _as_tensor(self.direction, x)
            r = cache[key]
            return x - (x @ r).unsqueeze(-1) * r

        modules = decoder_layers(model)
        norm = final_norm(model)
        if norm is not None:
            modules.append(norm)
        return [(m, _rewrite_hidden(ablate)) for m in modules]


@dataclass(frozen=True)
class DirectionAddition:
    direction: np.ndarray = field(compare=False)
    layer: int = 0
    alpha: float = 1.0

    def hooks(self, model) -> list:
        layers = decoder_layers(model)
        if not 0 <= self.layer < len(layers):
            raise ValueError(f"layer {self.layer} is outside 0..{len(layers) - 1}")

        def add(x):
            return x + self.alpha * _as_tensor(self.direction, x)

        return [(layers[self.layer], _rewrite_hidden(add))]


_LOCKS: dict[int, threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()


def model_lock(model) -> threading.RLock:
    """One re-entrant lock per model object. A cached model is shared by every browser session: hold this
    while steering hooks are on, and while generating unsteered, so no one else's answer is steered."""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(id(model), threading.RLock())


@contextmanager
def steered(model, steering) -> Iterator[None]:
    """Register the steering hooks for the duration of the block; they are removed even on errors."""
    handles = []
    with model_lock(model):
        try:
            for module, hook in steering.hooks(model):
                handles.append(module.register_forward_pre_hook(hook, with_kwargs=True))
            yield
        finally:
            for h in handles:
                h.remove()


def generate_side_by_side(lm, prompts: Sequence[str], steering, chat: bool = True, max_new_tokens: int = 48,
                          batch_size: int = 8) -> list[dict]:
    """Unsteered and steered greedy answers for the same prompts."""
    texts = [lm.format(p, chat=chat) for p in prompts]
    with model_lock(lm.model):
        plain = lm.generate(texts, max_new_tokens=max_new_tokens, batch_size=batch_size)
    with steered(lm.model, steering):
        steer = lm.generate(texts, max_new_tokens=max_new_tokens, batch_size=batch_size)
    return [{"prompt": p, "unsteered": a, "steered": b} for p, a, b in zip(prompts, plain, steer, strict=True)]

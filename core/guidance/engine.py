"""The sampler loop: every method runs from the same initial noise, with per-step predicted clean images,
time per image and peak memory per method.

    result = generate(adapter, GenerationRequest(prompts=["a red circle"], negatives=["red"],
                                                 methods=[CFG(7.5), NAG()], seeds=[0, 1], steps=20))
    result.runs[i].images  # uint8 [n_prompts * n_seeds, H, W, 3], sample order: prompt-major, then seed
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.guidance.adapters import ModelAdapter, TextCond
from core.guidance.attention import AttentionState, installed_processors
from core.guidance.base import GuidanceConfigError, GuidanceMethod

MAX_SEEDS = 16
MAX_PROMPTS = 64
MAX_STEPS = 200
MAX_TEXT = 1000


class GenerationError(RuntimeError):
    """The run failed for a reason a person can act on (out of memory, ...); the message says what to do."""


@dataclass(frozen=True)
class GenerationRequest:
    prompts: tuple[str, ...] | list[str] | str
    negatives: tuple[str, ...] | list[str] | str = ""
    methods: tuple[GuidanceMethod, ...] | list[GuidanceMethod] = ()
    seeds: tuple[int, ...] | list[int] = (0,)
    steps: int = 20
    size: int | None = None  # image side in pixels; None: the model's default
    record_x0: bool = True  # keep the per-step predicted clean images
    labels: tuple[str, ...] | list[str] | None = None  # display names (default: method.label())

    def prompt_list(self) -> list[str]:
        return [self.prompts] if isinstance(self.prompts, str) else list(self.prompts)

    def negative_list(self) -> list[str]:
        negs = [self.negatives] if isinstance(self.negatives, str) else list(self.negatives)
        n = len(self.prompt_list())
        return negs * n if len(negs) == 1 and n > 1 else negs

    def method_labels(self) -> list[str]:
        if self.labels is not None:
            return list(self.labels)
        labels, seen = [], {}
        for m in self.methods:
            base = m.label()
            seen[base] = seen.get(base, 0) + 1
            labels.append(base if seen[base] == 1 else f"{base} #{seen[base]}")
        return labels


def check_request(req: GenerationRequest, adapter: ModelAdapter | None = None,
                  require_negative: bool = False) -> None:
    """Raise GuidanceConfigError with a readable message for anything out of range."""
    prompts, negatives = req.prompt_list(), req.negative_list()
    if not prompts or any(not isinstance(p, str) or not p.strip() for p in prompts):
        raise GuidanceConfigError("Give a positive prompt (it is empty).")
    if len(prompts) > MAX_PROMPTS:
        raise GuidanceConfigError(f"At most {MAX_PROMPTS} prompts per run.")
    if len(negatives) != len(prompts):
        raise GuidanceConfigError("Give one negative prompt, or one per positive prompt.")
    if any(not isinstance(t, str) or len(t) > MAX_TEXT or "\x00" in t for t in prompts + negatives):
        raise GuidanceConfigError(f"Prompts must be text of at most {MAX_TEXT} characters.")
    if require_negative and any(m.uses_negative for m in req.methods) and any(not n.strip() for n in negatives):
        raise GuidanceConfigError("Give a negative prompt: every selected method except 'Positive only' uses it.")
    if not req.methods:
        raise GuidanceConfigError("Pick at least one method.")
    labels = req.method_labels()
    if len(labels) != len(req.methods) or len(set(labels)) != len(labels):
        raise GuidanceConfigError("Method labels must be unique, one per method.")
    for m in req.methods:
        if not isinstance(m, GuidanceMethod):
            raise GuidanceConfigError(f"{m!r} is not a guidance method")
        m.validate()
    seeds = list(req.seeds)
    if not seeds or len(seeds) > MAX_SEEDS:
        raise GuidanceConfigError(f"Give between 1 and {MAX_SEEDS} seeds.")
    if any(not isinstance(s, int) or isinstance(s, bool) or not 0 <= s < 2**63 for s in seeds):
        raise GuidanceConfigError("Seeds must be whole numbers >= 0.")
    if len(set(seeds)) != len(seeds):
        raise GuidanceConfigError("Seeds must be different from each other.")
    if not isinstance(req.steps, int) or not 1 <= req.steps <= MAX_STEPS:
        raise GuidanceConfigError(f"Steps must be between 1 and {MAX_STEPS}.")
    if adapter is not None and req.size is not None:
        m = adapter.size_multiple
        if not isinstance(req.size, int) or req.size < m or req.size > adapter.max_size or req.size % m:
            raise GuidanceConfigError(f"Size must be a multiple of {m} between {m} and {adapter.max_size} "
                                      f"for this model (default {adapter.default_size}).")
    for m in req.methods:
        start = getattr(m, "start_step", None)
        if start is not None and start >= req.steps:
            raise GuidanceConfigError(f"Delayed negative: the start step ({start}) must be below the number "
                                      f"of steps ({req.steps}), or the negative never acts.")


@dataclass
class MethodRun:
    label: str
    method: GuidanceMethod
    images: Any  # numpy uint8 [N, H, W, 3]
    x0_steps: Any = None  # numpy uint8 [N, steps, H, W, 3] or None
    latents: Any = None  # torch float32 [N, C, h, w] on CPU: the final latents (pixels for the toy model)
    seconds: float = 0.0
    seconds_per_image: float = 0.0
    cpu_seconds_per_image: float = 0.0  # process CPU time: steadier than wall time on a busy shared CPU
    peak_memory_mb: float | None = None
    memory_kind: str = ""  # "cuda allocated" | "process RSS above start"
    denoiser_calls: int = 0
    guided_attention_calls: int = 0


@dataclass
class GenerationResult:
    request: GenerationRequest
    model: dict[str, Any]
    size: int
    samples: list[tuple[int, int]]  # (prompt index, seed) per image row
    runs: list[MethodRun] = field(default_factory=list)

    def run(self, label: str) -> MethodRun:
        for r in self.runs:
            if r.label == label:
                return r
        raise KeyError(label)

    def image(self, label: str, prompt_index: int, seed: int) -> Any:
        return self.run(label).images[self.samples.index((prompt_index, seed))]


ProgressFn = Callable[[int, int, str], None]


class _RssPeak:
    """Peak resident memory of the process while a method runs (CPU; sampled every 5 ms)."""

    def __init__(self):
        self.peak = self.start = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    @staticmethod
    def _rss() -> int:
        try:
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            return 0

    def _loop(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._rss())

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def above_start_mb(self) -> float:
        return (self.peak - self.start) / 2**20


def generate(adapter: ModelAdapter, request: GenerationRequest, progress: ProgressFn | None = None,
             require_negative: bool = False) -> GenerationResult:
    """Run every method of the request from the same initial noise; see the module docstring."""
    import torch

    check_request(request, adapter, require_negative=require_negative)
    size = request.size or adapter.default_size
    prompts, negatives = request.prompt_list(), request.negative_list()
    seeds = list(request.seeds)
    samples = [(p, s) for p in range(len(prompts)) for s in seeds]
    prompt_idx = [p for p, _ in samples]
    labels = request.method_labels()
    result = GenerationResult(request=request, model=adapter.describe(), size=size, samples=samples)
    total = request.steps * len(request.methods)
    done = 0
    try:
        # One generation per model at a time: attention methods swap the (shared, cached) model's processors.
        with _model_lock(adapter), torch.no_grad():
            texts = sorted({*prompts, *negatives, ""})
            enc = adapter.encode(texts)
            pos_rows = [texts.index(prompts[i]) for i in prompt_idx]
            neg_rows = [texts.index(negatives[i]) for i in prompt_idx]
            empty_rows = [texts.index("")] * len(samples)
            conds = {"pos": enc.take(pos_rows), "neg": enc.take(neg_rows), "empty": enc.take(empty_rows)}
            noise = torch.cat([adapter.initial_noise(s, size) for _, s in samples]).to(adapter.device)
            # One untimed call first: lazy initialisation (kernels, allocator) would otherwise be billed to
            # whichever method runs first.
            warm = adapter.make_scheduler()
            t0 = adapter.set_timesteps(warm, request.steps, size)[0]
            adapter.predict(noise, t0, conds["pos"], AttentionState())
            for label, method in zip(labels, request.methods, strict=True):
                def tick(step: int, label: str = label, offset: int = done) -> None:
                    if progress is not None:
                        progress(offset + step + 1, total, label)

                run = _run_method(adapter, method, label, conds, noise, request.steps, size, request.record_x0,
                                  tick)
                result.runs.append(run)
                done += request.steps
    except torch.cuda.OutOfMemoryError as exc:
        _free_cuda()
        raise GenerationError(_oom_message(request)) from exc
    except RuntimeError as exc:
        if "out of memory" in str(exc).lower() or "can't allocate memory" in str(exc).lower():
            _free_cuda()
            raise GenerationError(_oom_message(request)) from exc
        raise
    return result


_LOCKS_GUARD = threading.Lock()


def _model_lock(adapter: ModelAdapter) -> threading.Lock:
    with _LOCKS_GUARD:
        lock = getattr(adapter, "_generation_lock", None)
        if lock is None:
            lock = threading.Lock()
            adapter._generation_lock = lock
        return lock


def _oom_message(req: GenerationRequest) -> str:
    return (f"Out of memory with {len(req.prompt_list()) * len(list(req.seeds))} images per method at this size. "
            "Use fewer seeds or prompts, a smaller size, or fewer methods, then try again.")


def _free_cuda() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _run_method(adapter: ModelAdapter, method: GuidanceMethod, label: str, conds: dict[str, TextCond],
                noise: Any, steps: int, size: int, record_x0: bool, tick: Callable[[int], None]) -> MethodRun:
    import contextlib

    import torch

    n = noise.shape[0]
    cuda = str(adapter.device).startswith("cuda") and torch.cuda.is_available()
    state = AttentionState()
    attention = method.attention
    if attention is not None:
        neg = conds["neg"]
        if not attention.negative_unpadded():
            neg = TextCond(neg.hidden, torch.ones_like(neg.mask), neg.pooled)
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base_mem = torch.cuda.memory_allocated()
    meter = contextlib.nullcontext() if cuda else _RssPeak()
    install = installed_processors(adapter.denoiser, adapter.family, attention, state) \
        if attention is not None else contextlib.nullcontext()
    x0s = []
    calls = 0
    t0, c0 = time.perf_counter(), time.process_time()
    with meter, install:
        scheduler = adapter.make_scheduler()
        timesteps = adapter.set_timesteps(scheduler, steps, size)
        latents = noise.to(torch.float32) * float(getattr(scheduler, "init_noise_sigma", 1.0))
        for i, t in enumerate(timesteps):
            roles = method.branches(i, steps)
            scaled = scheduler.scale_model_input(latents, t) if hasattr(scheduler, "scale_model_input") else latents
            model_in = scaled.repeat(len(roles), 1, 1, 1)
            cond = TextCond.cat([conds[r] for r in roles])
            state.active = attention is not None and method.attention_active(i, steps)
            if state.active:
                pos_at = roles.index("pos")
                state.guided_rows = torch.arange(pos_at * n, (pos_at + 1) * n, device=model_in.device)
                state.neg_hidden = neg.hidden.repeat(len(roles), 1, 1)
                state.neg_mask = neg.mask.repeat(len(roles), 1)
            pred = adapter.predict(model_in, t, cond, state).float()
            calls += 1
            preds = dict(zip(roles, pred.chunk(len(roles)), strict=True))
            guided = method.combine(preds, i, steps)
            latents, x0 = adapter.step(scheduler, guided, t, latents)
            if record_x0:
                x0s.append(x0.detach().float())
            tick(i)
        images = adapter.decode(latents)
        if cuda:
            torch.cuda.synchronize()
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    x0_steps = None
    if record_x0 and x0s:
        import numpy as np

        decoded = [adapter.decode(x) for x in x0s]  # each [N, H, W, 3]
        x0_steps = np.stack(decoded, axis=1)
    if cuda:
        peak, kind = (torch.cuda.max_memory_allocated() - base_mem) / 2**20, "cuda allocated above start"
    else:
        peak, kind = meter.above_start_mb, "process RSS above start"
    return MethodRun(label=label, method=method, images=images, x0_steps=x0_steps, latents=latents.float().cpu(),
                     seconds=seconds,
                     seconds_per_image=seconds / n, cpu_seconds_per_image=cpu_seconds / n, peak_memory_mb=peak, memory_kind=kind, denoiser_calls=calls,
                     guided_attention_calls=state.calls)


def as_list(x: Sequence[Any] | Any) -> list[Any]:
    return list(x) if isinstance(x, (list, tuple)) else [x]

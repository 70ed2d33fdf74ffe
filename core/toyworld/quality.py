"""The issue's quality figures for the toy model, measured with the exact checker.

- single: prompts "a <colour> <shape>" (all 12), success = the checker finds exactly one object and it has
  the asked colour and shape;
- pair: prompts "a <colour> <shape> and a <colour> <shape>" (a fixed set of different pairs), success =
  both asked objects are found (and, for the strict figure, nothing else);
- position (extra): "a <colour> <shape> on the left / right / at the top / bottom", success = right object
  in the right place.
All at DDIM `steps` steps with CFG `guidance_scale`, fixed seeds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from core.toyworld import scenes
from core.toyworld.checker import check

OBJECTS = [(c, s) for c in scenes.COLOURS for s in scenes.SHAPES]


def single_prompts() -> list[tuple[str, list[tuple[str, str]]]]:
    return [(scenes.single_caption(c, s), [(c, s)]) for c, s in OBJECTS]


def pair_prompts(n: int = 12, seed: int = 7) -> list[tuple[str, list[tuple[str, str]]]]:
    """n fixed pairs of different objects with different colours (so the pair is unambiguous to check)."""
    rng = np.random.default_rng(seed)
    pairs: list[tuple[str, list[tuple[str, str]]]] = []
    seen = set()
    while len(pairs) < n:
        i, j = rng.choice(len(OBJECTS), size=2, replace=False)
        a, b = OBJECTS[i], OBJECTS[j]
        if a[0] == b[0] or (a, b) in seen:
            continue
        seen.add((a, b))
        pairs.append((scenes.pair_caption(a, b), [a, b]))
    return pairs


def position_prompts() -> list[tuple[str, tuple[str, str], str]]:
    out = []
    for k, (c, s) in enumerate(OBJECTS):
        pos = ("left", "right", "top", "bottom")[k % 4]
        out.append((scenes.single_caption(c, s, position=pos), (c, s), pos))
    return out


def _run(model, prompts: list[str], samples_per_prompt: int, steps: int, guidance_scale: float,
         seed: int) -> list[np.ndarray]:
    from core.toyworld.sample import sample

    images = []
    for k in range(samples_per_prompt):
        images.append(sample(prompts, steps=steps, guidance_scale=guidance_scale, seed=seed + k, model=model))
    # images[k][i] = sample k of prompt i -> flatten prompt-major
    return [images[k][i] for i in range(len(prompts)) for k in range(samples_per_prompt)]


def evaluate_quality(path: str | Path | None = None, samples_per_prompt: int = 8, steps: int = 25,
                     guidance_scale: float | None = None, seed: int = 1000, n_pairs: int = 12,
                     model=None, include_position: bool = True) -> dict[str, Any]:
    """The figures at `guidance_scale` (default: the model's usual scale, sample.DEFAULT_GUIDANCE)."""
    from core.toyworld.sample import DEFAULT_GUIDANCE, ToyT2I

    guidance_scale = DEFAULT_GUIDANCE if guidance_scale is None else guidance_scale
    model = model or ToyT2I.load(path)
    t0 = time.time()
    out: dict[str, Any] = {"steps": steps, "guidance_scale": guidance_scale, "samples_per_prompt": samples_per_prompt,
                           "seed": seed}

    singles = single_prompts()
    imgs = _run(model, [p for p, _ in singles], samples_per_prompt, steps, guidance_scale, seed)
    strict = lenient = colour_ok = shape_ok = 0
    for idx, img in enumerate(imgs):
        (c, s) = singles[idx // samples_per_prompt][1][0]
        r = check(img)
        strict += r.matches([(c, s)], exact=True)
        lenient += r.has(colour=c, shape=s)
        big = r.objects[0] if r.objects else None
        colour_ok += bool(big and big.colour == c)
        shape_ok += bool(big and big.shape == s)
    n = len(imgs)
    out["single"] = {"n": n, "correct": strict / n, "present": lenient / n, "colour": colour_ok / n,
                     "shape": shape_ok / n}

    pairs = pair_prompts(n_pairs)
    imgs = _run(model, [p for p, _ in pairs], samples_per_prompt, steps, guidance_scale, seed)
    strict = lenient = 0
    for idx, img in enumerate(imgs):
        want = pairs[idx // samples_per_prompt][1]
        r = check(img)
        strict += r.matches(want, exact=True)
        lenient += r.matches(want, exact=False)
    n = len(imgs)
    out["pair"] = {"n": n, "correct": lenient / n, "exact": strict / n}

    if not include_position:
        out["seconds"] = round(time.time() - t0, 1)
        return out
    positions = position_prompts()
    imgs = _run(model, [p for p, _, _ in positions], max(1, samples_per_prompt // 2), steps, guidance_scale, seed)
    k = max(1, samples_per_prompt // 2)
    ok = sum(check(img).has(colour=positions[i // k][1][0], shape=positions[i // k][1][1],
                            position=positions[i // k][2]) for i, img in enumerate(imgs))
    out["position"] = {"n": len(imgs), "correct": ok / len(imgs)}
    out["seconds"] = round(time.time() - t0, 1)
    return out


def evaluate_and_record(path: str | Path, samples_per_prompt: int = 4, guidance_scale: float | None = None,
                        log: Callable[[str], None] = print) -> dict[str, Any]:
    """Measure and write the figures into <path>/toy_t2i.json under "quality"."""
    from core.toyworld.model import META_FILE
    from core.toyworld.sample import ToyT2I

    path = Path(path)
    figures = evaluate_quality(samples_per_prompt=samples_per_prompt, guidance_scale=guidance_scale,
                               model=ToyT2I.load(path))
    meta_file = path / META_FILE
    meta = json.loads(meta_file.read_text()) if meta_file.exists() else {}
    meta["quality"] = figures
    meta_file.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    log(f"wrote quality figures to {meta_file}")
    return figures


def quality_summary(quality: dict[str, Any] | None) -> str | None:
    """One line for people about to use the model: its recorded figures (toy_t2i.json "quality"), or None
    when none are recorded. Two-object prompts are the model's weak spot; a researcher comparing guidance
    methods on them should know how often the model fails with no negative prompt at all."""
    try:
        single, pair = quality["single"], quality["pair"]
        text = (f"Measured by the exact checker ({quality['steps']} steps, CFG {quality['guidance_scale']:g}, "
                f"{single['n']} single-object and {pair['n']} two-object images): one object drawn right in {single['correct']:.0%}")
        if "position" in quality:
            text += f", the named position right in {quality['position']['correct']:.0%}"
        text += f", both objects of a two-object prompt right in {pair['correct']:.0%}."
    except (KeyError, TypeError, ValueError):
        return None
    if pair["correct"] < 0.9:
        text += (f" So about {1 - pair['correct']:.0%} of two-object images go wrong before any negative prompt "
                 "is given: judge methods over several seeds.")
    return text

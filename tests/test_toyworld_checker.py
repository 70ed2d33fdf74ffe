"""The exact checker: accuracy on held-out generated scenes (clean and with a tinted, noisy background)."""

from __future__ import annotations

import numpy as np
import pytest

from core.toyworld import scenes
from core.toyworld.checker import DetectedObject, SceneReport, check

HELD_OUT = range(50_000_000, 50_000_300)  # training draws scenes from (seed, step) streams, never these


def _truth(s: scenes.Scene) -> list[tuple[str, str, str]]:
    return sorted((o.colour, o.shape, o.position) for o in s.objects)


def _found(r: SceneReport) -> list[tuple[str, str, str]]:
    return sorted((o.colour, o.shape, o.position) for o in r.objects)


def _accuracy(noise: float, tint: float, seeds=HELD_OUT) -> float:
    rng = np.random.default_rng(99)
    ok = 0
    for seed in seeds:
        s = scenes.generate(seed)
        img = s.image.astype(np.float32) + rng.uniform(-tint, tint, 3) + rng.normal(0.0, noise, s.image.shape)
        ok += _truth(s) == _found(check(np.clip(img, 0, 255).astype(np.uint8)))
    return ok / len(seeds)


def test_accuracy_on_clean_held_out_scenes():
    # colour, shape and position of every object, and no extra objects
    assert _accuracy(noise=0.0, tint=0.0) >= 0.98


def test_accuracy_with_tinted_noisy_background():
    assert _accuracy(noise=10.0, tint=25.0, seeds=HELD_OUT[:200]) >= 0.98


def test_grainy_images_are_denoised_for_segmentation():
    # Strong pixel noise (like an under-trained sampler's output) must not create phantom objects.
    assert _accuracy(noise=30.0, tint=40.0, seeds=HELD_OUT[:120]) >= 0.97


def test_sizes_are_recovered():
    ok = total = 0
    for seed in HELD_OUT[:150]:
        s = scenes.generate(seed)
        r = check(s.image)
        for o in s.objects:
            total += 1
            ok += r.has(colour=o.colour, shape=o.shape, size=o.size)
    assert ok / total >= 0.95


def test_report_api():
    img = scenes.render([scenes.SceneObject("circle", "red", "left", "large", 8.5, 16.0, 6.5),
                         scenes.SceneObject("triangle", "yellow", "right", "small", 23.5, 16.0, 4.5)])
    r = check(img)
    assert isinstance(r.objects[0], DetectedObject)
    assert r.has(colour="red", shape="circle") and r.has(colour="yellow", shape="triangle")
    assert r.has(colour="red") and r.has(shape="triangle") and not r.has(colour="blue")
    assert not r.has(colour="red", shape="triangle")
    assert r.has(colour="red", position="left") and r.has(colour="yellow", position="right")
    assert r.colours == {"red", "yellow"} and r.shapes == {"circle", "triangle"}
    assert r.matches([("red", "circle"), ("yellow", "triangle")])
    assert not r.matches([("red", "circle")])  # exact: the triangle is an extra object
    assert r.matches([("red", "circle")], exact=False)
    assert r.count(colour="red") == 1
    assert r.objects[0].area > r.objects[1].area  # sorted by area


def test_empty_image_has_no_objects():
    img = np.full((32, 32, 3), scenes.BACKGROUND, dtype=np.uint8)
    assert check(img).objects == ()
    noisy = np.clip(img + np.random.default_rng(0).normal(0, 8, img.shape), 0, 255).astype(np.uint8)
    assert check(noisy).objects == ()


def test_larger_images_work():
    s = scenes.generate(50_000_007)
    big = np.kron(s.image, np.ones((2, 2, 1), dtype=np.uint8))
    assert _found(check(big)) == _truth(s)


def test_rejects_non_rgb():
    with pytest.raises(ValueError):
        check(np.zeros((32, 32), dtype=np.uint8))

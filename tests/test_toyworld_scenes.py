"""The shapes-world generator: determinism, grammar, captions that match the objects."""

from __future__ import annotations

import numpy as np
import pytest

from core.toyworld import scenes


def test_generator_is_deterministic():
    a, b = scenes.generate(123), scenes.generate(123)
    assert np.array_equal(a.image, b.image)
    assert a.caption == b.caption and a.objects == b.objects
    c = scenes.generate(124)
    assert not (np.array_equal(a.image, c.image) and a.caption == c.caption)


def test_image_format_and_background():
    s = scenes.generate(5)
    assert s.image.dtype == np.uint8 and s.image.shape == (scenes.IMAGE_SIZE, scenes.IMAGE_SIZE, 3)
    # Plain background: every corner pixel is exactly the background colour.
    for y, x in [(0, 0), (0, -1), (-1, 0), (-1, -1)]:
        assert tuple(s.image[y, x]) == scenes.BACKGROUND


def test_vocabulary_covers_the_issue():
    assert {"red", "green", "blue", "yellow"} <= set(scenes.COLOURS)
    assert {"circle", "square", "triangle"} <= set(scenes.SHAPES)


@pytest.mark.parametrize("seed", range(0, 400, 7))
def test_caption_matches_objects(seed):
    s = scenes.generate(seed)
    assert s.caption in set(scenes.all_captions())
    parsed = scenes.parse_caption(s.caption)
    assert len(parsed) == len(s.objects) in (1, 2)
    for said, obj in zip(parsed, s.objects, strict=True):
        assert (said.colour, said.shape) == (obj.colour, obj.shape)
        assert said.size in (None, obj.size)
        assert said.position in (None, obj.position)


def test_all_captions_is_finite_unique_and_parses():
    caps = scenes.all_captions()
    assert caps[0] == "" and len(caps) == len(set(caps))
    assert "a red circle" in caps and "a blue square on the left and a yellow triangle" in caps
    for c in caps[1:]:
        assert scenes.parse_caption(c)


def test_pairs_do_not_overlap_and_stay_inside():
    rng = np.random.default_rng(0)
    seen_pairs = 0
    for _ in range(300):
        s = scenes.random_scene(rng)
        for o in s.objects:
            assert o.radius <= o.cx <= scenes.IMAGE_SIZE - o.radius
            assert o.radius <= o.cy <= scenes.IMAGE_SIZE - o.radius
        if len(s.objects) == 2:
            seen_pairs += 1
            a, b = s.objects
            gap = max(abs(a.cx - b.cx) - a.radius - b.radius, abs(a.cy - b.cy) - a.radius - b.radius)
            assert gap >= 1.0
            assert scenes.OPPOSITE[a.position] == b.position
    assert 100 < seen_pairs < 200


def test_render_colours_are_exact_inside_objects():
    obj = scenes.SceneObject("square", "red", "center", "large", 16.0, 16.0, 7.0)
    img = scenes.render([obj])
    assert tuple(img[16, 16]) == scenes.COLOURS["red"]
    assert tuple(img[2, 2]) == scenes.BACKGROUND


def test_parse_caption_rejects_other_text():
    with pytest.raises(ValueError):
        scenes.parse_caption("a purple hexagon")

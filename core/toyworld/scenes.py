"""The shapes world: vocabulary, caption grammar and a seeded scene generator.

A scene is one or two flat shapes (circle, square, triangle) in one of four saturated colours on a plain
light-grey background, 32x32 RGB. Every caption comes from a small finite grammar, so `all_captions()` can
enumerate them (the trainer encodes them once with MiniLM and never runs the text encoder again).

Layout (pixel centres, image 32x32):
- one object: centre, left, right, top or bottom, small or large, jittered by up to a pixel;
- two objects: side by side (left/right) or stacked (top/bottom), never overlapping.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IMAGE_SIZE = 32
BACKGROUND: tuple[int, int, int] = (225, 225, 225)

# Saturated, well separated colours (the checker classifies by nearest palette colour).
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (215, 35, 35),
    "green": (30, 160, 50),
    "blue": (35, 75, 215),
    "yellow": (240, 200, 20),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle")
SIZES: tuple[str, ...] = ("small", "large")
POSITIONS: tuple[str, ...] = ("center", "left", "right", "top", "bottom")

# "Radius" (half of the bounding-box side) per size, in pixels.
SIZE_RADIUS: dict[str, float] = {"small": 4.5, "large": 7.0}
# Object centres per position (x, y) in pixel coordinates (pixel i covers [i, i+1)).
POSITION_CENTRE: dict[str, tuple[float, float]] = {
    "center": (16.0, 16.0),
    "left": (8.5, 16.0),
    "right": (23.5, 16.0),
    "top": (16.0, 8.5),
    "bottom": (16.0, 23.5),
}
POSITION_PHRASE: dict[str, str] = {
    "center": "in the center",
    "left": "on the left",
    "right": "on the right",
    "top": "at the top",
    "bottom": "at the bottom",
}
OPPOSITE: dict[str, str] = {"left": "right", "right": "left", "top": "bottom", "bottom": "top"}

_SUPERSAMPLE = 4  # render at 4x and average: anti-aliased edges, sub-pixel sizes


@dataclass(frozen=True)
class SceneObject:
    shape: str
    colour: str
    position: str  # one of POSITIONS
    size: str  # one of SIZES
    cx: float  # exact centre in pixels
    cy: float
    radius: float  # half of the bounding-box side in pixels

    @property
    def noun_phrase(self) -> str:
        return f"{self.colour} {self.shape}"


@dataclass(frozen=True)
class Scene:
    image: np.ndarray  # uint8 [H, W, 3]
    caption: str
    objects: tuple[SceneObject, ...]


# ---- grammar ------------------------------------------------------------------------------------------

def _np(colour: str, shape: str, size: str | None = None) -> str:
    return f"a {size + ' ' if size else ''}{colour} {shape}"


def single_caption(colour: str, shape: str, size: str | None = None, position: str | None = None) -> str:
    """"a [small|large] <colour> <shape> [on the left|...]"."""
    text = _np(colour, shape, size)
    return f"{text} {POSITION_PHRASE[position]}" if position else text


def pair_caption(first: tuple[str, str], second: tuple[str, str], first_position: str | None = None) -> str:
    """"a <colour> <shape> [on the left|...] and a <colour> <shape>" (the second object takes the other side)."""
    head = _np(*first)
    if first_position:
        head = f"{head} {POSITION_PHRASE[first_position]}"
    return f"{head} and {_np(*second)}"


def all_captions() -> list[str]:
    """Every caption the generator can emit, in a fixed order (plus the empty caption, first)."""
    out = [""]
    for colour in COLOURS:
        for shape in SHAPES:
            for size in (None, *SIZES):
                for position in (None, *POSITIONS):
                    out.append(single_caption(colour, shape, size, position))
    objects = [(c, s) for c in COLOURS for s in SHAPES]
    for a in objects:
        for b in objects:
            if a == b:
                continue
            for pos in (None, "left", "right", "top", "bottom"):
                out.append(pair_caption(a, b, pos))
    return out


# ---- rendering ----------------------------------------------------------------------------------------

def _coverage(shape: str, cx: float, cy: float, r: float, size: int = IMAGE_SIZE) -> np.ndarray:
    """Anti-aliased coverage mask in [0, 1] of one shape ([size, size] float32)."""
    n = size * _SUPERSAMPLE
    coords = (np.arange(n, dtype=np.float32) + 0.5) / _SUPERSAMPLE
    x = coords[None, :]
    y = coords[:, None]
    if shape == "circle":
        m = (x - cx) ** 2 + (y - cy) ** 2 <= r * r
    elif shape == "square":
        m = (np.abs(x - cx) <= r) & (np.abs(y - cy) <= r)
    elif shape == "triangle":
        # Upright isosceles triangle filling the bounding box: apex at top centre, base at the bottom.
        t = (y - (cy - r)) / (2 * r)  # 0 at the apex, 1 at the base
        m = (t >= 0) & (t <= 1) & (np.abs(x - cx) <= t * r)
    else:
        raise ValueError(f"unknown shape {shape!r}")
    return m.reshape(size, _SUPERSAMPLE, size, _SUPERSAMPLE).mean(axis=(1, 3)).astype(np.float32)


def render(objects: tuple[SceneObject, ...] | list[SceneObject], size: int = IMAGE_SIZE) -> np.ndarray:
    """Paint the objects over the background; uint8 [size, size, 3]."""
    img = np.empty((size, size, 3), dtype=np.float32)
    img[:] = np.asarray(BACKGROUND, dtype=np.float32)
    for o in objects:
        a = _coverage(o.shape, o.cx, o.cy, o.radius, size)[..., None]
        img = img * (1 - a) + np.asarray(COLOURS[o.colour], dtype=np.float32) * a
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


# ---- generator ----------------------------------------------------------------------------------------

def _make_object(rng: np.random.Generator, colour: str, shape: str, position: str, size: str,
                 jitter: float, max_radius: float | None = None) -> SceneObject:
    cx, cy = POSITION_CENTRE[position]
    r = SIZE_RADIUS[size] + rng.uniform(-0.5, 0.5)
    if max_radius is not None:
        r = min(r, max_radius)
    return SceneObject(shape=shape, colour=colour, position=position, size=size,
                       cx=float(cx + rng.uniform(-jitter, jitter)), cy=float(cy + rng.uniform(-jitter, jitter)),
                       radius=float(r))


def random_scene(rng: np.random.Generator, p_pair: float = 0.5) -> Scene:
    """One scene and a caption that describes it (attributes are randomly left out of the caption)."""
    colours, shapes = list(COLOURS), list(SHAPES)
    if rng.random() >= p_pair:
        colour, shape = colours[rng.integers(4)], shapes[rng.integers(3)]
        position, size = POSITIONS[rng.integers(5)], SIZES[rng.integers(2)]
        obj = _make_object(rng, colour, shape, position, size, jitter=1.0)
        caption = single_caption(colour, shape, size if rng.random() < 0.5 else None,
                                 position if rng.random() < 0.5 else None)
        return Scene(render([obj]), caption, (obj,))
    # Two different objects, side by side or stacked.
    while True:
        a = (colours[rng.integers(4)], shapes[rng.integers(3)])
        b = (colours[rng.integers(4)], shapes[rng.integers(3)])
        if a != b:
            break
    first_pos = ("left", "right", "top", "bottom")[rng.integers(4)]
    second_pos = OPPOSITE[first_pos]
    # 6.5 px keeps a 2-pixel gap between the two objects in the worst case.
    oa = _make_object(rng, a[0], a[1], first_pos, SIZES[rng.integers(2)], jitter=0.5, max_radius=6.5)
    ob = _make_object(rng, b[0], b[1], second_pos, SIZES[rng.integers(2)], jitter=0.5, max_radius=6.5)
    caption = pair_caption(a, b, first_pos if rng.random() < 0.6 else None)
    return Scene(render([oa, ob]), caption, (oa, ob))


def generate(seed: int, p_pair: float = 0.5) -> Scene:
    """Deterministic: the same seed gives the same image, caption and objects."""
    return random_scene(np.random.default_rng(seed), p_pair=p_pair)


def generate_batch(rng: np.random.Generator, n: int, p_pair: float = 0.5) -> list[Scene]:
    return [random_scene(rng, p_pair=p_pair) for _ in range(n)]


@dataclass(frozen=True)
class CaptionObject:
    colour: str
    shape: str
    size: str | None = None
    position: str | None = None  # for the second object of a pair with a placed first: the opposite side


_PHRASE_POSITION = {v: k for k, v in POSITION_PHRASE.items()}


def parse_caption(caption: str) -> list[CaptionObject]:
    """Inverse of the grammar: the objects (and the attributes the caption states) of a caption."""
    caption = caption.strip()
    if not caption:
        return []
    parts = caption.split(" and ")
    out: list[CaptionObject] = []
    first_position = None
    for k, part in enumerate(parts):
        words = part.split()
        if len(words) < 3 or words[0] != "a":
            raise ValueError(f"not a shapes-world caption: {caption!r}")
        words = words[1:]
        size = words.pop(0) if words[0] in SIZES else None
        colour, shape, rest = words[0], words[1], " ".join(words[2:])
        if colour not in COLOURS or shape not in SHAPES:
            raise ValueError(f"not a shapes-world caption: {caption!r}")
        position = _PHRASE_POSITION.get(rest) if rest else None
        if rest and position is None:
            raise ValueError(f"unknown position phrase {rest!r} in {caption!r}")
        if k == 0:
            first_position = position
        elif first_position in OPPOSITE:
            position = OPPOSITE[first_position]
        out.append(CaptionObject(colour, shape, size, position))
    if len(out) > 2:
        raise ValueError(f"at most two objects per caption: {caption!r}")
    return out

"""Exact checker of the shapes world: which colours and shapes are in an image, and where.

    report = check(image)                    # image: uint8 [H, W, 3]
    report.has(colour="red", shape="circle") # -> bool
    report.objects                           # [DetectedObject(shape, colour, position, size, ...)]

How, without any learned weights:
1. Background = median colour of the border pixels (robust to a tinted or noisy background); if the
   border is grainy, segmentation (not the shape fit) runs on a 3x3 median-filtered copy.
2. Every pixel is unmixed against each palette colour: alpha = how far it is from the background towards
   that colour, residual = how far off that line. A pixel belongs to the colour with the smallest residual
   (anti-aliased edges are background/colour mixes, so they keep their colour); foreground = alpha > 0.5.
3. Connected components per colour (8-connectivity); tiny specks are dropped (listed in report.notes).
4. Shape by template fit: for each shape, the ideal shape with the object's area and centroid is rendered
   (the generator's own anti-aliased renderer) and compared with the observed soft coverage; the smallest
   L1 misfit wins. No learned weights, and the margin between the two best fits is a confidence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from core.toyworld.scenes import COLOURS, IMAGE_SIZE, POSITION_CENTRE, SHAPES, SIZE_RADIUS, _coverage

_PALETTE = np.asarray(list(COLOURS.values()), dtype=np.float32)
_PALETTE_NAMES = list(COLOURS)


@dataclass(frozen=True)
class DetectedObject:
    shape: str  # "circle" | "square" | "triangle" | "unknown"
    colour: str  # a palette colour name
    position: str  # nearest of "center", "left", "right", "top", "bottom"
    size: str  # "small" | "large"
    cx: float  # centroid in pixels (of the original image)
    cy: float
    area: float  # covered pixels (soft)
    bbox: tuple[int, int, int, int]  # y0, x0, y1, x1 (exclusive)
    fill: float  # area / bbox area
    confidence: float  # margin of the shape decision (difference of template errors), 0..1
    template_error: float = 0.0  # L1 misfit of the chosen ideal shape, relative to the area (0 = exact)


@dataclass(frozen=True)
class SceneReport:
    objects: tuple[DetectedObject, ...]
    background: tuple[int, int, int]
    foreground_fraction: float = 0.0
    noise: float = 0.0  # estimated background noise (0..255 units); above NOISE_DENOISE_THRESHOLD -> denoised
    notes: tuple[str, ...] = field(default_factory=tuple)

    def find(self, colour: str | None = None, shape: str | None = None,
             position: str | None = None, size: str | None = None) -> list[DetectedObject]:
        return [o for o in self.objects
                if (colour is None or o.colour == colour) and (shape is None or o.shape == shape)
                and (position is None or o.position == position) and (size is None or o.size == size)]

    def has(self, colour: str | None = None, shape: str | None = None,
            position: str | None = None, size: str | None = None) -> bool:
        """True if some object matches every given attribute (None = any)."""
        return bool(self.find(colour, shape, position, size))

    def count(self, colour: str | None = None, shape: str | None = None) -> int:
        return len(self.find(colour, shape))

    @property
    def colours(self) -> set[str]:
        return {o.colour for o in self.objects}

    @property
    def shapes(self) -> set[str]:
        return {o.shape for o in self.objects}

    def matches(self, wanted: Iterable[tuple[str, str]], exact: bool = True) -> bool:
        """All (colour, shape) pairs present; with exact=True nothing else is (object count equal too)."""
        wanted = list(wanted)
        if not all(self.has(colour=c, shape=s) for c, s in wanted):
            return False
        return not exact or len(self.objects) == len(wanted)


def _border_median(img: np.ndarray) -> np.ndarray:
    border = np.concatenate([img[0], img[-1], img[1:-1, 0], img[1:-1, -1]])
    return np.median(border, axis=0)


NOISE_DENOISE_THRESHOLD = 15.0  # border noise (robust std, 0..255 units) above which the image is denoised


def _border_noise(img: np.ndarray, bg: np.ndarray) -> float:
    """Robust standard deviation of the border pixels around the background colour."""
    border = np.concatenate([img[0], img[-1], img[1:-1, 0], img[1:-1, -1]])
    return float(1.4826 * np.median(np.abs(border - bg)))


def _position_of(cx: float, cy: float, scale: float) -> str:
    best, dist = "center", np.inf
    for name, (px, py) in POSITION_CENTRE.items():
        d = (cx - px * scale) ** 2 + (cy - py * scale) ** 2
        if d < dist:
            best, dist = name, d
    return best


def _template_error(shape: str, cov: np.ndarray, window: np.ndarray, area: float, cx: float, cy: float,
                    scale: float) -> float:
    """L1 distance between the observed coverage and the ideal shape with the same area and centroid."""
    if shape == "square":
        r, tcx, tcy = np.sqrt(area / 4.0), cx, cy
    elif shape == "circle":
        r, tcx, tcy = np.sqrt(area / np.pi), cx, cy
    else:  # upright triangle: area 2 r^2, centroid a third of r below the bounding-box centre
        r = np.sqrt(area / 2.0)
        tcx, tcy = cx, cy - r / 3.0
    h = cov.shape[0]
    # Render at the 32x32 reference scale (the generator's), then compare inside the window.
    template = _coverage(shape, tcx / scale, tcy / scale, r / scale, size=IMAGE_SIZE)
    if scale != 1:
        template = np.kron(template, np.ones((int(round(scale)), int(round(scale))), dtype=np.float32))[:h, :h]
    return float(np.abs(template - cov)[window].sum() / max(area, 1e-6))


def _shape_of(cov: np.ndarray, window: np.ndarray, area: float, cx: float, cy: float,
              scale: float) -> tuple[str, float]:
    """Best-fitting template and a confidence margin (difference of the two smallest errors)."""
    errors = sorted((_template_error(s, cov, window, area, cx, cy, scale), s) for s in SHAPES)
    (e1, best), (e2, _) = errors[0], errors[1]
    return best, float(np.clip(e2 - e1, 0.0, 1.0)), e1


def _unmix(img: np.ndarray, bg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel and palette colour: alpha (how far from background towards the colour, clipped to [0, 1])
    and the residual distance of the pixel from that mix. Anti-aliased edges are mixes of one colour with
    the background, so they are explained by the right colour with a small residual."""
    d = img[:, :, None, :] - bg  # [H, W, 1, 3]
    direction = _PALETTE - bg  # [C, 3]
    norm2 = np.maximum((direction * direction).sum(-1), 1.0)  # [C]
    alpha = np.clip((d * direction).sum(-1) / norm2, 0.0, 1.0)  # [H, W, C]
    residual = np.linalg.norm(d - alpha[..., None] * direction, axis=-1)  # [H, W, C]
    return alpha, residual


def check(image: np.ndarray, min_area: float | None = None) -> SceneReport:
    """Detect the objects of a shapes-world image (uint8 or float in [0, 255], [H, W, 3], square)."""
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[-1] != 3 or img.shape[0] != img.shape[1]:
        raise ValueError(f"expected a square RGB image [H, H, 3], got shape {img.shape}")
    img = img.astype(np.float32)
    h = img.shape[0]
    scale = h / IMAGE_SIZE
    if min_area is None:
        # The smallest generated object (a small triangle) covers ~32 pixels at 32x32; noise specks < 14.
        min_area = 14.0 * scale * scale

    bg = _border_median(img)
    noise = _border_noise(img, bg)
    alpha, residual = _unmix(img, bg)
    seg_alpha, seg_residual = alpha, residual
    if noise > NOISE_DENOISE_THRESHOLD:
        # Grainy image (e.g. an under-trained sampler): segment on a 3x3 median-filtered copy so pixel
        # speckle does not form spurious objects; the shape fit still uses the unfiltered coverage (the
        # filter would round square corners).
        smooth = ndimage.median_filter(img, size=(3, 3, 1), mode="nearest")
        seg_alpha, seg_residual = _unmix(smooth, _border_median(smooth))
    # Each pixel's colour: the palette colour that explains it best (smallest residual, then largest alpha).
    best = np.argmin(seg_residual - 1e-3 * seg_alpha, axis=-1)
    a_best = np.take_along_axis(seg_alpha, best[..., None], -1)[..., 0]
    r_best = np.take_along_axis(seg_residual, best[..., None], -1)[..., 0]
    # Foreground: at least half-way to a palette colour and not too far off its line (noise, odd hues).
    fg = (a_best > 0.5) & (r_best < 90.0)

    objects: list[DetectedObject] = []
    notes: list[str] = []
    structure = np.ones((3, 3), dtype=bool)
    yy, xx = np.mgrid[0:h, 0:h].astype(np.float32)
    for ci, cname in enumerate(_PALETTE_NAMES):
        mask = fg & (best == ci)
        if not mask.any():
            continue
        labels, n = ndimage.label(mask, structure=structure)
        for k in range(1, n + 1):
            comp = labels == k
            # Soft coverage: alpha of this colour on the component and its one-pixel rim (anti-aliasing).
            region = ndimage.binary_dilation(comp, structure=structure)
            cov = np.where(region, alpha[..., ci], 0.0).astype(np.float32)
            cov[comp] = np.maximum(cov[comp], 0.5)
            area = float(cov.sum())
            if area < min_area:
                if area > 2:
                    notes.append(f"dropped {cname} speck of {area:.1f} px")
                continue
            cy = float((cov * (yy + 0.5)).sum() / area)
            cx = float((cov * (xx + 0.5)).sum() / area)
            ys, xs = np.nonzero(comp)
            y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
            window = np.zeros_like(comp)
            window[max(0, y0 - 2):y1 + 2, max(0, x0 - 2):x1 + 2] = True
            window &= (labels == 0) | comp  # other components of this colour do not count against the fit
            shape, conf, err = _shape_of(cov, window, area, cx, cy, scale)
            side = max(y1 - y0, x1 - x0) / scale
            size = "large" if side / 2 > (SIZE_RADIUS["small"] + SIZE_RADIUS["large"]) / 2 - 0.75 else "small"
            objects.append(DetectedObject(shape=shape, colour=cname, position=_position_of(cx, cy, scale),
                                          size=size, cx=cx, cy=cy, area=area, bbox=(y0, x0, y1, x1),
                                          fill=area / float((y1 - y0) * (x1 - x0)), confidence=conf,
                                          template_error=err))
    objects.sort(key=lambda o: -o.area)
    return SceneReport(objects=tuple(objects), background=tuple(int(v) for v in bg),
                       foreground_fraction=float(fg.mean()), noise=noise, notes=tuple(notes))

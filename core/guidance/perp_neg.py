"""Perp-Neg (Armandpour et al. 2023): subtract only the part of the negative direction that is perpendicular
to the positive direction, so the negative cannot cancel what the positive asks for.

    d_pos = eps_pos - eps_empty ;  d_neg = eps_neg - eps_empty
    eps = eps_empty + s * (d_pos - w * perp(d_neg, d_pos))

Three denoiser inputs (empty, pos, neg) batched into one call per step. The projection is per sample (the
official code takes one inner product over the whole batch, which mixes different prompts).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from core.guidance.base import GuidanceMethod, check_range


@dataclass(frozen=True)
class PerpNeg(GuidanceMethod):
    scale: float = 7.5
    neg_weight: float = 1.5

    key: ClassVar[str] = "perp_neg"
    title: ClassVar[str] = "Perp-Neg"
    scale_field: ClassVar[str | None] = "neg_weight"

    def validate(self) -> None:
        check_range("Perp-Neg scale", self.scale, 0.0, 50.0)
        check_range("Perp-Neg negative weight", self.neg_weight, 0.0, 20.0)

    def branches(self, step: int, num_steps: int) -> tuple[str, ...]:
        return ("empty", "pos", "neg")

    def combine(self, preds: dict[str, Any], step: int, num_steps: int) -> Any:
        empty = preds["empty"]
        d_pos = preds["pos"] - empty
        d_neg = preds["neg"] - empty
        return empty + self.scale * (d_pos - self.neg_weight * perpendicular(d_neg, d_pos))


def perpendicular(x: Any, y: Any) -> Any:
    """x minus its projection on y, per sample (first axis); where y is 0 the projection is 0."""
    dims = tuple(range(1, x.ndim))
    xf, yf = x.float(), y.float()
    dot = (xf * yf).sum(dim=dims, keepdim=True)
    norm2 = (yf * yf).sum(dim=dims, keepdim=True)
    coef = dot / norm2.clamp_min(1e-20)
    coef = coef.masked_fill(norm2 == 0, 0.0)
    return (xf - coef * yf).to(x.dtype)

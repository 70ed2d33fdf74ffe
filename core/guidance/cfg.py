"""Classifier-free guidance with the negative prompt as the unconditional branch.

    eps = eps_neg + s * (eps_pos - eps_neg)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from core.guidance.base import GuidanceMethod, check_range


@dataclass(frozen=True)
class CFG(GuidanceMethod):
    scale: float = 7.5

    key: ClassVar[str] = "cfg"
    title: ClassVar[str] = "CFG"
    scale_field: ClassVar[str | None] = "scale"
    neutral: ClassVar[float] = 1.0

    def validate(self) -> None:
        check_range("CFG scale", self.scale, 0.0, 50.0)

    def branches(self, step: int, num_steps: int) -> tuple[str, ...]:
        return ("neg", "pos")

    def combine(self, preds: dict[str, Any], step: int, num_steps: int) -> Any:
        return cfg_combine(preds["neg"], preds["pos"], self.scale)


def cfg_combine(uncond: Any, cond: Any, scale: float) -> Any:
    return uncond + scale * (cond - uncond)

"""Delayed negative (Ban et al., ECCV 2024): CFG whose unconditional branch is the empty prompt before step k
and the negative prompt from step k on, so the negative only acts once the positive has laid out the content.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from core.guidance.base import GuidanceMethod, check_range
from core.guidance.cfg import cfg_combine


@dataclass(frozen=True)
class DelayedNegative(GuidanceMethod):
    scale: float = 7.5
    start_step: int = 3  # k: the first step (0-based) that uses the negative prompt

    key: ClassVar[str] = "delayed"
    title: ClassVar[str] = "Delayed negative"
    scale_field: ClassVar[str | None] = "scale"
    neutral: ClassVar[float] = 1.0

    def validate(self) -> None:
        check_range("CFG scale", self.scale, 0.0, 50.0)
        check_range("start step k", self.start_step, 0, 1000)

    def branches(self, step: int, num_steps: int) -> tuple[str, ...]:
        return ("neg", "pos") if step >= self.start_step else ("empty", "pos")

    def combine(self, preds: dict[str, Any], step: int, num_steps: int) -> Any:
        uncond = preds["neg"] if "neg" in preds else preds["empty"]
        return cfg_combine(uncond, preds["pos"], self.scale)

"""No guidance: the positive prompt's prediction only (one denoiser input per sample)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from core.guidance.base import GuidanceMethod


@dataclass(frozen=True)
class PositiveOnly(GuidanceMethod):
    key: ClassVar[str] = "none"
    title: ClassVar[str] = "Positive only"
    uses_negative: ClassVar[bool] = False

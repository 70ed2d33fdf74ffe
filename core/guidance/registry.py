"""Method names -> classes, and rebuilding a method from its saved dict (run JSON)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from core.guidance.base import GuidanceConfigError, GuidanceMethod, Stack
from core.guidance.cfg import CFG
from core.guidance.delayed import DelayedNegative
from core.guidance.nag import NAG
from core.guidance.nasa import NASA
from core.guidance.perp_neg import PerpNeg
from core.guidance.positive_only import PositiveOnly
from core.guidance.vsf import VSF

METHODS: dict[str, type[GuidanceMethod]] = {c.key: c for c in (PositiveOnly, CFG, PerpNeg, DelayedNegative, NAG,
                                                                VSF, NASA)}


def method_from_dict(d: dict[str, Any]) -> GuidanceMethod:
    """Inverse of `method.to_dict()`; unknown names or parameters raise GuidanceConfigError."""
    d = dict(d)
    key = d.pop("method", None)
    if key == Stack.key:
        return Stack(base=method_from_dict(d["base"]), inner=method_from_dict(d["inner"]))
    cls = METHODS.get(key)
    if cls is None:
        raise GuidanceConfigError(f"unknown guidance method {key!r}; known: {', '.join(METHODS)}")
    known = {f.name for f in fields(cls)}
    extra = set(d) - known
    if extra:
        raise GuidanceConfigError(f"{cls.title} has no parameter(s) {', '.join(sorted(extra))}")
    return cls(**d)


def default_methods(steps: int = 20) -> list[GuidanceMethod]:
    """The comparison the page starts with: every method at its default (the delayed negative starts a
    quarter into the schedule), plus CFG + NAG."""
    return [PositiveOnly(), CFG(), PerpNeg(), DelayedNegative(start_step=max(1, steps // 4)), NAG(),
            Stack(base=CFG(), inner=NAG()), VSF(), NASA()]

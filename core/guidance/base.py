"""The shared interface of every guidance method, and stacking of a prediction rule with an attention rule.

A method is a frozen dataclass of its parameters. It says
- which denoiser inputs (prompt roles: "pos", "neg", "empty") it needs at a step (`branches`),
- how it combines the predictions of those inputs into one (`combine`),
- and, for attention-space methods, which attention processor it installs (`make_processor`) and when it is
  active (`attention_active`). The engine installs the processors before the run and restores the originals
  afterwards, also after an error.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

ROLES = ("pos", "neg", "empty")


class GuidanceConfigError(ValueError):
    """A method parameter is out of range or a combination is not defined; the message says which."""


def check_range(name: str, value: float, lo: float, hi: float) -> None:
    if not isinstance(value, (int, float)) or value != value or not (lo <= value <= hi):
        raise GuidanceConfigError(f"{name} must be between {lo} and {hi}, got {value!r}")


def _fmt(v: Any) -> str:
    if v is None:
        return "auto"
    return f"{v:g}" if isinstance(v, float) else str(v)


@dataclass(frozen=True)
class GuidanceMethod:
    """Base: positive-only behaviour. Subclasses override what they change."""

    key: ClassVar[str] = "base"  # registry name (stable: saved in run JSON)
    title: ClassVar[str] = "base"
    kind: ClassVar[str] = "prediction"  # "prediction" (combines denoiser outputs) | "attention" (edits attention)
    uses_negative: ClassVar[bool] = True
    scale_field: ClassVar[str | None] = None  # the parameter a "methods x strengths" sweep varies
    neutral: ClassVar[float] = 0.0  # the value of scale_field at which the method has no effect

    # -- parameters ----------------------------------------------------------------------------------------
    def validate(self) -> None:
        """Raise GuidanceConfigError for out-of-range parameters."""

    def params(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.key, **self.params()}

    def family(self) -> str:
        """The method's name without parameters (for filters and win-rate tables)."""
        return self.title

    def label(self) -> str:
        p = ", ".join(f"{k}={_fmt(v)}" for k, v in self.params().items())
        return f"{self.title} ({p})" if p else self.title

    # -- prediction space ------------------------------------------------------------------------------------
    def branches(self, step: int, num_steps: int) -> tuple[str, ...]:
        """Prompt roles evaluated at this step, batched into one denoiser call."""
        return ("pos",)

    def combine(self, preds: dict[str, Any], step: int, num_steps: int) -> Any:
        """One prediction [N, ...] from the per-role predictions (each [N, ...], rows = samples)."""
        return preds["pos"]

    # -- attention space -------------------------------------------------------------------------------------
    @property
    def attention(self) -> GuidanceMethod | None:
        """The attention-space part (self for attention methods, the inner one for a Stack)."""
        return self if self.kind == "attention" else None

    def attention_active(self, step: int, num_steps: int) -> bool:
        return False

    def make_processor(self, family: str, state: Any) -> Any:
        """An attention processor for one guided layer of a model family ("unet" | "mmdit")."""
        raise GuidanceConfigError(f"{self.title} does not edit attention")

    def negative_unpadded(self) -> bool:
        """Whether the negative prompt's padding tokens must be hidden from the attention (VSF)."""
        return False


@dataclass(frozen=True)
class Stack(GuidanceMethod):
    """A prediction rule (e.g. CFG) with an attention rule (e.g. NAG) applied to its positive branch."""

    base: GuidanceMethod = None  # type: ignore[assignment]
    inner: GuidanceMethod = None  # type: ignore[assignment]

    key: ClassVar[str] = "stack"
    title: ClassVar[str] = "stack"

    def validate(self) -> None:
        if self.base is None or self.inner is None:
            raise GuidanceConfigError("a stack needs a prediction method and an attention method")
        if self.base.kind != "prediction" or self.inner.kind != "attention":
            raise GuidanceConfigError("stack a prediction method (CFG, Perp-Neg...) with an attention method "
                                      "(NAG, VSF, NASA), in that order")
        self.base.validate()
        self.inner.validate()

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.key, "base": self.base.to_dict(), "inner": self.inner.to_dict()}

    def label(self) -> str:
        return f"{self.base.label()} + {self.inner.label()}"

    def family(self) -> str:
        return f"{self.base.title} + {self.inner.title}"

    def branches(self, step: int, num_steps: int) -> tuple[str, ...]:
        return self.base.branches(step, num_steps)

    def combine(self, preds: dict[str, Any], step: int, num_steps: int) -> Any:
        return self.base.combine(preds, step, num_steps)

    @property
    def attention(self) -> GuidanceMethod | None:
        return self.inner

    def attention_active(self, step: int, num_steps: int) -> bool:
        return self.inner.attention_active(step, num_steps)

    def make_processor(self, family: str, state: Any) -> Any:
        return self.inner.make_processor(family, state)

    def negative_unpadded(self) -> bool:
        return self.inner.negative_unpadded()


def with_strength(method: GuidanceMethod, multiplier: float) -> GuidanceMethod:
    """The method with its main parameter moved from its neutral ("off") value by `multiplier` times the
    configured distance: 0 -> off (positive only, or CFG without effect), 1 -> as configured, 2 -> twice as far.
    Used for "methods x strengths" grids where one list of values must make sense for every method."""
    from dataclasses import replace

    if isinstance(method, Stack):
        return replace(method, inner=with_strength(method.inner, multiplier))
    name = method.scale_field
    if name is None:
        return method
    value = getattr(method, name)
    return replace(method, **{name: float(method.neutral + multiplier * (value - method.neutral))})

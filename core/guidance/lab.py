"""What the Negative prompts page does, callable from Python: parse the page's inputs into a request
(methods x seeds, or methods x strengths), generate, save to the gallery."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.guidance.base import GuidanceConfigError, GuidanceMethod, with_strength
from core.guidance.engine import MAX_SEEDS, GenerationRequest, check_request, generate
from core.guidance.registry import method_from_dict

MAX_STRENGTHS = 8


@dataclass(frozen=True)
class LabSpec:
    source: str
    prompt: str
    negative: str
    methods: list[dict[str, Any]] = field(default_factory=list)  # method.to_dict() of each chosen method
    seeds: str = "0, 1"
    steps: int = 20
    size: int | None = None
    grid: str = "seeds"  # "seeds": methods x seeds | "strengths": methods x strength multipliers (first seed)
    strengths: str = "0, 0.5, 1, 2"


def parse_numbers(text: str, what: str, kind: type = int, limit: int = MAX_SEEDS) -> list:
    parts = [p for p in str(text).replace(";", ",").replace(" ", ",").split(",") if p.strip()]
    if not parts:
        raise GuidanceConfigError(f"Give at least one {what}.")
    try:
        values = [kind(p) for p in parts]
    except ValueError:
        raise GuidanceConfigError(f"{what.capitalize()}s must be {'whole ' if kind is int else ''}numbers "
                                  f"separated by commas, got {text!r}.") from None
    if len(values) > limit:
        raise GuidanceConfigError(f"At most {limit} {what}s.")
    if len(set(values)) != len(values):
        raise GuidanceConfigError(f"The {what}s must be different from each other.")
    return values


def build_request(spec: LabSpec) -> tuple[GenerationRequest, dict[str, Any]]:
    """The request and the grid layout (`extra`, saved with the run)."""
    methods: list[GuidanceMethod] = [method_from_dict(d) for d in spec.methods]
    if not methods:
        raise GuidanceConfigError("Pick at least one method.")
    seeds = parse_numbers(spec.seeds, "seed")
    if any(s < 0 for s in seeds):
        raise GuidanceConfigError("Seeds must be whole numbers >= 0.")
    extra: dict[str, Any] = {"grid": spec.grid, "spec": {**spec.__dict__}}
    if spec.grid == "strengths":
        mults = parse_numbers(spec.strengths, "strength", kind=float, limit=MAX_STRENGTHS)
        if any(m < 0 for m in mults):
            raise GuidanceConfigError("Strength multipliers must be >= 0.")
        expanded, run_strength, run_row, labels = [], [], [], []
        for m in methods:
            row = m.label()
            sweepable = (m.attention or m).scale_field is not None
            for mult in (mults if sweepable else [None]):
                expanded.append(with_strength(m, mult) if mult is not None else m)
                run_strength.append(mult)
                run_row.append(row)
                labels.append(f"{row} x{mult:g}" if mult is not None else row)
        extra.update(strengths=mults, run_strength=run_strength, run_row=run_row)
        req = GenerationRequest(prompts=[spec.prompt], negatives=[spec.negative], methods=expanded,
                                seeds=seeds[:1], steps=spec.steps, size=spec.size, labels=labels)
    else:
        req = GenerationRequest(prompts=[spec.prompt], negatives=[spec.negative], methods=methods, seeds=seeds,
                                steps=spec.steps, size=spec.size)
    return req, extra


def generate_and_save(adapter: Any, spec: LabSpec, progress: Callable[[int, int, str], None] | None = None) -> str:
    """Validate, generate every method from the same noise, save the run; returns its id."""
    from core.guidance.gallery import save_run

    req, extra = build_request(spec)
    check_request(req, adapter, require_negative=True)
    result = generate(adapter, req, progress=progress, require_negative=True)
    return save_run(result, extra=extra)

"""Negative-prompt adherence on the shapes world: prompt suites, per-image judgements by the exact checker,
and a summary table per suite x method.

Suites (issue 5 item 5):
- attribute ("a circle", negative "red"): the negative names a colour the prompt leaves open.
  negative appears = the checker finds any object of that colour;
  positive right   = an object of the prompt's shape is found.
- overlap ("a red circle and a blue square", negative "a blue square"): the negative repeats one of the
  prompt's two objects.
  negative appears = the checker finds an object with the negative's colour AND shape;
  positive right   = the other (kept) object is found (colour and shape).
- the same two suites with few-step sampling (4 steps) against 25 steps.
success = positive right and the negative absent. Rates are fractions of images (prompts x seeds).
Extra objects are not penalised (the toy model often draws a second or third shape; requiring an exact
object count made every method score 0 in a first run); `n_objects` is kept per image and averaged.

    from core.adherence import default_suites, default_method_grid, run_adherence, summary_table
    df = run_adherence(adapter, default_suites(), default_method_grid, seeds=[0, 1])
    print(summary_table(df))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from core.toyworld import checker
from core.toyworld.scenes import COLOURS, SHAPES

ProgressFn = Callable[[float, str], None]
MethodGrid = Sequence[Any] | Callable[[int], Sequence[Any]]  # methods, or steps -> methods


@dataclass(frozen=True)
class AdherenceCase:
    prompt: str
    negative: str
    negative_colour: str | None  # the negative "appears" if an object matches both given attributes
    negative_shape: str | None
    keep: tuple[tuple[str | None, str], ...]  # (colour or None, shape) that must be found
    max_objects: int | None = None  # if set, positive right also needs at most this many objects

    def negative_appears(self, report: checker.SceneReport) -> bool:
        return report.has(colour=self.negative_colour, shape=self.negative_shape)

    def positive_right(self, report: checker.SceneReport) -> bool:
        found = all(report.has(colour=c, shape=s) for c, s in self.keep)
        return found and (self.max_objects is None or len(report.objects) <= self.max_objects)


@dataclass(frozen=True)
class AdherenceSuite:
    name: str
    kind: str  # "attribute" | "overlap"
    steps: int
    cases: tuple[AdherenceCase, ...]

    def with_steps(self, steps: int, name: str | None = None) -> AdherenceSuite:
        return replace(self, steps=steps, name=name or f"{self.name}@{steps}")


def attribute_suite(n: int = 8, steps: int = 25) -> AdherenceSuite:
    """"a <shape>" with negative "<colour>": n distinct (shape, colour) pairs (12 exist)."""
    colours = list(COLOURS)
    cases = []
    for i in range(n):
        shape, colour = SHAPES[i % len(SHAPES)], colours[i % len(colours)]
        cases.append(AdherenceCase(prompt=f"a {shape}", negative=colour, negative_colour=colour,
                                   negative_shape=None, keep=((None, shape),)))
    return AdherenceSuite(name="a_attribute", kind="attribute", steps=steps, cases=tuple(cases))


def overlap_suite(n: int = 8, steps: int = 25) -> AdherenceSuite:
    """"a C1 S1 and a C2 S2" with negative "a C2 S2" (even cases) or "a C1 S1" (odd cases); the two objects
    differ in colour and shape, so "negative appears" cannot be triggered by the kept object."""
    colours = list(COLOURS)
    cases = []
    for i in range(n):
        c1, c2 = colours[i % 4], colours[(i + 1 + i // 4) % 4]
        s1, s2 = SHAPES[i % 3], SHAPES[(i + 1) % 3]
        first, second = (c1, s1), (c2, s2)
        drop, keep = (second, first) if i % 2 == 0 else (first, second)
        cases.append(AdherenceCase(prompt=f"a {c1} {s1} and a {c2} {s2}", negative=f"a {drop[0]} {drop[1]}",
                                   negative_colour=drop[0], negative_shape=drop[1], keep=(keep,)))
    return AdherenceSuite(name="b_overlap", kind="overlap", steps=steps, cases=tuple(cases))


def default_suites(n_prompts: int = 8, steps: int = 25, few_steps: int = 4) -> list[AdherenceSuite]:
    """(a) attribute, (b) overlap at `steps`, and (c) both again at `few_steps`."""
    a, b = attribute_suite(n_prompts, steps), overlap_suite(n_prompts, steps)
    return [a, b, a.with_steps(few_steps, f"c_attribute_{few_steps}step"),
            b.with_steps(few_steps, f"c_overlap_{few_steps}step")]


def default_method_grid(steps: int, cfg_scales: tuple[float, float] = (7.5, 3.0)) -> list[Any]:
    """Positive only (the floor) and every method of the engine at two strengths: a weaker one and the
    engine's default (the delayed negative starts a quarter into the schedule). `cfg_scales` (usual, other)
    is the model's (`ModelAdapter.cfg_scales`): CFG and the delayed negative run at both, Perp-Neg and
    CFG + NAG at the usual one."""
    from core.guidance import CFG, NAG, NASA, VSF, DelayedNegative, PerpNeg, PositiveOnly, Stack

    k = max(1, steps // 4)
    usual = cfg_scales[0]
    low, high = sorted(cfg_scales)
    return [PositiveOnly(),
            CFG(scale=low), CFG(scale=high),
            PerpNeg(scale=usual, neg_weight=0.75), PerpNeg(scale=usual, neg_weight=1.5),
            DelayedNegative(scale=low, start_step=k), DelayedNegative(scale=high, start_step=k),
            NAG(scale=2.0), NAG(scale=4.0),
            Stack(base=CFG(scale=usual), inner=NAG(scale=2.0)), Stack(base=CFG(scale=usual), inner=NAG(scale=4.0)),
            VSF(scale=1.0), VSF(scale=2.0),
            NASA(alpha=0.15), NASA(alpha=0.3)]


def _family(method: Any) -> str:
    if getattr(method, "key", "") == "stack":
        return f"{method.base.title} + {method.inner.title}"
    return method.title


def _strength(method: Any) -> float | None:
    m = method.inner if getattr(method, "key", "") == "stack" else method
    return None if m.scale_field is None else float(getattr(m, m.scale_field))


def short_label(method: Any) -> str:
    """"CFG 7.5", "Perp-Neg 1.5" (neg_weight), "CFG + NAG 4" (the NAG scale): family and swept strength."""
    v = _strength(method)
    return _family(method) if v is None else f"{_family(method)} {v:g}"


def run_adherence(adapter: Any, suites: Sequence[AdherenceSuite], method_grid: MethodGrid, seeds: Sequence[int],
                  progress: ProgressFn | None = None) -> Any:
    """One row per (suite, method, prompt, seed) image with the checker's verdicts and the method's time per
    image in that suite. All methods of a suite run in one `generate` call (same noise per seed)."""
    import pandas as pd

    from core.guidance import GenerationRequest, generate

    seeds = list(seeds)
    grids = [list(method_grid(s.steps) if callable(method_grid) else method_grid) for s in suites]
    total = sum(len(g) * len(s.cases) * len(seeds) * s.steps for s, g in zip(suites, grids, strict=True)) or 1
    done_before = 0
    rows: list[dict[str, Any]] = []
    for suite, methods in zip(suites, grids, strict=True):
        per_image = len(suite.cases) * len(seeds) * suite.steps

        def tick(done: int, _total: int, label: str, suite: AdherenceSuite = suite, base: int = done_before) -> None:
            if progress is not None:
                # generate() counts steps per method; scale to images x steps across all suites
                frac = (base + done * len(suite.cases) * len(seeds)) / total
                progress(min(1.0, frac), f"{suite.name}: {label}")

        req = GenerationRequest(prompts=[c.prompt for c in suite.cases], negatives=[c.negative for c in suite.cases],
                                methods=list(methods), seeds=seeds, steps=suite.steps, record_x0=False)
        result = generate(adapter, req, progress=tick)
        done_before += per_image * len(methods)
        for method, run in zip(methods, result.runs, strict=True):
            for i, (pi, seed) in enumerate(result.samples):
                case = suite.cases[pi]
                report = checker.check(run.images[i])
                neg, pos = bool(case.negative_appears(report)), bool(case.positive_right(report))
                rows.append({"suite": suite.name, "kind": suite.kind, "steps": suite.steps,
                             "method": short_label(method), "params": run.label, "family": _family(method), "strength": _strength(method),
                             "prompt": case.prompt, "negative": case.negative, "seed": seed,
                             "negative_appears": neg, "positive_right": pos, "success": pos and not neg,
                             "n_objects": len(report.objects),
                             "seconds_per_image": run.seconds_per_image,
                             "cpu_seconds_per_image": run.cpu_seconds_per_image})
    if progress is not None:
        progress(1.0, "done")
    return pd.DataFrame(rows)


SUMMARY_COLUMNS = ["suite", "steps", "method", "family", "strength", "n", "negative_rate", "positive_rate",
                   "success_rate", "mean_objects", "seconds_per_image", "cpu_seconds_per_image", "vs_cfg", "params"]


def summary_table(df: Any) -> Any:
    """Per suite x method: negative rate (lower is better), positive rate and success rate (higher is better),
    time per image, and `vs_cfg`: the success rate minus the best CFG success rate of the same suite
    (positive = beats every CFG scale tried; NaN if the suite has no CFG row)."""
    import pandas as pd

    if df.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    g = df.groupby(["suite", "method"], sort=False)
    out = g.agg(steps=("steps", "first"), family=("family", "first"), strength=("strength", "first"),
                n=("success", "size"), negative_rate=("negative_appears", "mean"),
                positive_rate=("positive_right", "mean"), success_rate=("success", "mean"),
                mean_objects=("n_objects", "mean"), params=("params", "first"),
                seconds_per_image=("seconds_per_image", "mean"),
                cpu_seconds_per_image=("cpu_seconds_per_image", "mean")).reset_index()
    best_cfg = out[out["family"] == "CFG"].groupby("suite")["success_rate"].max()
    out["vs_cfg"] = out["success_rate"] - out["suite"].map(best_cfg)
    return out[SUMMARY_COLUMNS]


def verdicts(summary: Any) -> dict[str, str]:
    """Per method family, across suites: how its best strength does against the best CFG scale, on success
    rate. "beats" / "loses to" only when the difference exceeds two standard errors of a difference of two
    proportions (n images each); otherwise "within noise of"."""
    out: dict[str, str] = {}
    if summary.empty:
        return out
    for family, rows in summary.groupby("family", sort=False):
        if family == "CFG":
            continue
        parts = []
        for suite, r in rows.groupby("suite", sort=False):
            best = r.loc[r["success_rate"].idxmax()]
            d, n = best["vs_cfg"], best["n"]
            if d != d:  # NaN: no CFG in this suite
                continue
            p_cfg = best["success_rate"] - d
            se = ((best["success_rate"] * (1 - best["success_rate"]) + p_cfg * (1 - p_cfg)) / n) ** 0.5
            word = "within noise of" if abs(d) <= 2 * se or d == 0 else ("beats" if d > 0 else "loses to")
            parts.append(f"{suite}: {word} CFG ({d:+.2f})")
        out[family] = "; ".join(parts)
    return out


RESULT_NAME = "negative_adherence"  # <data dir>/bench/negative_adherence.{csv,json}, written by the bench


def load_saved(directory: Any = None) -> tuple[dict[str, Any], Any] | None:
    """The latest saved bench result (metadata, summary table), or None if the bench has not been run."""
    import json
    from pathlib import Path

    import pandas as pd

    from core import paths

    path = Path(directory or paths.subdir("bench")) / f"{RESULT_NAME}.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    table = pd.DataFrame(data.pop("table", []))
    return data, table

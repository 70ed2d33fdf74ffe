"""One evaluation: questions x formats on one model -> a tidy table of option probabilities per prompt.

The page calls `evaluate` once per model; metrics, knowledge categories and charts are all computed from
the returned frames, so they re-render without touching the model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.llm.answer_parsing import parse_answer
from core.llm.bias_metrics import contextual_calibration, normalise
from core.llm.formats import CONTENT_FREE_INPUTS, COT_ANSWER_CUE, PromptFormat
from core.llm.questions import Question
from core.llm.scoring import ScorerConfig, generate_cached, score_prompts

ProgressFn = Callable[[float, str], None]
OPTION_ORDER = ("yes", "no", "idk")


@dataclass(frozen=True)
class EvalSettings:
    scorer: ScorerConfig = ScorerConfig()
    cot_max_new_tokens: int = 96
    content_free: bool = True  # also score content-free inputs (for contextual calibration)


@dataclass
class EvalResult:
    items: pd.DataFrame  # one row per (model, format, question)
    content_free: pd.DataFrame  # one row per (model, format): averaged normalised option probs


def build_prompt(lm, fmt: PromptFormat, user_text: str) -> str:
    return lm.format(user_text, chat=fmt.chat, assistant_prefix=fmt.assistant_prefix)


def _raw_matrix(raw: np.ndarray, fmt: PromptFormat) -> np.ndarray:
    """[N, 3] in (yes, no, idk) order; NaN for an option the format does not offer."""
    names = list(fmt.option_dict)
    out = np.full((raw.shape[0], 3), np.nan)
    for j, name in enumerate(OPTION_ORDER):
        if name in names:
            out[:, j] = raw[:, names.index(name)]
    return out


def evaluate(lm, questions: Sequence[Question], formats: Sequence[PromptFormat], *, store=None,
             settings: EvalSettings = EvalSettings(), progress: ProgressFn | None = None) -> EvalResult:
    """Score every question under every format (cached per prompt in the store when one is given)."""
    rows: list[pd.DataFrame] = []
    cf_rows: list[dict] = []
    n_steps = max(1, len(formats))
    for fi, fmt in enumerate(formats):
        def step(done: int, total: int, fi=fi, fmt=fmt) -> None:
            if progress:
                progress((fi + done / max(total, 1)) / n_steps, f"{fmt.name}: {done}/{total}")

        prompts = [build_prompt(lm, fmt, fmt.user_text(q)) for q in questions]
        generations = [""] * len(prompts)
        if fmt.cot:
            generations = generate_cached(lm, prompts, max_new_tokens=settings.cot_max_new_tokens,
                                          store=store, progress=step)
            scored_prompts = [p + g.rstrip() + COT_ANSWER_CUE for p, g in zip(prompts, generations, strict=True)]
        else:
            scored_prompts = prompts
        raw = _raw_matrix(score_prompts(lm, scored_prompts, fmt.option_dict, config=settings.scorer, store=store,
                                        progress=step), fmt)
        norm = normalise(raw)
        answers = np.array(OPTION_ORDER)[np.argmax(np.nan_to_num(norm, nan=-1.0), axis=1)]
        letters = {forms[-1].strip().lower(): name for name, forms in fmt.options if len(forms[-1].strip()) == 1}
        frame = pd.DataFrame({
            "model": lm.name, "format": fmt.name, "qid": [q.id for q in questions],
            "question": [q.question for q in questions], "relation": [q.relation for q in questions],
            "source": [q.source for q in questions], "familiarity": [q.familiarity for q in questions],
            "frequency": [q.frequency for q in questions], "question_gold": [q.gold for q in questions],
            "gold": [fmt.gold(q) for q in questions], "negated": fmt.negated, "offers_idk": fmt.offers_idk,
            "raw_yes": raw[:, 0], "raw_no": raw[:, 1], "raw_idk": raw[:, 2], "mass": np.nansum(raw, axis=1),
            "p_yes": norm[:, 0], "p_no": norm[:, 1], "p_idk": norm[:, 2], "answer": answers,
            "generation": generations,
            "parsed_answer": [parse_answer(g, letters) if g else None for g in generations],
            "prompt": prompts,
        })
        rows.append(frame)
        if settings.content_free and not fmt.cot:
            cf_prompts = [build_prompt(lm, fmt, fmt.content_free_text(t)) for t in CONTENT_FREE_INPUTS]
            cf_raw = _raw_matrix(score_prompts(lm, cf_prompts, fmt.option_dict, config=settings.scorer,
                                               store=store), fmt)
            cf = normalise(cf_raw).mean(axis=0)
            cf_rows.append({"model": lm.name, "format": fmt.name, "cf_yes": cf[0], "cf_no": cf[1], "cf_idk": cf[2]})
        if progress:
            progress((fi + 1) / n_steps, f"{fmt.name}: done")
    items = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    cf_frame = pd.DataFrame(cf_rows, columns=["model", "format", "cf_yes", "cf_no", "cf_idk"])
    return EvalResult(items=items, content_free=cf_frame)


def calibrated(items: pd.DataFrame, content_free: pd.DataFrame) -> pd.DataFrame:
    """Items with p_yes/p_no/p_idk replaced by contextually calibrated values (formats without content-free
    scores, e.g. chain-of-thought, are left as they are) and `answer` recomputed."""
    out = items.copy()
    for (model, fmt), g in items.groupby(["model", "format"], sort=False):
        row = content_free[(content_free["model"] == model) & (content_free["format"] == fmt)]
        if row.empty:
            continue
        p_cf = row[["cf_yes", "cf_no", "cf_idk"]].to_numpy(dtype=np.float64)[0]
        p = g[["p_yes", "p_no", "p_idk"]].to_numpy(dtype=np.float64)
        cal = contextual_calibration(p, p_cf)
        out.loc[g.index, ["p_yes", "p_no", "p_idk"]] = cal
    p = out[["p_yes", "p_no", "p_idk"]].to_numpy(dtype=np.float64)
    out["answer"] = np.array(OPTION_ORDER)[np.argmax(np.nan_to_num(p, nan=-1.0), axis=1)]
    return out

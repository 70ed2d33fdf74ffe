"""LLM relevance judge cascade: a small model asked "is this document relevant? yes/no", P(yes) as a score.

Stage 1 (the embedded SmolLM2) screens every pair; stage 2 (any stronger local/hub model) re-judges only the
pairs stage 1 found likely relevant, as in RLHN. Scores are cached in the store's kv_cache by
(model, prompt version, query, document), so a pair is never judged twice by the same model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.cache import content_hash

PROMPT_VERSION = 1
PROMPT = ("Search query: {query}\nDocument: {doc}\n\nIs this document a relevant answer to the search query? "
          "Answer yes or no.")
OPTIONS = {"yes": [" yes", "yes", " Yes", "Yes", "YES"], "no": [" no", "no", " No", "No", "NO"]}
ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class JudgeSpec:
    model: str = "embedded:smollm2"
    batch_size: int = 8
    max_doc_chars: int = 600


def prompts_for(lm, pairs: list[tuple[str, str]], spec: JudgeSpec) -> list[str]:
    return [lm.format(PROMPT.format(query=q, doc=d[: spec.max_doc_chars])) for q, d in pairs]


def p_yes(lm, pairs: list[tuple[str, str]], spec: JudgeSpec = JudgeSpec(),
          progress: ProgressFn | None = None) -> np.ndarray:
    """P(yes) / (P(yes) + P(no)) from the next-token distribution, one per pair."""
    if not pairs:
        return np.zeros(0, dtype=np.float32)
    probs = lm.score_options(prompts_for(lm, pairs, spec), OPTIONS, batch_size=spec.batch_size, progress=progress)
    total = probs.sum(axis=1)
    return np.where(total > 0, probs[:, 0] / np.maximum(total, 1e-12), 0.5).astype(np.float32)


def judge_cached(store, lm_loader: Callable[[], object], pairs: list[tuple[str, str]], spec: JudgeSpec = JudgeSpec(),
                 progress: ProgressFn | None = None) -> np.ndarray:
    """Like p_yes, reading and writing the store's kv_cache; the model is loaded only if something is new."""
    namespace = f"retrieval_judge:{spec.model}:v{PROMPT_VERSION}"
    keys = [content_hash(q, d[: spec.max_doc_chars]) for q, d in pairs]
    known = store.cache_get_many(namespace, keys)
    todo = [i for i, k in enumerate(keys) if k not in known]
    if todo:
        lm = lm_loader()
        scores = p_yes(lm, [pairs[i] for i in todo], spec, progress)
        new = {keys[i]: float(s) for i, s in zip(todo, scores, strict=True)}
        store.cache_put_many(namespace, new)
        known.update(new)
    elif progress:
        progress(len(pairs), len(pairs))
    return np.array([known[k] for k in keys], dtype=np.float32)

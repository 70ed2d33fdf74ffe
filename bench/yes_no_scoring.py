"""Bench: batched option scoring vs a naive loop (one prompt at a time, generate, parse), side by side.

Workload: N questions (default 1,000, balanced sample of the embedded WordNet set) x 10 prompt formats with the
embedded SmolLM2-135M-Instruct. The batched scorer (core.llm.scoring: length-sorted batches, shared-prefix KV
cache, last-position-only vocabulary projection) runs on every prompt; the naive loop runs on a subsample
(default 5 prompts per format) and its per-prompt time is extrapolated to the whole workload, as stated in the
output. Neither side uses the SQLite cache, except the explicit "cached re-run" figure.

    .venv/bin/python bench/yes_no_scoring.py [--questions 1000] [--naive-per-format 5] [--batch-size 32]

Prints figures, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--questions", type=int, default=1000)
    ap.add_argument("--formats", type=int, default=10)
    ap.add_argument("--naive-per-format", type=int, default=5)
    ap.add_argument("--naive-max-new-tokens", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--model", default="embedded:smollm2")
    args = ap.parse_args(argv)

    import numpy as np
    import torch

    from core.device import best_device
    from core.llm.adapter import LoadOptions, load_causal_lm
    from core.llm.answer_parsing import parse_answer
    from core.llm.bias_eval import build_prompt
    from core.llm.formats import LIBRARY
    from core.llm.questions import sample_balanced, wordnet_questions
    from core.llm.scoring import ScorerConfig, score_prompts
    from core.store import Store

    lm = load_causal_lm(args.model, LoadOptions())
    questions = sample_balanced(wordnet_questions(), args.questions, seed=0)
    formats = [f for f in LIBRARY if not f.cot][:args.formats]
    jobs = [(f, build_prompt(lm, f, f.user_text(q))) for f in formats for q in questions]
    n_q, n_f, n_p = len(questions), len(formats), len(jobs)
    print(f"device {best_device()} ({torch.get_num_threads()} threads), model {lm.name}")
    print(f"workload: {n_q} questions x {n_f} formats = {n_p} prompts")

    # batched scorer: every prompt, grouped by format (each format has its own options)
    t0 = time.perf_counter()
    batched = {}
    for f in formats:
        prompts = [p for g, p in jobs if g is f]
        batched[f.name] = score_prompts(lm, prompts, f.option_dict,
                                        config=ScorerConfig(batch_size=args.batch_size))
    t_batched = time.perf_counter() - t0
    rate_b = n_p / t_batched
    print(f"batched scorer      : {t_batched:8.1f} s for all {n_p} prompts -> {rate_b:7.2f} prompts/s, "
          f"{rate_b / n_f:6.2f} questions/s (x{n_f} formats)")

    # naive loop on a subsample: one prompt at a time, greedy generate, parse the answer
    rng = np.random.default_rng(0)
    sample = []
    for f in formats:
        idx = rng.choice(n_q, size=min(args.naive_per_format, n_q), replace=False)
        sample += [(f, build_prompt(lm, f, f.user_text(questions[i])), i) for i in idx]
    t0 = time.perf_counter()
    agree = parsed_ok = 0
    for f, p, i in sample:
        text = lm.generate([p], max_new_tokens=args.naive_max_new_tokens, batch_size=1)[0]
        letters = {forms[-1].strip().lower(): n for n, forms in f.options if len(forms[-1].strip()) == 1}
        ans = parse_answer(text, letters)
        parsed_ok += ans is not None
        probs = batched[f.name][i]
        names = list(f.option_dict)
        agree += ans == names[int(np.argmax(probs))]
    t_naive = time.perf_counter() - t0
    rate_n = len(sample) / t_naive
    print(f"naive loop (sample) : {t_naive:8.1f} s for {len(sample)} prompts ({args.naive_max_new_tokens} new "
          f"tokens) -> {rate_n:7.2f} prompts/s, {rate_n / n_f:6.2f} questions/s; extrapolated to the workload: "
          f"{n_p / rate_n:8.1f} s")
    print(f"  naive answers parsed: {parsed_ok}/{len(sample)}; agree with the scorer's argmax: {agree}/{len(sample)}")

    # same subsample, 1 new token (the cheapest generation could be): shows how much of the gain is batching
    t0 = time.perf_counter()
    for _, p, _ in sample:
        lm.generate([p], max_new_tokens=1, batch_size=1)
    t_naive1 = time.perf_counter() - t0
    rate_n1 = len(sample) / t_naive1
    print(f"naive loop, 1 token : {t_naive1:8.1f} s for {len(sample)} prompts -> {rate_n1:7.2f} prompts/s")

    # cached re-run (SQLite kv_cache): a sample of 500 prompts of one format, scored twice
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.sqlite3")
        f = formats[0]
        prompts = [p for g, p in jobs if g is f][:500]
        score_prompts(lm, prompts, f.option_dict, config=ScorerConfig(batch_size=args.batch_size), store=store)
        t0 = time.perf_counter()
        score_prompts(lm, prompts, f.option_dict, store=store)
        t_cached = time.perf_counter() - t0
    rate_c = len(prompts) / t_cached
    print(f"cached re-run       : {t_cached:8.3f} s for {len(prompts)} prompts -> {rate_c:9.0f} prompts/s")

    speedup = rate_b / rate_n
    print(f"speed-up batched vs naive ({args.naive_max_new_tokens} tokens): {speedup:.1f}x (goal >= 5x); "
          f"vs naive 1 token: {rate_b / rate_n1:.1f}x")
    result = {"bench": "yes_no_scoring", "device": best_device(), "threads": torch.get_num_threads(),
              "questions": n_q, "formats": n_f, "prompts": n_p, "batch_size": args.batch_size,
              "batched_s": round(t_batched, 2), "batched_prompts_per_s": round(rate_b, 3),
              "batched_questions_per_s": round(rate_b / n_f, 3),
              "naive_sample_prompts": len(sample), "naive_max_new_tokens": args.naive_max_new_tokens,
              "naive_prompts_per_s": round(rate_n, 3), "naive_questions_per_s": round(rate_n / n_f, 3),
              "naive_extrapolated_s": round(n_p / rate_n, 1), "naive_1token_prompts_per_s": round(rate_n1, 3),
              "naive_agreement": round(agree / len(sample), 3), "cached_prompts_per_s": round(rate_c, 1),
              "speedup": round(speedup, 2), "speedup_vs_1token": round(rate_b / rate_n1, 2),
              "goal_met": speedup >= 5}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()

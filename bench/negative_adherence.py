"""Negative-prompt adherence of every guidance method on the toy shapes world, judged by the exact checker.

Suites (see core/adherence.py for the exact definitions): (a) attribute removal ("a circle" / "red"),
(b) removing one of two objects ("a red circle and a blue square" / "a blue square"), (c) both at 4 steps.
Every method of the engine at two strengths, all from the same noise per seed. Per suite x method: the rate at
which the negative still appears (lower is better), the rate at which the positive is right (higher is
better), success (both), time per image, and the success rate minus the best CFG scale's.

    .venv/bin/python bench/negative_adherence.py            # 8 prompts x 2 seeds per suite (6-10 min, 2 busy cores)
    .venv/bin/python bench/negative_adherence.py --quick    # 2 prompts x 1 seed, steps 8/4 (about a minute)
Writes <data dir>/bench/negative_adherence.{csv,json} (+ per-image rows), prints the table, ends with one
JSON line.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

RESULT_NAME = "negative_adherence"


def markdown_tables(table) -> str:
    """The full per-method table and a method x suite summary (best strength's success) as markdown."""
    lines = ["| suite | steps | method | negative appears (lower better) | positive right | success | vs best CFG "
             "| CPU s / image |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in table.itertuples():
        lines.append(f"| {r.suite} | {r.steps} | {r.method} | {r.negative_rate:.2f} | {r.positive_rate:.2f} | "
                     f"{r.success_rate:.2f} | {r.vs_cfg:+.2f} | {r.cpu_seconds_per_image:.3f} |")
    best = table.groupby(["family", "suite"], sort=False)["success_rate"].max().unstack("suite")
    suites = list(table["suite"].unique())
    lines += ["", "| method | " + " | ".join(suites) + " |", "| --- |" + " --- |" * len(suites)]
    for family, row in best.iterrows():
        lines.append(f"| {family} | " + " | ".join(f"{row[s]:.2f}" for s in suites) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="model source (default: embedded:toy_t2i, else random:toy)")
    ap.add_argument("--prompts", type=int, default=8, help="prompts per suite")
    ap.add_argument("--seeds", type=int, default=2, help="seeds per prompt")
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--few-steps", type=int, default=4)
    ap.add_argument("--quick", action="store_true", help="2 prompts x 1 seed, 8 steps (a smoke run)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads on CPU (0: leave as is)")
    ap.add_argument("--markdown", type=Path, default=None,
                    help="also write the full table and the best-of-family summary as markdown (for the docs)")
    args = ap.parse_args(argv)
    if args.quick:
        args.prompts, args.seeds, args.steps = 2, 1, 8

    import pandas as pd
    import torch

    from core import assets, paths
    from core.adherence import default_method_grid, default_suites, run_adherence, summary_table, verdicts
    from core.cache import atomic_write_bytes
    from core.guidance import load_adapter

    if args.threads:
        torch.set_num_threads(args.threads)
    source = args.model or ("embedded:toy_t2i" if assets.get("toy_t2i").installed() else "random:toy")
    adapter = load_adapter(source)
    suites = default_suites(args.prompts, args.steps, args.few_steps)
    seeds = list(range(args.seeds))
    t0 = time.perf_counter()
    last = [-1]

    def progress(frac: float, label: str) -> None:
        pct = int(frac * 20)
        if pct != last[0]:
            last[0] = pct
            print(f"  {frac:4.0%} {label}", file=sys.stderr, flush=True)

    grid = functools.partial(default_method_grid, cfg_scales=adapter.cfg_scales)
    df = run_adherence(adapter, suites, grid, seeds, progress=progress)
    elapsed = time.perf_counter() - t0
    table = summary_table(df)
    verdict = verdicts(table)

    out_dir = paths.subdir("bench")
    meta = {"bench": RESULT_NAME, "model": source, "device": str(adapter.device), "quick": args.quick,
            "prompts_per_suite": args.prompts, "seeds": seeds, "steps": args.steps, "few_steps": args.few_steps,
            "cfg_scales": list(adapter.cfg_scales), "torch_threads": torch.get_num_threads(), "elapsed_s": round(elapsed, 1),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
    records = json.loads(table.to_json(orient="records"))
    atomic_write_bytes(out_dir / f"{RESULT_NAME}.csv", table.to_csv(index=False).encode())
    atomic_write_bytes(out_dir / f"{RESULT_NAME}_images.csv", df.to_csv(index=False).encode())
    atomic_write_bytes(out_dir / f"{RESULT_NAME}.json",
                       json.dumps({**meta, "table": records, "verdicts": verdict}, indent=1).encode())

    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_rows", 500):
        show = table.drop(columns=["family", "strength", "params"]).copy()
        for c in ("negative_rate", "positive_rate", "success_rate", "vs_cfg"):
            show[c] = show[c].map(lambda v: f"{v:.2f}")
        for c in ("seconds_per_image", "cpu_seconds_per_image"):
            show[c] = show[c].map(lambda v: f"{v:.3f}")
        print(f"model {source} on {adapter.device}; {args.prompts} prompts x {len(seeds)} seeds per suite; "
              f"{elapsed:.0f} s; torch threads {torch.get_num_threads()}")
        print("negative_rate: lower is better; positive_rate, success_rate: higher is better; "
              "vs_cfg: success minus the best CFG scale of the suite")
        print(show.to_string(index=False))
    print("verdicts (best strength vs best CFG scale, success rate):")
    for fam, text in verdict.items():
        print(f"  {fam}: {text}")
    print(f"saved {out_dir / (RESULT_NAME + '.csv')}")
    if args.markdown is not None:
        args.markdown.write_text(markdown_tables(table))
        print(f"wrote {args.markdown}")
    best = table.groupby(["suite", "family"], sort=False)["success_rate"].max().round(3)
    summary = {"bench": RESULT_NAME, "model": source, "quick": args.quick, "elapsed_s": round(elapsed, 1),
               "images_per_cell": args.prompts * len(seeds),
               "best_success": {s: best[s].to_dict() for s in best.index.get_level_values(0).unique()}}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Time per image of every guidance method relative to CFG, same model, steps, seeds, in one run.

Goal (issue 4): NAG <= 1.25x, VSF <= 1.25x, Perp-Neg <= 1.6x CFG. Each method runs `--repeats` times in
interleaved rounds (so machine load drifts hit every method alike); the median is reported. On a CPU the
goals are judged on process CPU time per image (one torch thread by default): on a shared, oversubscribed
machine wall time mostly measures the neighbours. On CUDA they are judged on wall time.

    .venv/bin/python bench/guidance_speed.py                    # the embedded toy model (or a random one)
    .venv/bin/python bench/guidance_speed.py --model random:sd3 --steps 10
Prints a table, ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

GOALS = {"nag": 1.25, "vsf": 1.25, "perp_neg": 1.6}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="model source (default: embedded:toy_t2i, else random:toy)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--seeds", type=int, default=4, help="images per method per round (one batch)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="torch threads on CPU (0: leave as is)")
    args = ap.parse_args(argv)

    import torch

    from core import assets
    from core.guidance import (
        CFG,
        NAG,
        NASA,
        VSF,
        DelayedNegative,
        GenerationRequest,
        PerpNeg,
        PositiveOnly,
        Stack,
        generate,
        load_adapter,
    )

    if args.threads:
        torch.set_num_threads(args.threads)
    source = args.model or ("embedded:toy_t2i" if assets.get("toy_t2i").installed() else "random:toy")
    adapter = load_adapter(source)
    methods = {"none": PositiveOnly(), "cfg": CFG(), "perp_neg": PerpNeg(),
               "delayed": DelayedNegative(start_step=args.steps // 4), "nag": NAG(), "cfg+nag": Stack(CFG(), NAG()),
               "vsf": VSF(), "nasa": NASA()}
    times: dict[str, list[float]] = {k: [] for k in methods}
    cpu: dict[str, list[float]] = {k: [] for k in methods}
    prompt, negative = "a red circle on the left and a blue square", "blue square"
    for _ in range(args.repeats):
        for name, m in methods.items():  # interleaved rounds
            req = GenerationRequest(prompts=[prompt], negatives=[negative], methods=[m],
                                    seeds=list(range(args.seeds)), steps=args.steps, record_x0=False)
            run = generate(adapter, req).runs[0]
            times[name].append(run.seconds_per_image)
            cpu[name].append(run.cpu_seconds_per_image)
    med = {k: statistics.median(v) for k, v in times.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    on_cuda = str(adapter.device).startswith("cuda")
    judged = med if on_cuda else med_cpu
    ratio = {k: judged[k] / judged["cfg"] for k in judged}
    wall_ratio = {k: med[k] / med["cfg"] for k in med}
    print(f"model {adapter.name} ({source}) on {adapter.device}; {args.steps} steps, batch {args.seeds}, "
          f"median of {args.repeats}, torch threads {torch.get_num_threads()}")
    print(f"goals judged on {'wall' if on_cuda else 'process CPU'} time")
    print(f"{'method':10s} {'wall s/img':>10s} {'x CFG':>6s} {'cpu s/img':>10s} {'x CFG':>6s}  goal")
    for k in methods:
        goal = GOALS.get(k)
        verdict = "" if goal is None else (f"<= {goal}: {'met' if ratio[k] <= goal else 'MISSED'}")
        print(f"{k:10s} {med[k]:10.4f} {wall_ratio[k]:6.2f} {med_cpu[k]:10.4f} {med_cpu[k] / med_cpu['cfg']:6.2f}"
              f"  {verdict}")
    print(json.dumps({"bench": "guidance_speed", "model": source, "device": str(adapter.device),
                      "steps": args.steps, "batch": args.seeds, "repeats": args.repeats,
                      "judged_on": "wall" if on_cuda else "cpu",
                      "seconds_per_image": {k: round(v, 5) for k, v in med.items()},
                      "cpu_seconds_per_image": {k: round(v, 5) for k, v in med_cpu.items()},
                      "ratio_to_cfg": {k: round(v, 3) for k, v in ratio.items()},
                      "wall_ratio_to_cfg": {k: round(v, 3) for k, v in wall_ratio.items()},
                      "goals_met": {k: ratio[k] <= g for k, g in GOALS.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Train the embedded toy text-to-image model and write it (with its figures) to assets/toy_t2i.

    .venv/bin/python scripts/train_toy_t2i.py --seed 0 --steps 4000           # ~1 h on 2 CPU cores
    .venv/bin/python scripts/train_toy_t2i.py --eval-only                     # re-measure the figures

Checkpoints go to <data dir>/toy_t2i_train/seed<seed>/ (rerun the same command to resume). The output folder
gets unet/ (safetensors), scheduler/ and toy_t2i.json (config, seed, steps, time, text encoder, quality).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# The cores are shared with other work: idle OpenMP threads should sleep, not spin (spinning threads steal
# the time slices the busy ones need, which made steps ~5x slower under load).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from core.paths import REPO_ROOT  # noqa: E402


def _log_to(path: Path | None):
    def log(msg: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        print(line, flush=True)
        if path is not None:
            with path.open("a") as f:
                f.write(line + "\n")
    return log


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--text-adapter-layers", type=int, default=0,
                    help="layers of a text adapter trained with the UNet on MiniLM's states (0: none)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-minutes", type=float, default=None, help="stop early and save when spent")
    ap.add_argument("--output", type=Path, default=REPO_ROOT / "assets" / "toy_t2i")
    ap.add_argument("--run-dir", type=Path, default=None, help="checkpoint folder (default: under data dir)")
    ap.add_argument("--log-file", type=Path, default=None)
    ap.add_argument("--no-eval", action="store_true", help="skip the quality measurement after training")
    ap.add_argument("--eval-only", action="store_true", help="only measure the quality of --output")
    ap.add_argument("--eval-samples", type=int, default=4, help="samples per prompt for the quality figures")
    ap.add_argument("--eval-guidance", type=float, default=None,
                    help="CFG scale for the quality figures (default: the sampler's DEFAULT_GUIDANCE)")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    log = _log_to(args.log_file)
    if not args.eval_only:
        from core.toyworld.train import TrainConfig, train

        cfg = TrainConfig(seed=args.seed, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                          threads=args.threads, max_minutes=args.max_minutes,
                          text_adapter_layers=args.text_adapter_layers)
        train(cfg, output=args.output, run_dir=args.run_dir, log=log)
    if args.no_eval:
        return 0
    from core.toyworld.quality import evaluate_and_record

    figures = evaluate_and_record(args.output, samples_per_prompt=args.eval_samples,
                                  guidance_scale=args.eval_guidance, log=log)
    log("quality: " + json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())

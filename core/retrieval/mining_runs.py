"""Mining runs on disk: what a person mined (and judged) survives a restart.

A run is a Store `runs` row (kind `retrieval_mining`, config: workspace key, dataset, strategies) whose
artifact folder holds `mined.parquet` and `scored.parquet`. The page reopens the newest run of the workspace
it shows; judge results rewrite `scored.parquet` atomically.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pandas as pd

from core.cache import atomic_write_bytes
from core.paths import subdir

KIND = "retrieval_mining"


def runs_dir() -> Path:
    return subdir("retrieval_runs")


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()


def save_mining_run(store: Any, workspace_key: str, dataset_name: str, strategies: list[str],
                    mined: pd.DataFrame, scored: pd.DataFrame) -> str:
    """Write both tables, then mark the run done (a crash in between leaves a 'running' row, never a
    done run without its files). Returns the run id."""
    run_id = store.start_run(KIND, {"workspace": workspace_key, "dataset": dataset_name, "strategies": strategies})
    folder = runs_dir() / run_id
    folder.mkdir(parents=True, exist_ok=True)
    try:
        atomic_write_bytes(folder / "mined.parquet", _parquet_bytes(mined))
        atomic_write_bytes(folder / "scored.parquet", _parquet_bytes(scored))
    except Exception:
        store.finish_run(run_id, failed=True)
        raise
    store.finish_run(run_id, {"rows": len(mined), "pairs": len(scored),
                              "flagged": int(scored["flagged"].sum()) if "flagged" in scored else 0},
                     artifact_path=str(folder))
    return run_id


def update_scored(run_id: str | None, scored: pd.DataFrame) -> None:
    """Replace a run's scored table (after the LLM judge added its columns); no-op for an unsaved run."""
    if run_id is None:
        return
    atomic_write_bytes(runs_dir() / run_id / "scored.parquet", _parquet_bytes(scored))


def latest_mining_run(store: Any, workspace_key: str) -> dict[str, Any] | None:
    """The newest finished run of this workspace whose files are readable, as
    {run_id, key, mined, scored, config}; None when there is none."""
    for run in store.runs(KIND, status="done"):
        if run["config"].get("workspace") != workspace_key:
            continue
        folder = Path(run.get("artifact_path") or runs_dir() / run["id"])
        try:
            mined = pd.read_parquet(folder / "mined.parquet")
            scored = pd.read_parquet(folder / "scored.parquet")
        except (OSError, ValueError):  # deleted or damaged files: fall back to an older run
            continue
        return {"run_id": run["id"], "key": workspace_key, "mined": mined, "scored": scored,
                "config": run["config"].get("strategies", [])}
    return None

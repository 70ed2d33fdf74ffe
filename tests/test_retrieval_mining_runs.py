"""Mining runs persist: saved tables come back equal, judged scores replace the old ones, damage falls back."""

from __future__ import annotations

import pandas as pd
import pytest

from core.retrieval import mining_runs
from core.store import Store


def _tables(n: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    mined = pd.DataFrame({"query_id": [f"q{i % 2}" for i in range(n)], "doc_id": [f"d{i}" for i in range(n)],
                          "rank": list(range(n)), "score": [0.9 - 0.1 * i for i in range(n)],
                          "strategy": ["dense_top"] * n})
    scored = pd.DataFrame({"query_id": mined.query_id, "doc_id": mined.doc_id,
                           "likelihood": [0.1 * i for i in range(n)], "flagged": [i % 2 == 0 for i in range(n)],
                           "reasons": [["close to a positive"] if i % 2 == 0 else [] for i in range(n)]})
    return mined, scored


def test_saved_run_reopens_for_its_workspace_only(data_dir):
    store = Store()
    mined, scored = _tables()
    run_id = mining_runs.save_mining_run(store, "ws-a", "toy", ["DenseTopK(5)"], mined, scored)
    back = mining_runs.latest_mining_run(store, "ws-a")
    assert back is not None and back["run_id"] == run_id and back["config"] == ["DenseTopK(5)"]
    pd.testing.assert_frame_equal(back["mined"], mined)
    assert back["scored"]["reasons"].map(list).tolist() == scored["reasons"].tolist()
    assert mining_runs.latest_mining_run(store, "ws-b") is None
    assert store.runs(mining_runs.KIND)[0]["result"] == {"rows": 5, "pairs": 5, "flagged": 3}


def test_newest_run_wins_and_judge_scores_are_kept(data_dir):
    store = Store()
    mined, scored = _tables()
    mining_runs.save_mining_run(store, "ws", "toy", ["old"], mined, scored)
    newer = mining_runs.save_mining_run(store, "ws", "toy", ["new"], mined.head(3), scored.head(3))
    judged = scored.head(3).assign(judge1=[0.2, 0.9, 0.4])
    mining_runs.update_scored(newer, judged)
    back = mining_runs.latest_mining_run(store, "ws")
    assert back["config"] == ["new"] and len(back["mined"]) == 3
    assert back["scored"]["judge1"].tolist() == pytest.approx([0.2, 0.9, 0.4])


def test_a_run_with_missing_files_falls_back_to_an_older_one(data_dir):
    store = Store()
    mined, scored = _tables()
    mining_runs.save_mining_run(store, "ws", "toy", ["old"], mined, scored)
    newer = mining_runs.save_mining_run(store, "ws", "toy", ["new"], mined, scored)
    (mining_runs.runs_dir() / newer / "scored.parquet").write_bytes(b"not parquet")
    assert mining_runs.latest_mining_run(store, "ws")["config"] == ["old"]

"""The annotation queue, label resolution across annotators, and agreement (Cohen's kappa)."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pandas as pd

from core.store import LABEL_VALUES


def labels_frame(labels: list[dict]) -> pd.DataFrame:
    cols = ["id", "dataset", "query_id", "doc_id", "label", "annotator", "note", "created_at"]
    if not labels:
        return pd.DataFrame(columns=cols)
    return pd.DataFrame(labels)[cols]


def queue(scored: pd.DataFrame, labels: list[dict], annotator: str) -> pd.DataFrame:
    """Pairs ordered by false-negative likelihood, minus those this annotator has already labelled."""
    done = {(r["query_id"], r["doc_id"]) for r in labels if r["annotator"] == annotator}
    if scored.empty:
        return scored
    mask = [(q, d) not in done for q, d in zip(scored["query_id"], scored["doc_id"], strict=True)]
    return scored[mask].sort_values("likelihood", ascending=False, kind="stable").reset_index(drop=True)


def resolve(labels: list[dict]) -> pd.DataFrame:
    """One row per labelled pair: the majority label (a tie is 'unsure'), vote counts and annotators."""
    rows = []
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in labels:
        groups.setdefault((r["query_id"], r["doc_id"]), []).append(r)
    for (q, d), rs in groups.items():
        c = Counter(r["label"] for r in rs)
        (top, n), *rest = c.most_common()
        label = "unsure" if rest and rest[0][1] == n else top
        rows.append({"query_id": q, "doc_id": d, "label": label, "votes": len(rs),
                     **{f"n_{v}": c.get(v, 0) for v in LABEL_VALUES},
                     "annotators": ",".join(sorted(r["annotator"] for r in rs))})
    return pd.DataFrame(rows, columns=["query_id", "doc_id", "label", "votes",
                                       *[f"n_{v}" for v in LABEL_VALUES], "annotators"])


def cohen_kappa(a: list[str], b: list[str]) -> float:
    """Cohen's kappa of two annotators' labels on the same items (nan when undefined)."""
    if not a:
        return float("nan")
    cats = sorted(set(a) | set(b))
    ia = np.array([cats.index(x) for x in a])
    ib = np.array([cats.index(x) for x in b])
    po = float(np.mean(ia == ib))
    pe = float(sum(np.mean(ia == k) * np.mean(ib == k) for k in range(len(cats))))
    if pe >= 1.0:
        return 1.0 if po == 1.0 else float("nan")
    return (po - pe) / (1 - pe)


def agreement(labels: list[dict]) -> pd.DataFrame:
    """Per pair of annotators who labelled the same items: shared items, raw agreement, Cohen's kappa."""
    by_annotator: dict[str, dict[tuple[str, str], str]] = {}
    for r in labels:
        by_annotator.setdefault(r["annotator"], {})[(r["query_id"], r["doc_id"])] = r["label"]
    rows = []
    for x, y in itertools.combinations(sorted(by_annotator), 2):
        shared = sorted(set(by_annotator[x]) & set(by_annotator[y]))
        if not shared:
            continue
        a = [by_annotator[x][k] for k in shared]
        b = [by_annotator[y][k] for k in shared]
        rows.append({"annotator_a": x, "annotator_b": y, "shared_pairs": len(shared),
                     "raw_agreement": float(np.mean([u == v for u, v in zip(a, b, strict=True)])),
                     "cohen_kappa": cohen_kappa(a, b)})
    return pd.DataFrame(rows, columns=["annotator_a", "annotator_b", "shared_pairs", "raw_agreement",
                                       "cohen_kappa"])

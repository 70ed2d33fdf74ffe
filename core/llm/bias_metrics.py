"""Metrics of yes/no answering: yes-rate, accuracy, precision/recall of "Yes", negative bias, calibration.

Everything is computed on the answer the prompt literally asks for: for a negated-question format the gold
answer of the prompt is the opposite of the original question's. The model's answer is the option with the
highest probability after renormalising over the offered options (yes, no, and "I don't know" if offered).

Definitions (also shown on the page):
* yes-rate = share of answers that are "Yes"; true yes-rate = share of prompts whose correct answer is "Yes".
* precision(Yes) = correct Yes / all Yes answers; recall(Yes) = correct Yes / all gold-Yes prompts;
  P-R gap = precision - recall (NASA's success metric: a model that over-answers "No" has high precision
  and low recall, so the gap is positive).
* negative bias NB = P(answer No | gold Yes) - P(answer Yes | gold No): the difference between the two error
  rates, in [-1, 1]; 0 when errors are symmetric, > 0 when the model errs toward "No". ("I don't know" answers
  count in neither error.)
* ECE = sum over 10 equal-width bins of P(yes) (renormalised over yes/no) of (n_bin / n) * |mean P(yes) -
  share of gold Yes in the bin|.
* Confidence intervals: percentile bootstrap over questions (resampled with replacement), 95 %.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

METRICS = ("n", "true_yes_rate", "yes_rate", "accuracy", "precision_yes", "recall_yes", "pr_gap",
           "negative_bias", "idk_rate", "ece", "mean_p_yes")
LABELS = {"n": "questions", "true_yes_rate": "true yes-rate", "yes_rate": "yes-rate", "accuracy": "accuracy",
          "precision_yes": "precision (Yes)", "recall_yes": "recall (Yes)", "pr_gap": "P-R gap",
          "negative_bias": "negative bias", "idk_rate": "I don't know rate", "ece": "calibration error (ECE)",
          "mean_p_yes": "mean P(yes)"}
N_BINS = 10


def normalise(raw: np.ndarray) -> np.ndarray:
    """Renormalise option probabilities over the offered options (rows sum to 1; NaN columns stay NaN)."""
    raw = np.asarray(raw, dtype=np.float64)
    total = np.nansum(raw, axis=1, keepdims=True)
    return raw / np.where(total > 0, total, 1.0)


def contextual_calibration(p: np.ndarray, p_cf: np.ndarray) -> np.ndarray:
    """"Calibrate Before Use": p_cal proportional to p / p_cf, renormalised (p_cf: content-free average)."""
    p_cf = np.asarray(p_cf, dtype=np.float64)
    w = np.where(np.isfinite(p_cf) & (p_cf > 0), 1.0 / np.maximum(p_cf, 1e-12), np.nan)
    return normalise(np.asarray(p, dtype=np.float64) * w)


def predictions(p: np.ndarray) -> np.ndarray:
    """0 = yes, 1 = no, 2 = I don't know (argmax over offered options; NaN columns never win)."""
    return np.argmax(np.nan_to_num(p, nan=-1.0), axis=1)


def p_yes_binary(p: np.ndarray) -> np.ndarray:
    """P(yes) renormalised over yes and no only (for calibration)."""
    s = p[:, 0] + p[:, 1]
    return np.where(s > 0, p[:, 0] / np.where(s > 0, s, 1.0), 0.5)


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


def _metric_arrays(gold: np.ndarray, pred: np.ndarray, pyes: np.ndarray, offers_idk: bool) -> dict[str, np.ndarray]:
    """Every metric for each row of [B, N] resamples (B = 1 for the point estimate)."""
    gold = gold.astype(bool)
    yes, no, idk = pred == 0, pred == 1, pred == 2
    n = gold.shape[1]
    n_gold_yes = gold.sum(1)
    n_gold_no = n - n_gold_yes
    tp = (yes & gold).sum(1)
    correct = (yes & gold) | (no & ~gold)
    out = {
        "n": np.full(gold.shape[0], float(n)),
        "true_yes_rate": n_gold_yes / n,
        "yes_rate": yes.sum(1) / n,
        "accuracy": correct.sum(1) / n,
        "precision_yes": _div(tp, yes.sum(1)),
        "recall_yes": _div(tp, n_gold_yes),
        "idk_rate": idk.sum(1) / n if offers_idk else np.full(gold.shape[0], np.nan),
        "mean_p_yes": pyes.mean(1),
    }
    out["pr_gap"] = out["precision_yes"] - out["recall_yes"]
    fnr = _div((no & gold).sum(1), n_gold_yes)
    fpr = _div((yes & ~gold).sum(1), n_gold_no)
    out["negative_bias"] = fnr - fpr
    bins = np.clip((pyes * N_BINS).astype(int), 0, N_BINS - 1)
    ece = np.zeros(gold.shape[0])
    for k in range(N_BINS):
        m = bins == k
        cnt = m.sum(1)
        gap = np.abs(_div((pyes * m).sum(1), cnt) - _div((gold * m).sum(1), cnt))
        ece += np.where(cnt > 0, cnt / n * np.nan_to_num(gap), 0.0)
    out["ece"] = ece
    return out


def compute_metrics(gold: Sequence[int], p: np.ndarray, offers_idk: bool = False) -> dict[str, float]:
    """Point estimates. gold: 1 when the prompt's correct answer is Yes; p: [N, 3] (yes, no, idk) normalised."""
    gold = np.asarray(gold, dtype=int)[None, :]
    p = np.asarray(p, dtype=np.float64)
    if gold.shape[1] == 0:
        return {m: (0.0 if m == "n" else float("nan")) for m in METRICS}
    arr = _metric_arrays(gold, predictions(p)[None, :], p_yes_binary(p)[None, :], offers_idk)
    return {m: float(arr[m][0]) for m in METRICS}


def bootstrap_ci(gold: Sequence[int], p: np.ndarray, offers_idk: bool = False, n_boot: int = 1000,
                 seed: int = 0, level: float = 0.95) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals over questions for every metric."""
    gold = np.asarray(gold, dtype=int)
    p = np.asarray(p, dtype=np.float64)
    n = len(gold)
    if n == 0:
        return {m: (float("nan"), float("nan")) for m in METRICS}
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    arr = _metric_arrays(gold[idx], predictions(p)[idx], p_yes_binary(p)[idx], offers_idk)
    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    out = {}
    for m in METRICS:
        vals = arr[m][np.isfinite(arr[m])]
        out[m] = (float(np.quantile(vals, lo_q)), float(np.quantile(vals, hi_q))) if len(vals) else (
            float("nan"), float("nan"))
    return out


def calibration_curve(gold: Sequence[int], p: np.ndarray, n_bins: int = N_BINS) -> pd.DataFrame:
    """Reliability diagram data: per bin of P(yes), the mean P(yes), the share of gold Yes, the count."""
    gold = np.asarray(gold, dtype=float)
    pyes = p_yes_binary(np.asarray(p, dtype=np.float64))
    bins = np.clip((pyes * n_bins).astype(int), 0, n_bins - 1)
    rows = []
    for k in range(n_bins):
        m = bins == k
        if m.any():
            rows.append({"bin": k, "mean_p_yes": float(pyes[m].mean()), "frac_gold_yes": float(gold[m].mean()),
                         "count": int(m.sum())})
    return pd.DataFrame(rows, columns=["bin", "mean_p_yes", "frac_gold_yes", "count"])


def metrics_table(items: pd.DataFrame, by: Sequence[str] = ("model", "format"), *, prob_cols=("p_yes", "p_no", "p_idk"),
                  n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """One row per group: every metric with its bootstrap interval (columns <metric>, <metric>_lo, <metric>_hi).

    items needs the columns in `by`, `gold` (the prompt's gold, 1 = Yes), `offers_idk` and the prob_cols
    (normalised probabilities; NaN for an option that is not offered).
    """
    rows = []
    for keys, g in items.groupby(list(by), sort=False, dropna=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        p = g[list(prob_cols)].to_numpy(dtype=np.float64)
        offers = bool(g["offers_idk"].any())
        point = compute_metrics(g["gold"].to_numpy(), p, offers)
        ci = bootstrap_ci(g["gold"].to_numpy(), p, offers, n_boot=n_boot, seed=seed) if n_boot else {}
        row = dict(zip(by, keys, strict=True))
        for m in METRICS:
            row[m] = point[m]
            if m != "n" and ci:
                row[f"{m}_lo"], row[f"{m}_hi"] = ci[m]
        rows.append(row)
    return pd.DataFrame(rows)

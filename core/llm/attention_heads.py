"""Negative attention heads: how much the answer position attends to the "No" vs the "Yes" in the instruction.

Our score (defined here, not copied from the paper): for a format whose instruction writes both candidates
(e.g. "Answer yes or no."), let a_yes and a_no be a head's attention weights from the last prompt position
(where the answer is predicted) to the first token of the last "yes" and the last "no" written in the prompt.

    NAS_ours(layer, head) = mean over questions of (a_yes + a_no) * ln((a_no + eps) / (a_yes + eps)),
    eps = 1e-6.

It is positive when the head looks at "No" more than at "Yes", weighted by how much it looks at either.
This follows the form of the NAS formula reported second-hand for Yu et al. (NAACL 2025, "NASA"), restricted
to the single answer position; that formula could not be checked against the paper's own text, so treat the
resemblance as unverified and this score as ours.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

EPS = 1e-6
FORMULA = r"\mathrm{NAS}_{ours}(l,h)=\frac{1}{|Q|}\sum_{q\in Q}\left(a^{l,h}_{q,\mathrm{yes}}+a^{l,h}_{q,\mathrm{no}}\right)\ln\frac{a^{l,h}_{q,\mathrm{no}}+\epsilon}{a^{l,h}_{q,\mathrm{yes}}+\epsilon}"


class MarkerError(ValueError):
    """The prompt does not contain both answer candidates."""


@dataclass
class HeadScores:
    nas: np.ndarray  # [layers, heads]
    a_yes: np.ndarray  # mean attention to the yes token [layers, heads]
    a_no: np.ndarray
    n_prompts: int
    skipped: int  # prompts without both markers

    def top(self, k: int = 10) -> pd.DataFrame:
        flat = np.argsort(-self.nas, axis=None)[:k]
        rows = []
        for f in flat:
            layer, head = np.unravel_index(f, self.nas.shape)
            rows.append({"layer": int(layer), "head": int(head), "NAS_ours": float(self.nas[layer, head]),
                         "mean attention to No": float(self.a_no[layer, head]),
                         "mean attention to Yes": float(self.a_yes[layer, head])})
        return pd.DataFrame(rows)

    def table(self) -> pd.DataFrame:
        layers, heads = np.indices(self.nas.shape)
        return pd.DataFrame({"layer": layers.ravel(), "head": heads.ravel(), "NAS_ours": self.nas.ravel(),
                             "mean attention to No": self.a_no.ravel(),
                             "mean attention to Yes": self.a_yes.ravel()})


def marker_positions(tokenizer, prompt: str, markers: tuple[str, str]) -> tuple[int, int]:
    """Token indices of the last whole-word occurrence of the yes marker and of the no marker."""
    enc = tokenizer(prompt, add_special_tokens=False, return_offsets_mapping=True)
    offsets = enc["offset_mapping"]
    found = []
    for word in markers:
        hits = list(re.finditer(rf"(?<![A-Za-z]){re.escape(word)}(?![A-Za-z])", prompt))
        if not hits:
            raise MarkerError(f"the prompt does not contain {word!r}")
        char = hits[-1].start()
        idx = next((i for i, (s, e) in enumerate(offsets) if s <= char < e), None)
        if idx is None:
            idx = next(i for i, (s, _) in enumerate(offsets) if s >= char)
        found.append(idx)
    return found[0], found[1]


def score_heads(lm, prompts: Sequence[str], markers: tuple[str, str], batch_size: int = 4,
                progress: Callable[[int, int], None] | None = None) -> HeadScores:
    """NAS_ours for every head over the prompts (the lm must be loaded with attn_implementation="eager")."""
    usable, positions = [], []
    for p in prompts:
        try:
            positions.append(marker_positions(lm.tokenizer, p, markers))
            usable.append(p)
        except MarkerError:
            continue
    if not usable:
        raise MarkerError(f"no prompt contains both {markers[0]!r} and {markers[1]!r}; pick a format whose "
                          "instruction writes both answers")
    atts = lm.attention_weights(usable, query_positions=(-1,), batch_size=batch_size, progress=progress)
    a_yes = np.stack([a[:, :, 0, y] for a, (y, _) in zip(atts, positions, strict=True)])  # [N, L, H]
    a_no = np.stack([a[:, :, 0, n] for a, (_, n) in zip(atts, positions, strict=True)])
    nas = ((a_yes + a_no) * np.log((a_no + EPS) / (a_yes + EPS))).mean(0)
    return HeadScores(nas=nas, a_yes=a_yes.mean(0), a_no=a_no.mean(0), n_prompts=len(usable),
                      skipped=len(prompts) - len(usable))


def example_pattern(lm, prompt: str, layer: int, head: int) -> tuple[list[str], np.ndarray]:
    """Token strings and the full [T, T] attention matrix of one head on one prompt."""
    att = lm.attention_weights([prompt], query_positions=None)[0][layer, head]
    ids = lm.tokenizer(prompt, add_special_tokens=False)["input_ids"]
    tokens = [lm.tokenizer.decode([t]) for t in ids]
    return tokens, att

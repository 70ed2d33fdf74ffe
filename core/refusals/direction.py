"""Refusal and harmfulness directions: difference of means of residual-stream activations.

Refusal direction (Arditi et al. 2024): mean(harmful) - mean(harmless) of the block inputs at each layer and
each post-instruction position (the chat-template tokens between the end of the user's text and the answer).
Harmfulness direction (CHATS-lab 2025): the same at the last token of the user's instruction. We report how
well each layer's direction separates held-out harmful from harmless prompts (AUC of the projections) and the
cosine similarity of the two directions per layer.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SENTINEL = "Zq7 sentinel text"


def post_instruction_count(lm, chat: bool = True, system: str | None = None) -> int:
    """How many tokens the template puts after the user's text (e.g. "<|im_end|>\\n<|im_start|>assistant\\n")."""
    if not (chat and lm.has_chat_template):
        return 0  # raw text: the answer follows the instruction directly
    text = lm.format(SENTINEL, chat=chat, system=system)
    cut = text.rindex(SENTINEL) + len(SENTINEL)
    full = lm.tokenizer(text, add_special_tokens=False)["input_ids"]
    head = lm.tokenizer(text[:cut], add_special_tokens=False)["input_ids"]
    return max(0, len(full) - len(head))


@dataclass(frozen=True)
class Activations:
    """Block inputs [N, n_layers + 1, 1 + n_post, d]: position 0 is the last instruction token, 1.. the
    post-instruction tokens in order (the last one is the answer position)."""

    harmful: np.ndarray
    harmless: np.ndarray
    n_post: int

    @property
    def position_labels(self) -> list[str]:
        return ["instr[-1]"] + [f"post[{i - self.n_post}]" for i in range(self.n_post)]


def collect(lm, harmful: Sequence[str], harmless: Sequence[str], chat: bool = True, system: str | None = None,
            batch_size: int = 8, progress=None) -> Activations:
    k = post_instruction_count(lm, chat=chat, system=system)
    positions = list(range(-(k + 1), 0))  # k == 0 (no template): only the last instruction token
    total = len(harmful) + len(harmless)

    def run(prompts, offset):
        texts = [lm.format(p, chat=chat, system=system) for p in prompts]
        inner = (lambda done, _n: progress(offset + done, total)) if progress else None
        return lm.hidden_states(texts, positions=positions, batch_size=batch_size, progress=inner)

    return Activations(run(harmful, 0), run(harmless, len(harmful)), n_post=k)


def split_halves(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Even indices fit the means, odd ones are held out for the AUC (deterministic, no leakage)."""
    idx = np.arange(n)
    return idx[0::2], idx[1::2]


def diff_of_means(harmful: np.ndarray, harmless: np.ndarray) -> np.ndarray:
    """mean over prompts: [N, L, P, d] x2 -> [L, P, d]."""
    return harmful.mean(axis=0) - harmless.mean(axis=0)


def unit(v: np.ndarray, axis: int = -1) -> np.ndarray:
    n = np.linalg.norm(v, axis=axis, keepdims=True)
    return v / np.where(n > 0, n, 1.0)


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Mann-Whitney AUC: P(score of a positive > score of a negative), ties count half."""
    pos, neg = np.asarray(pos, float), np.asarray(neg, float)
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


@dataclass(frozen=True)
class DirectionReport:
    refusal: np.ndarray  # [L, P, d] raw difference of means (fit half) at every position incl. instr[-1]
    auc: np.ndarray  # [L, P] held-out AUC of projections onto the unit direction
    harmful_proj: np.ndarray  # [N_harmful_heldout, L, P]
    harmless_proj: np.ndarray  # [N_harmless_heldout, L, P]
    cosine_harm_vs_refusal: np.ndarray  # [L] cos(direction at instr[-1], direction at the answer position)
    position_labels: list[str]

    @property
    def n_layers(self) -> int:
        return self.refusal.shape[0]

    def direction(self, layer: int, position: int = -1) -> np.ndarray:
        """Unit direction at a layer and position index (default: the answer position)."""
        return unit(self.refusal[layer, position])

    def separation(self, position: int = -1) -> np.ndarray:
        """Held-out d' per layer: gap of the projection means over their pooled standard deviation."""
        h, hl = self.harmful_proj[:, :, position], self.harmless_proj[:, :, position]
        pooled = np.sqrt((h.var(axis=0) + hl.var(axis=0)) / 2)
        return (h.mean(axis=0) - hl.mean(axis=0)) / np.where(pooled > 0, pooled, np.inf)

    def best_layer(self, position: int = -1, skip_first_fraction: float = 0.2,
                   skip_last_fraction: float = 0.2) -> int:
        """A suggested layer: highest held-out AUC, ties (AUC often saturates at 1) broken by d'.

        Skips the last 20 % of layers (as Arditi et al.) and the first 20 % (early layers separate the two
        sets by wording alone, and steering there mostly breaks the text). A heuristic: the page lets you pick.
        """
        first = max(1, int(self.n_layers * skip_first_fraction))
        stop = max(first + 1, int(round(self.n_layers * (1 - skip_last_fraction))))
        aucs = np.nan_to_num(self.auc[first:stop, position], nan=0.0)
        dprime = np.nan_to_num(self.separation(position)[first:stop], nan=0.0)
        candidates = np.flatnonzero(aucs >= aucs.max() - 0.005)
        return int(candidates[np.argmax(dprime[candidates])]) + first


def analyse(acts: Activations, held_out: bool = True) -> DirectionReport:
    n_h, n_hl = len(acts.harmful), len(acts.harmless)
    if min(n_h, n_hl) < (4 if held_out else 2):
        raise ValueError("Need at least 4 harmful and 4 harmless prompts (2 with held_out=False).")
    (fit_h, ev_h), (fit_hl, ev_hl) = split_halves(n_h), split_halves(n_hl)
    if not held_out:
        fit_h, ev_h, fit_hl, ev_hl = np.arange(n_h), np.arange(n_h), np.arange(n_hl), np.arange(n_hl)
    raw = diff_of_means(acts.harmful[fit_h], acts.harmless[fit_hl])  # [L, P, d]
    dirs = unit(raw)
    proj_h = np.einsum("nlpd,lpd->nlp", acts.harmful[ev_h], dirs)
    proj_hl = np.einsum("nlpd,lpd->nlp", acts.harmless[ev_hl], dirs)
    L, P = raw.shape[:2]
    aucs = np.array([[auc(proj_h[:, layer, p], proj_hl[:, layer, p]) for p in range(P)] for layer in range(L)])
    cos = np.sum(dirs[:, 0] * dirs[:, -1], axis=-1)
    return DirectionReport(raw, aucs, proj_h, proj_hl, cos, acts.position_labels)


# -- on disk: a computed report is kept, keyed by everything that determines it ---------------------------------
def report_key(source: str, harmful: Sequence[str], harmless: Sequence[str], chat: bool = True,
               system: str | None = None, held_out: bool = True) -> str:
    from core.cache import content_hash

    return content_hash("refusal-directions/v1", source, list(harmful), list(harmless), chat, system, held_out)


def _report_path(key: str):
    from core.paths import subdir

    return subdir("cache", "refusal_directions") / f"{key}.npz"


def save_report(key: str, rep: DirectionReport) -> None:
    """Write the report (small: the directions are [L, P, d]; activations are not kept) atomically."""
    from core.cache import atomic_write_bytes

    buf = io.BytesIO()
    np.savez(buf, refusal=rep.refusal, auc=rep.auc, harmful_proj=rep.harmful_proj,
             harmless_proj=rep.harmless_proj, cosine=rep.cosine_harm_vs_refusal,
             position_labels=np.array(rep.position_labels, dtype=str))
    atomic_write_bytes(_report_path(key), buf.getvalue())


def load_report(key: str) -> DirectionReport | None:
    """The saved report for this key, or None (absent or unreadable: it is then recomputed)."""
    path = _report_path(key)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            return DirectionReport(z["refusal"], z["auc"], z["harmful_proj"], z["harmless_proj"], z["cosine"],
                                   [str(s) for s in z["position_labels"]])
    except (OSError, ValueError, KeyError):
        path.unlink(missing_ok=True)
        return None


def export_direction(rep: DirectionReport, layer: int, position: int = -1) -> bytes:
    """One unit direction as a .npy file (to load with numpy.load in another tool)."""
    buf = io.BytesIO()
    np.save(buf, rep.direction(layer, position).astype(np.float32), allow_pickle=False)
    return buf.getvalue()

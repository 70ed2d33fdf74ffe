"""Batched answer-option scoring: P(option) from the next-token distribution, cached in SQLite.

For each prompt the probability of an option is the sum, over the option's surface forms (" Yes", "Yes",
"yes", ...), of the next-token probability of each form's first token (de-duplicated), exactly as
`CausalLM.score_options` defines it. This module makes it fast:

* prompts are sorted by length so a batch carries little padding;
* the tokens every prompt of a batch shares (the chat template's system turn, the format's lead-in) are run
  once and their key/value cache is reused for the whole batch (prefix sharing);
* only the last position goes through the vocabulary projection (`logits_to_keep`);
* results are stored in the store's kv_cache table keyed by (model, prompt, options): a re-run costs nothing.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from core.cache import content_hash

NAMESPACE = "llm_option_probs"
GEN_NAMESPACE = "llm_generations"
ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class ScorerConfig:
    batch_size: int = 32
    share_prefix: bool = True  # run the shared prompt prefix once per batch and reuse its KV cache
    min_prefix_tokens: int = 4  # below this a shared prefix is not worth a separate forward pass


def model_key(lm) -> str:
    """What identifies the model in cache keys: its source plus dtype (bf16 on GPU scores differently)."""
    dtype = str(getattr(lm.model, "dtype", ""))
    return f"{lm.name}|{dtype}"


def option_token_sets(lm, options: dict[str, Sequence[str]]) -> dict[str, list[int]]:
    """First token ids of every option's surface forms; refuses options that share a first token."""
    sets = {name: lm.option_token_ids(list(forms)) for name, forms in options.items()}
    seen: dict[int, str] = {}
    for name, ids in sets.items():
        if not ids:
            raise ValueError(f"option {name!r} has no surface form that tokenizes")
        for t in ids:
            if t in seen:
                raise ValueError(f"options {seen[t]!r} and {name!r} share the first token "
                                 f"{lm.tokenizer.decode([t])!r}; make them distinguishable")
            seen[t] = name
    return sets


def _cache_key(mkey: str, prompt: str, options: dict[str, Sequence[str]]) -> str:
    return content_hash(mkey, prompt, {k: list(v) for k, v in options.items()})


def score_prompts(lm, prompts: Sequence[str], options: dict[str, Sequence[str]], *,
                  config: ScorerConfig = ScorerConfig(), store=None,
                  progress: ProgressFn | None = None) -> np.ndarray:
    """[N, n_options] probabilities (not renormalised: a row's sum is the mass the options get at all)."""
    token_sets = option_token_sets(lm, options)
    n = len(prompts)
    out = np.full((n, len(token_sets)), np.nan, dtype=np.float64)
    keys = [_cache_key(model_key(lm), p, options) for p in prompts] if store is not None else []
    todo = list(range(n))
    if store is not None:
        hits = store.cache_get_many(NAMESPACE, sorted(set(keys)))
        todo = []
        for i, k in enumerate(keys):
            if k in hits and len(hits[k]) == len(token_sets):
                out[i] = hits[k]
            else:
                todo.append(i)
    if progress:
        progress(n - len(todo), n)
    if todo:
        unique = list(dict.fromkeys(prompts[i] for i in todo))
        done_before = n - len(todo)

        def step(k: int, total: int) -> None:
            if progress:
                progress(done_before + round(k / max(total, 1) * len(todo)), n)

        probs = compute_option_probs(lm, unique, list(token_sets.values()), config=config, progress=step)
        by_prompt = dict(zip(unique, probs, strict=True))
        for i in todo:
            out[i] = by_prompt[prompts[i]]
        if store is not None:
            store.cache_put_many(NAMESPACE, {keys[i]: [float(x) for x in out[i]] for i in todo})
    return out


def _position_ids(mask):
    pos = mask.long().cumsum(-1) - 1
    return pos.clamp(min=0)


def compute_option_probs(lm, prompts: Sequence[str], token_sets: Sequence[Sequence[int]], *,
                         config: ScorerConfig = ScorerConfig(),
                         progress: ProgressFn | None = None) -> np.ndarray:
    """The uncached computation: [N, len(token_sets)] option probabilities."""
    import torch

    tok = lm.tokenizer
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else 0
    ids = [tok(p, add_special_tokens=False)["input_ids"] for p in prompts]
    order = sorted(range(len(ids)), key=lambda i: (len(ids[i]), ids[i]))  # similar lengths & prefixes together
    result = np.zeros((len(ids), len(token_sets)), dtype=np.float64)
    prefix_memo: dict[tuple[int, ...], object] = {}
    device = lm.device
    done = 0
    share = config.share_prefix
    for start in range(0, len(order), config.batch_size):
        rows = order[start:start + config.batch_size]
        batch = [ids[i] for i in rows]
        shared = _common_prefix_len(batch)
        shared = min(shared, min(len(b) for b in batch) - 1)  # every row keeps at least one own token
        with torch.no_grad():
            logits = None
            if share and shared >= config.min_prefix_tokens:
                try:
                    logits = _forward_with_prefix(lm, batch, shared, prefix_memo, pad_id, device)
                except (AttributeError, NotImplementedError, TypeError) as exc:
                    # a model whose cache cannot be copied/expanded: plain batches give the same numbers
                    warnings.warn(f"prefix sharing unavailable for {lm.name} ({exc}); scoring without it",
                                  RuntimeWarning, stacklevel=2)
                    share = False
            if logits is None:
                logits = _forward_left_padded(lm, batch, pad_id, device)
            probs = torch.softmax(logits.float(), dim=-1)
            cols = [probs[:, list(t)].sum(dim=1) for t in token_sets]
            result[rows] = torch.stack(cols, dim=1).double().cpu().numpy()
        done += len(rows)
        if progress:
            progress(done, len(order))
    return result


def _common_prefix_len(batch: Sequence[Sequence[int]]) -> int:
    first = batch[0]
    n = min(len(b) for b in batch)
    for j in range(n):
        t = first[j]
        if any(b[j] != t for b in batch[1:]):
            return j
    return n


def _forward_left_padded(lm, batch, pad_id, device):
    import torch

    width = max(len(b) for b in batch)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for r, b in enumerate(batch):
        input_ids[r, width - len(b):] = torch.tensor(b)
        mask[r, width - len(b):] = 1
    input_ids, mask = input_ids.to(device), mask.to(device)
    out = lm.model(input_ids=input_ids, attention_mask=mask, position_ids=_position_ids(mask), logits_to_keep=1,
                   use_cache=False)
    return out.logits[:, -1, :]


def _forward_with_prefix(lm, batch, shared, memo, pad_id, device):
    """Run the shared prefix once (memoised), then every row's own suffix, right-padded, on top of it."""
    import torch

    key = tuple(batch[0][:shared])
    if key not in memo:
        if len(memo) > 16:
            memo.clear()
        prefix = torch.tensor([list(key)], dtype=torch.long, device=device)
        memo[key] = lm.model(input_ids=prefix, use_cache=True).past_key_values
    cache = copy.deepcopy(memo[key])
    cache.batch_repeat_interleave(len(batch))
    suffixes = [b[shared:] for b in batch]
    width = max(len(s) for s in suffixes)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), shared + width), dtype=torch.long)
    mask[:, :shared] = 1
    for r, s in enumerate(suffixes):
        input_ids[r, :len(s)] = torch.tensor(s)
        mask[r, shared:shared + len(s)] = 1
    last = torch.tensor([len(s) - 1 for s in suffixes])
    keep, inverse = torch.unique(last, return_inverse=True)  # project only the positions some row ends at
    out = lm.model(input_ids=input_ids.to(device), attention_mask=mask.to(device), past_key_values=cache,
                   use_cache=True, logits_to_keep=keep.to(device))
    logits = out.logits  # [B, len(keep), V]
    return logits[torch.arange(len(batch), device=logits.device), inverse.to(logits.device)]


def generate_cached(lm, prompts: Sequence[str], *, max_new_tokens: int = 96, batch_size: int = 8, store=None,
                    progress: ProgressFn | None = None) -> list[str]:
    """Greedy continuations (chain-of-thought), cached by (model, prompt, max_new_tokens)."""
    keys = [content_hash(model_key(lm), p, max_new_tokens) for p in prompts]
    hits = store.cache_get_many(GEN_NAMESPACE, sorted(set(keys))) if store is not None else {}
    todo = [i for i, k in enumerate(keys) if k not in hits]
    texts = [hits.get(k) for k in keys]
    if todo:
        new = lm.generate([prompts[i] for i in todo], max_new_tokens=max_new_tokens, batch_size=batch_size,
                          progress=progress)
        for i, t in zip(todo, new, strict=True):
            texts[i] = t
        if store is not None:
            store.cache_put_many(GEN_NAMESPACE, {keys[i]: texts[i] for i in todo})
    return [t or "" for t in texts]

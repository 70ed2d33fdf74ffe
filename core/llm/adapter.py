"""A narrow adapter over any transformers causal LM: format, score options, generate, hidden states.

Loads the embedded SmolLM2 by default, or a hub id / local folder, safetensors only and with
trust_remote_code off unless asked for. Batches are left-padded so the last position is the answer position.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from core.device import best_device
from core.model_source import ModelSource, parse_model_source

DEFAULT_LM = "embedded:smollm2"
ProgressFn = Callable[[int, int], None]


class ModelLoadError(RuntimeError):
    """A model could not be loaded; the message says what to do."""


@dataclass(frozen=True)
class LoadOptions:
    device: str | None = None
    trust_remote_code: bool = False
    attn_implementation: str | None = None  # "eager" when attention weights are needed


def load_causal_lm(source: str | ModelSource = DEFAULT_LM, options: LoadOptions = LoadOptions()) -> CausalLM:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src = source if isinstance(source, ModelSource) else parse_model_source(source)
    location = src.location()
    device = options.device or best_device()
    kwargs = {"trust_remote_code": options.trust_remote_code}
    try:
        tokenizer = AutoTokenizer.from_pretrained(location, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(
            location, dtype=torch.float32 if device == "cpu" else torch.bfloat16, use_safetensors=True,
            attn_implementation=options.attn_implementation, **kwargs)
    except Exception as exc:  # transformers raises many types; all mean "cannot load this"
        hint = " (no internet here: use a local folder or an embedded model)" if src.kind == "hub" else ""
        raise ModelLoadError(f"Could not load {src.label}{hint}: {type(exc).__name__}: {exc}") from exc
    model.to(device).eval()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return CausalLM(model=model, tokenizer=tokenizer, name=src.value, device=device)


@dataclass
class CausalLM:
    model: object
    tokenizer: object
    name: str
    device: str

    @property
    def has_chat_template(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))

    @property
    def num_layers(self) -> int:
        return int(self.model.config.num_hidden_layers)

    def format(self, user_text: str, *, chat: bool = True, system: str | None = None,
               assistant_prefix: str = "") -> str:
        """The exact text the model sees: the chat template when asked for and available, else raw."""
        if chat and self.has_chat_template:
            messages = ([{"role": "system", "content": system}] if system else []) + [
                {"role": "user", "content": user_text}]
            text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            return text + assistant_prefix
        prefix = f"{system}\n\n" if system else ""
        return prefix + user_text + assistant_prefix

    def option_token_ids(self, surface_forms: Sequence[str]) -> list[int]:
        """First token id of each surface form (" Yes", "Yes", "yes"...), de-duplicated."""
        ids: list[int] = []
        for form in surface_forms:
            toks = self.tokenizer.encode(form, add_special_tokens=False)
            if toks and toks[0] not in ids:
                ids.append(toks[0])
        return ids

    def _batches(self, n: int, batch_size: int):
        for start in range(0, n, batch_size):
            yield start, min(n, start + batch_size)

    def next_token_logprobs(self, prompts: Sequence[str], batch_size: int = 16,
                            progress: ProgressFn | None = None) -> np.ndarray:
        """log p(next token | prompt) over the vocabulary, one row per prompt (float32 [N, V])."""
        import torch

        out = []
        for start, end in self._batches(len(prompts), batch_size):
            enc = self.tokenizer(list(prompts[start:end]), return_tensors="pt", padding=True,
                                 add_special_tokens=False).to(self.device)
            with torch.no_grad():
                logits = self.model(**enc).logits[:, -1, :].float()
            out.append(torch.log_softmax(logits, dim=-1).cpu().numpy())
            if progress:
                progress(end, len(prompts))
        return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)

    def score_options(self, prompts: Sequence[str], options: dict[str, Sequence[str]], batch_size: int = 16,
                      progress: ProgressFn | None = None) -> np.ndarray:
        """P(option) from the next-token distribution, summing each option's surface forms ([N, n_options]).

        Rows are not renormalised: their sum is the probability mass the options get at all.
        """
        token_sets = {name: self.option_token_ids(forms) for name, forms in options.items()}
        seen: dict[int, str] = {}
        for name, ids in token_sets.items():
            for t in ids:
                if t in seen:
                    raise ValueError(f"options {seen[t]!r} and {name!r} share the first token "
                                     f"{self.tokenizer.decode([t])!r}; make them distinguishable")
                seen[t] = name
        logp = self.next_token_logprobs(prompts, batch_size=batch_size, progress=progress)
        probs = np.exp(logp)
        return np.stack([probs[:, ids].sum(axis=1) for ids in token_sets.values()], axis=1)

    def generate(self, prompts: Sequence[str], max_new_tokens: int = 64, batch_size: int = 8,
                 temperature: float = 0.0, seed: int = 0, progress: ProgressFn | None = None) -> list[str]:
        """Greedy (temperature 0) or sampled continuations, decoded without the prompt."""
        import torch

        torch.manual_seed(seed)
        texts: list[str] = []
        for start, end in self._batches(len(prompts), batch_size):
            enc = self.tokenizer(list(prompts[start:end]), return_tensors="pt", padding=True,
                                 add_special_tokens=False).to(self.device)
            sample = temperature > 0
            with torch.no_grad():
                out = self.model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=sample,
                                          temperature=temperature if sample else None, top_p=None, top_k=None,
                                          pad_token_id=self.tokenizer.pad_token_id)
            new = out[:, enc["input_ids"].shape[1]:]
            texts.extend(self.tokenizer.batch_decode(new, skip_special_tokens=True))
            if progress:
                progress(end, len(prompts))
        return texts

    def hidden_states(self, prompts: Sequence[str], positions: Sequence[int] = (-1,), batch_size: int = 16,
                      progress: ProgressFn | None = None) -> np.ndarray:
        """Residual-stream inputs of every layer at the given (negative, left-padded) positions.

        Returns float32 [N, n_layers + 1, len(positions), d]: index l is the input of block l (the last is
        the final output before the norm), the convention of the refusal-direction papers.
        """
        import torch

        out = []
        pos = list(positions)
        for start, end in self._batches(len(prompts), batch_size):
            enc = self.tokenizer(list(prompts[start:end]), return_tensors="pt", padding=True,
                                 add_special_tokens=False).to(self.device)
            with torch.no_grad():
                hs = self.model(**enc, output_hidden_states=True).hidden_states
            stacked = torch.stack([h[:, pos, :] for h in hs], dim=1).float().cpu().numpy()
            out.append(stacked)
            if progress:
                progress(end, len(prompts))
        return np.concatenate(out)

    def attention_weights(self, prompts: Sequence[str], query_positions: Sequence[int] | None = (-1,),
                          batch_size: int = 8, progress: ProgressFn | None = None) -> list[np.ndarray]:
        """Attention probabilities of every layer and head, per prompt, over the prompt's own tokens.

        Returns one float32 array per prompt, [n_layers, n_heads, n_queries, T] (padding removed), where the
        queries are `query_positions` (negative = from the end) or every position when None. Needs a model
        loaded with LoadOptions(attn_implementation="eager"): SDPA and flash attention return no weights.
        """
        import torch

        out: list[np.ndarray] = []
        for start, end in self._batches(len(prompts), batch_size):
            enc = self.tokenizer(list(prompts[start:end]), return_tensors="pt", padding=True,
                                 add_special_tokens=False).to(self.device)
            mask = enc["attention_mask"]
            position_ids = (mask.long().cumsum(-1) - 1).clamp(min=0)  # left padding must not shift positions
            with torch.no_grad():
                res = self.model(**enc, position_ids=position_ids, output_attentions=True, use_cache=False)
            atts = getattr(res, "attentions", None)
            if not atts or atts[0] is None:
                raise ModelLoadError("This model returned no attention weights; load it with "
                                     "LoadOptions(attn_implementation='eager').")
            stacked = torch.stack([a.float() for a in atts], dim=1)  # [B, L, H, T, T]
            width = stacked.shape[-1]
            for r in range(stacked.shape[0]):
                pad = int(width - mask[r].sum().item())
                own = stacked[r, :, :, pad:, pad:]
                if query_positions is not None:
                    own = own[:, :, list(query_positions), :]
                out.append(own.cpu().numpy())
            if progress:
                progress(end, len(prompts))
        return out

"""Attention-space guidance plumbing: the per-run state the processors read, base processors for UNet
cross-attention and MMDiT joint attention, and installing them with the originals restored afterwards.

Batch layout. The denoiser sees one batch of rows (roles x samples). `AttentionState.guided_rows` lists the
rows that are guided (the positive-prompt rows); the others get plain attention. The negative context is
aligned to all rows:
- UNet (`attn2`): the processor projects `state.neg_hidden[rows]` with the layer's own to_k/to_v, so the
  latent batch is not enlarged (one extra attention per guided layer).
- MMDiT (SD3): the adapter appends the negative tokens to the context sequence (`state.pos_len` marks the
  split), so the negative context stream is carried through every block by the block's own norms and
  feed-forward; the processors keep the positive and negative tokens apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass
class AttentionState:
    active: bool = False
    guided_rows: Any = None  # LongTensor [G] of batch rows to guide
    neg_hidden: Any = None  # [B, Ln, D]: negative context aligned to all rows
    neg_mask: Any = None  # [B, Ln] bool: real (non-padding) negative tokens
    pos_len: int = 0  # MMDiT: number of positive context tokens before the negative ones
    calls: int = 0  # guided processor calls (tests check the processors really ran)

    @property
    def on(self) -> bool:
        return bool(self.active and self.guided_rows is not None and len(self.guided_rows) > 0
                    and self.neg_hidden is not None)


def _heads(x: Any, heads: int) -> Any:
    b, n, c = x.shape
    return x.view(b, n, heads, c // heads).transpose(1, 2)


def _merge(x: Any) -> Any:
    b, h, n, d = x.shape
    return x.transpose(1, 2).reshape(b, n, h * d)


class CrossAttentionGuidance:
    """Base for UNet cross-attention processors. Subclasses implement `guide(q, k, v, z_pos, kn, vn, mask)`
    on head-split tensors [G, heads, tokens, head_dim] for the guided rows and return their output."""

    original: Any = None  # the processor this one replaced (used when guidance is off at a step)

    def __init__(self, state: AttentionState):
        self.state = state

    def guide(self, q, k, v, z_pos, k_neg, v_neg, neg_mask):  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None,
                 *args, **kwargs):
        if encoder_hidden_states is None or not self.state.on:
            return self.original(attn, hidden_states, encoder_hidden_states, attention_mask, temb, *args, **kwargs)
        import torch.nn.functional as F

        residual = hidden_states
        if attn.spatial_norm is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)
        input_ndim = hidden_states.ndim
        if input_ndim == 4:
            b, c, h, w = hidden_states.shape
            hidden_states = hidden_states.view(b, c, h * w).transpose(1, 2)
        batch = hidden_states.shape[0]
        if attention_mask is not None:
            attention_mask = attn.prepare_attention_mask(attention_mask, encoder_hidden_states.shape[1], batch)
            attention_mask = attention_mask.view(batch, attn.heads, -1, attention_mask.shape[-1])
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)

        ctx = encoder_hidden_states
        rows = self.state.guided_rows
        neg_ctx = self.state.neg_hidden[rows].to(ctx.dtype)
        if attn.norm_cross:
            ctx = attn.norm_encoder_hidden_states(ctx)
            neg_ctx = attn.norm_encoder_hidden_states(neg_ctx)
        q = _heads(attn.to_q(hidden_states), attn.heads)
        k = _heads(attn.to_k(ctx), attn.heads)
        v = _heads(attn.to_v(ctx), attn.heads)
        kn = _heads(attn.to_k(neg_ctx), attn.heads)
        vn = _heads(attn.to_v(neg_ctx), attn.heads)
        if attn.norm_q is not None:
            q = attn.norm_q(q)
        if attn.norm_k is not None:
            k, kn = attn.norm_k(k), attn.norm_k(kn)

        z = F.scaled_dot_product_attention(q, k, v, attn_mask=attention_mask, dropout_p=0.0, is_causal=False)
        guided = self.guide(q[rows], k[rows], v[rows], z[rows], kn, vn, self.state.neg_mask[rows])
        z = z.index_copy(0, rows, guided.to(z.dtype))
        self.state.calls += 1

        hidden_states = _merge(z).to(q.dtype)
        hidden_states = attn.to_out[0](hidden_states)
        hidden_states = attn.to_out[1](hidden_states)
        if input_ndim == 4:
            hidden_states = hidden_states.transpose(-1, -2).reshape(b, c, h, w)
        if attn.residual_connection:
            hidden_states = hidden_states + residual
        return hidden_states / attn.rescale_output_factor


class JointAttentionGuidance:
    """Base for MMDiT joint-attention processors (SD3 `JointAttnProcessor2_0` layout). The context holds
    [positive tokens ; negative tokens]. Subclasses implement `guide(q, k, v, cq, ck, cv, pos_len)` on
    head-split tensors and return (image output, context output [positive ; negative])."""

    original: Any = None

    def __init__(self, state: AttentionState):
        self.state = state

    def guide(self, q, k, v, cq, ck, cv, pos_len):  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, *args, **kwargs):
        if encoder_hidden_states is None or not self.state.on:
            return self.original(attn, hidden_states, encoder_hidden_states, attention_mask, *args, **kwargs)
        q = _heads(attn.to_q(hidden_states), attn.heads)
        k = _heads(attn.to_k(hidden_states), attn.heads)
        v = _heads(attn.to_v(hidden_states), attn.heads)
        if attn.norm_q is not None:
            q = attn.norm_q(q)
        if attn.norm_k is not None:
            k = attn.norm_k(k)
        cq = _heads(attn.add_q_proj(encoder_hidden_states), attn.heads)
        ck = _heads(attn.add_k_proj(encoder_hidden_states), attn.heads)
        cv = _heads(attn.add_v_proj(encoder_hidden_states), attn.heads)
        if attn.norm_added_q is not None:
            cq = attn.norm_added_q(cq)
        if attn.norm_added_k is not None:
            ck = attn.norm_added_k(ck)
        img, ctx = self.guide(q, k, v, cq, ck, cv, self.state.pos_len)
        self.state.calls += 1
        img = _merge(img).to(q.dtype)
        ctx = _merge(ctx).to(q.dtype)
        if not attn.context_pre_only:
            ctx = attn.to_add_out(ctx)
        img = attn.to_out[0](img)
        img = attn.to_out[1](img)
        return img, ctx


def split_branches(q, k, v, cq, ck, cv, pos_len):
    """Two joint attentions sharing the image tokens: [image ; positive] and [image ; negative]."""
    import torch
    import torch.nn.functional as F

    n_img = q.shape[2]
    sl_p, sl_n = slice(0, pos_len), slice(pos_len, None)
    out_p = F.scaled_dot_product_attention(torch.cat([q, cq[:, :, sl_p]], 2), torch.cat([k, ck[:, :, sl_p]], 2),
                                           torch.cat([v, cv[:, :, sl_p]], 2))
    out_n = F.scaled_dot_product_attention(torch.cat([q, cq[:, :, sl_n]], 2), torch.cat([k, ck[:, :, sl_n]], 2),
                                           torch.cat([v, cv[:, :, sl_n]], 2))
    z_pos, z_neg = out_p[:, :, :n_img], out_n[:, :, :n_img]
    ctx = torch.cat([out_p[:, :, n_img:], out_n[:, :, n_img:]], dim=2)
    return z_pos, z_neg, ctx


def guided_layer_names(model: Any, family: str) -> list[str]:
    """Processor names of the layers an attention method edits: UNet `attn2` (cross-attention); MMDiT every
    joint attention (an Attention with context projections; SD3.5's extra image self-attention is left)."""
    names = list(model.attn_processors)
    if family == "unet":
        return [n for n in names if ".attn2." in f".{n}"]
    if family == "mmdit":
        out = []
        for name, module in model.named_modules():
            if getattr(module, "add_k_proj", None) is not None and f"{name}.processor" in names:
                out.append(f"{name}.processor")
        return out
    raise ValueError(f"unknown model family {family!r}")


@contextmanager
def installed_processors(model: Any, family: str, method: Any, state: AttentionState) -> Iterator[list[str]]:
    """Install the method's processor on every guided layer; restore the original processors afterwards,
    also when the run raises (a leaked processor would silently change every later generation)."""
    original = dict(model.attn_processors)
    names = guided_layer_names(model, family)
    if not names:
        raise ValueError(f"no {'cross' if family == 'unet' else 'joint'}-attention layers found to guide")
    replaced = dict(original)
    for name in names:
        proc = method.make_processor(family, state)
        proc.original = original[name]
        replaced[name] = proc
    model.set_attn_processor(replaced)  # diffusers pops from the dict it gets: pass copies
    try:
        yield names
    finally:
        model.set_attn_processor(dict(original))

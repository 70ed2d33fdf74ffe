"""VSF, Value Sign Flip (Guo & Du, ICLR 2026, arXiv 2508.10931).

UNet cross-attention: the negative prompt's tokens join the keys with their values sign-flipped and scaled,
    K = [K+ ; K-],  V = [V+ ; -scale * V-],  logits of the negative columns + bias,
inside ONE softmax. The negative is used without padding (padding columns are masked out).

MMDiT joint attention (the paper's layout): the context is [positive ; negative]. Negative tokens take part
twice: a normal copy whose queries see only the image and themselves (nothing attends to it), and a
key/value-only copy with flipped values that only image queries see, with the logit bias.

scale 0 is defined as "off": in the joint softmax zero-valued negative columns would still take attention
mass away from the positive tokens, so it would not equal the positive-only prediction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from core.guidance.attention import CrossAttentionGuidance, JointAttentionGuidance
from core.guidance.base import GuidanceMethod, check_range


@dataclass(frozen=True)
class VSF(GuidanceMethod):
    scale: float = 2.0
    bias: float = -0.1  # additive logit bias on the negative columns (the paper's -offset)

    key: ClassVar[str] = "vsf"
    title: ClassVar[str] = "VSF"
    kind: ClassVar[str] = "attention"
    scale_field: ClassVar[str | None] = "scale"

    def validate(self) -> None:
        check_range("VSF scale", self.scale, 0.0, 20.0)
        check_range("VSF bias", self.bias, -1e4, 10.0)

    def attention_active(self, step: int, num_steps: int) -> bool:
        return self.scale != 0

    def negative_unpadded(self) -> bool:
        return True

    def make_processor(self, family: str, state: Any) -> Any:
        return (_VSFCross if family == "unet" else _VSFJoint)(state, self.scale, self.bias)


def _neg_column_bias(neg_mask: Any, bias: float, dtype: Any) -> Any:
    """[B, Ln] bool -> additive logits: bias on real negative tokens, -inf on padding."""
    import torch

    out = torch.full(neg_mask.shape, float("-inf"), dtype=dtype, device=neg_mask.device)
    return out.masked_fill(neg_mask.bool(), float(bias))


class _VSFCross(CrossAttentionGuidance):
    def __init__(self, state, scale, bias):
        super().__init__(state)
        self.scale, self.bias = scale, bias

    def guide(self, q, k, v, z_pos, k_neg, v_neg, neg_mask):
        import torch
        import torch.nn.functional as F

        g, _, n_q, _ = q.shape
        keys = torch.cat([k, k_neg], dim=2)
        values = torch.cat([v, -self.scale * v_neg], dim=2)
        pos_cols = torch.zeros(g, k.shape[2], dtype=q.dtype, device=q.device)
        mask = torch.cat([pos_cols, _neg_column_bias(neg_mask, self.bias, q.dtype)], dim=1)
        mask = mask[:, None, None, :].expand(g, 1, n_q, mask.shape[1])
        return F.scaled_dot_product_attention(q, keys, values, attn_mask=mask)


class _VSFJoint(JointAttentionGuidance):
    def __init__(self, state, scale, bias):
        super().__init__(state)
        self.scale, self.bias = scale, bias

    def guide(self, q, k, v, cq, ck, cv, pos_len):
        import torch
        import torch.nn.functional as F

        b, _, n_img, _ = q.shape
        n_pos = pos_len
        n_neg = cq.shape[2] - pos_len
        sl_n = slice(pos_len, None)
        queries = torch.cat([q, cq], dim=2)  # [image ; pos ; neg]
        keys = torch.cat([k, ck, ck[:, :, sl_n]], dim=2)  # [image ; pos ; neg ; neg (flipped copy)]
        values = torch.cat([v, cv, -self.scale * cv[:, :, sl_n]], dim=2)
        n_q, n_k = queries.shape[2], keys.shape[2]
        ninf = float("-inf")
        mask = torch.zeros(b, 1, n_q, n_k, dtype=q.dtype, device=q.device)
        i_img, i_pos, i_neg = slice(0, n_img), slice(n_img, n_img + n_pos), slice(n_img + n_pos, n_q)
        c_neg, c_flip = slice(n_img + n_pos, n_img + n_pos + n_neg), slice(n_img + n_pos + n_neg, n_k)
        mask[:, :, i_img, c_neg] = ninf  # image queries do not see the normal negative copy
        mask[:, :, i_pos, c_neg] = ninf  # positive tokens do not see the negative ones
        mask[:, :, i_pos, c_flip] = ninf
        mask[:, :, i_neg, i_pos] = ninf  # negative tokens see the image and themselves
        mask[:, :, i_neg, c_flip] = ninf
        flip = torch.full((b, n_neg), ninf, dtype=q.dtype, device=q.device)
        rows = self.state.guided_rows
        flip[rows] = _neg_column_bias(self.state.neg_mask[rows], self.bias, q.dtype)
        mask[:, 0, i_img, c_flip] = flip[:, None, :]
        out = F.scaled_dot_product_attention(queries, keys, values, attn_mask=mask)
        return out[:, :, :n_img], out[:, :, n_img:]

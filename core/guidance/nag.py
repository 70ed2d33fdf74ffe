"""NAG, Normalized Attention Guidance (Chen et al., NeurIPS 2025), per image token over the channels:

    Zg = phi * Z+ - (phi - 1) * Z-
    r  = ||Zg||_1 / ||Z+||_1 ;  Zg = Zg * min(r, tau) / r
    Z  = alpha * Zg + (1 - alpha) * Z+

UNet: cross-attention layers; MMDiT: every joint attention (image-token output only). phi = 1 is "off".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from core.guidance.attention import CrossAttentionGuidance, JointAttentionGuidance, split_branches
from core.guidance.base import GuidanceMethod, check_range

DEFAULT_ALPHA = {"unet": 0.5, "mmdit": 0.125}  # paper defaults: SDXL 0.5, SD3 0.125
EPS = 1e-6


@dataclass(frozen=True)
class NAG(GuidanceMethod):
    scale: float = 4.0  # phi (nag_scale)
    tau: float = 2.5
    alpha: float | None = None  # None: the paper's default for the model family
    end: float = 1.0  # fraction of the schedule after which NAG stops (nag_end)

    key: ClassVar[str] = "nag"
    title: ClassVar[str] = "NAG"
    kind: ClassVar[str] = "attention"
    scale_field: ClassVar[str | None] = "scale"
    neutral: ClassVar[float] = 1.0

    def validate(self) -> None:
        check_range("NAG scale", self.scale, 1.0, 50.0)
        check_range("NAG tau", self.tau, 1.0, 100.0)
        if self.alpha is not None:
            check_range("NAG alpha", self.alpha, 0.0, 1.0)
        check_range("NAG end", self.end, 0.0, 1.0)

    def attention_active(self, step: int, num_steps: int) -> bool:
        return step < math.ceil(self.end * num_steps - 1e-9)

    def make_processor(self, family: str, state: Any) -> Any:
        alpha = DEFAULT_ALPHA[family] if self.alpha is None else self.alpha
        cls = _NAGCross if family == "unet" else _NAGJoint
        return cls(state, self.scale, self.tau, alpha)


def nag_combine(z_pos: Any, z_neg: Any, scale: float, tau: float, alpha: float) -> Any:
    """On head-split tensors [B, heads, tokens, head_dim]: the norm runs over all channels of a token."""
    zp, zn = z_pos.float(), z_neg.float()
    zg = scale * zp - (scale - 1.0) * zn
    norm_p = zp.abs().sum(dim=(1, 3), keepdim=True)
    norm_g = zg.abs().sum(dim=(1, 3), keepdim=True)
    ratio = norm_g / (norm_p + EPS)
    factor = (ratio.clamp_max(tau) / ratio).nan_to_num(1.0, posinf=1.0, neginf=1.0)
    zg = zg * factor
    return (alpha * zg + (1.0 - alpha) * zp).to(z_pos.dtype)


class _NAGCross(CrossAttentionGuidance):
    def __init__(self, state, scale, tau, alpha):
        super().__init__(state)
        self.scale, self.tau, self.alpha = scale, tau, alpha

    def guide(self, q, k, v, z_pos, k_neg, v_neg, neg_mask):
        import torch.nn.functional as F

        z_neg = F.scaled_dot_product_attention(q, k_neg, v_neg)
        return nag_combine(z_pos, z_neg, self.scale, self.tau, self.alpha)


class _NAGJoint(JointAttentionGuidance):
    def __init__(self, state, scale, tau, alpha):
        super().__init__(state)
        self.scale, self.tau, self.alpha = scale, tau, alpha

    def guide(self, q, k, v, cq, ck, cv, pos_len):
        z_pos, z_neg, ctx = split_branches(q, k, v, cq, ck, cv, pos_len)
        rows = self.state.guided_rows
        z = z_pos.index_copy(0, rows, nag_combine(z_pos[rows], z_neg[rows], self.scale, self.tau, self.alpha))
        return z, ctx

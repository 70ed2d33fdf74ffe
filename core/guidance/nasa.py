"""NASA, Negative-Away Steer Attention (SNOOPI, arXiv 2412.02687): Z = Z+ - alpha * Z- in the
cross-attention (UNet) or on the image tokens of joint attention (MMDiT). No normalisation; alpha is model
dependent (0.04 for one-step SD1.5 distillations ... 0.8 for PixArt). No official code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from core.guidance.attention import CrossAttentionGuidance, JointAttentionGuidance, split_branches
from core.guidance.base import GuidanceMethod, check_range


@dataclass(frozen=True)
class NASA(GuidanceMethod):
    alpha: float = 0.3

    key: ClassVar[str] = "nasa"
    title: ClassVar[str] = "NASA"
    kind: ClassVar[str] = "attention"
    scale_field: ClassVar[str | None] = "alpha"

    def validate(self) -> None:
        check_range("NASA alpha", self.alpha, 0.0, 5.0)

    def attention_active(self, step: int, num_steps: int) -> bool:
        return True

    def make_processor(self, family: str, state: Any) -> Any:
        return (_NASACross if family == "unet" else _NASAJoint)(state, self.alpha)


class _NASACross(CrossAttentionGuidance):
    def __init__(self, state, alpha):
        super().__init__(state)
        self.alpha = alpha

    def guide(self, q, k, v, z_pos, k_neg, v_neg, neg_mask):
        import torch.nn.functional as F

        return z_pos - self.alpha * F.scaled_dot_product_attention(q, k_neg, v_neg)


class _NASAJoint(JointAttentionGuidance):
    def __init__(self, state, alpha):
        super().__init__(state)
        self.alpha = alpha

    def guide(self, q, k, v, cq, ck, cv, pos_len):
        z_pos, z_neg, ctx = split_branches(q, k, v, cq, ck, cv, pos_len)
        rows = self.state.guided_rows
        return z_pos.index_copy(0, rows, z_pos[rows] - self.alpha * z_neg[rows]), ctx

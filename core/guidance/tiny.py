"""Tiny random models of the real shapes, built offline (no downloads): for tests, the benchmark's smoke
mode, and the page until the toy model's weights exist. Untrained: their images are noise-like."""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

from core.paths import subdir

TOY_TEXT_DIM = 384  # MiniLM hidden size (the toy model's cross_attention_dim)


def clip_tokenizer_dir() -> Path:
    """A character-level CLIP BPE vocabulary (start/end tokens + each printable char as `c` and `c</w>`)."""
    folder = subdir("cache", "tiny_clip_tokenizer")
    if not (folder / "merges.txt").exists():
        vocab = {"<|startoftext|>": 0, "<|unused|>": 1, "<|endoftext|>": 2}
        for ch in string.ascii_lowercase + string.digits + string.punctuation:
            for tok in (ch, f"{ch}</w>"):
                vocab.setdefault(tok, len(vocab))
        (folder / "vocab.json").write_text(json.dumps(vocab))
        (folder / "merges.txt").write_text("#version: 0.2\n")
    return folder


def clip_tokenizer() -> Any:
    from transformers import CLIPTokenizer

    return CLIPTokenizer.from_pretrained(str(clip_tokenizer_dir()), model_max_length=77)


def _clip_text(seed: int, with_projection: bool = False, hidden: int = 8, projection: int = 8) -> Any:
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(seed)
    cfg = CLIPTextConfig(hidden_size=hidden, intermediate_size=16, num_attention_heads=2, num_hidden_layers=2,
                         vocab_size=1000, bos_token_id=0, eos_token_id=2, pad_token_id=1,
                         projection_dim=projection)
    return (CLIPTextModelWithProjection if with_projection else CLIPTextModel)(cfg).eval()


def _vae(seed: int) -> Any:
    import torch
    from diffusers import AutoencoderKL

    torch.manual_seed(seed)
    return AutoencoderKL(block_out_channels=[4, 8], in_channels=3, out_channels=3,
                         down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
                         up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"], latent_channels=4,
                         norm_num_groups=2, sample_size=64).eval()


def toy_unet(seed: int = 0) -> Any:
    """The toy model's interface (3x32x32 pixels, cross-attention dim 384) at a tiny width."""
    import torch
    from diffusers import UNet2DConditionModel

    torch.manual_seed(seed)
    return UNet2DConditionModel(sample_size=32, in_channels=3, out_channels=3, block_out_channels=(16, 32),
                                layers_per_block=1, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
                                cross_attention_dim=TOY_TEXT_DIM, attention_head_dim=8, norm_num_groups=8).eval()


def toy_scheduler() -> Any:
    from diffusers import DDIMScheduler

    return DDIMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", prediction_type="epsilon",
                         clip_sample=True)


def sd15_pipeline(seed: int = 0) -> Any:
    import torch
    from diffusers import DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(block_out_channels=(4, 8), layers_per_block=1, sample_size=32, in_channels=4,
                                out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=8,
                                norm_num_groups=2, attention_head_dim=2).eval()
    return StableDiffusionPipeline(vae=_vae(seed + 1), text_encoder=_clip_text(seed + 2), tokenizer=clip_tokenizer(),
                                   unet=unet, scheduler=DDIMScheduler(steps_offset=1, clip_sample=False), safety_checker=None,
                                   feature_extractor=None, requires_safety_checker=False)


def sdxl_pipeline(seed: int = 0) -> Any:
    """SDXL's shape: two CLIP text encoders (their penultimate states concatenated as the context, the second's
    pooled projection plus six size/crop ids as the added "text_time" embedding)."""
    import torch
    from diffusers import DDIMScheduler, StableDiffusionXLPipeline, UNet2DConditionModel

    torch.manual_seed(seed)
    hidden, pooled, time_dim = 8, 8, 8
    unet = UNet2DConditionModel(block_out_channels=(4, 8), layers_per_block=1, sample_size=32, in_channels=4,
                                out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=2 * hidden,
                                norm_num_groups=2, attention_head_dim=2, addition_embed_type="text_time",
                                addition_time_embed_dim=time_dim,
                                projection_class_embeddings_input_dim=pooled + 6 * time_dim).eval()
    tok = clip_tokenizer()
    return StableDiffusionXLPipeline(
        vae=_vae(seed + 1), text_encoder=_clip_text(seed + 2, hidden=hidden), tokenizer=tok,
        text_encoder_2=_clip_text(seed + 3, True, hidden=hidden, projection=pooled), tokenizer_2=tok, unet=unet,
        scheduler=DDIMScheduler(steps_offset=1, clip_sample=False), force_zeros_for_empty_prompt=True,
        add_watermarker=False)


def _mmdit_pipeline(seed: int, **transformer_extra: Any) -> Any:
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel, StableDiffusion3Pipeline

    torch.manual_seed(seed)
    transformer = SD3Transformer2DModel(sample_size=32, patch_size=1, in_channels=4, num_layers=2,
                                        attention_head_dim=8, num_attention_heads=4, caption_projection_dim=32,
                                        joint_attention_dim=32, pooled_projection_dim=64, out_channels=4,
                                        **transformer_extra).eval()
    tok = clip_tokenizer()
    return StableDiffusion3Pipeline(
        transformer=transformer, scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0), vae=_vae(seed + 1),
        text_encoder=_clip_text(seed + 2, True, hidden=8, projection=32), tokenizer=tok,
        text_encoder_2=_clip_text(seed + 3, True, hidden=8, projection=32), tokenizer_2=tok,
        text_encoder_3=None, tokenizer_3=None)


def sd3_pipeline(seed: int = 0) -> Any:
    return _mmdit_pipeline(seed)


def sd35_pipeline(seed: int = 0) -> Any:
    """SD3.5's shape: RMS-normed queries and keys, and an extra image-only self-attention (`attn2`) in the
    first block (SD3.5 Medium's dual-attention layers)."""
    return _mmdit_pipeline(seed, qk_norm="rms_norm", dual_attention_layers=(0,))


def random_adapter(source: str, device: str = "cpu", encoder: Any = None) -> Any:
    """"random:toy" | "random:sd15" | "random:sdxl" | "random:sd3" -> an adapter over freshly built tiny random weights."""
    from core.guidance.adapters import RANDOM_SOURCES, SD3Adapter, SDAdapter, ToyAdapter

    if source == "random:toy":
        if encoder is None:
            from core.toyworld.text_encoder import MiniLMTokenEncoder

            encoder = MiniLMTokenEncoder(device=device)
        return ToyAdapter(toy_unet(), toy_scheduler(), encoder, name=RANDOM_SOURCES[source], source=source,
                          device=device)
    if source == "random:sd15":
        pipe = sd15_pipeline().to(device)
        return SDAdapter(pipe, name=RANDOM_SOURCES[source], source=source, device=device)
    if source == "random:sdxl":
        pipe = sdxl_pipeline().to(device)
        return SDAdapter(pipe, name=RANDOM_SOURCES[source], source=source, device=device)
    if source == "random:sd3":
        pipe = sd3_pipeline().to(device)
        return SD3Adapter(pipe, name=RANDOM_SOURCES[source], source=source, device=device, max_sequence_length=16)
    raise ValueError(f"unknown random model {source!r}; one of {', '.join(RANDOM_SOURCES)}")

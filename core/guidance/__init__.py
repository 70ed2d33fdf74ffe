"""Negative-prompt guidance engine: methods (one module each), model adapters and the sampler loop.

    from core.guidance import CFG, NAG, GenerationRequest, generate, load_adapter
    adapter = load_adapter("embedded:toy_t2i")          # or "random:toy", a local folder, a hub id
    result = generate(adapter, GenerationRequest(prompts=["a red circle"], negatives=["red"],
                                                 methods=[CFG(7.5), NAG()], seeds=[0, 1], steps=20))
"""

from core.guidance.adapters import ModelAdapter, ModelLoadError, TextCond, load_adapter
from core.guidance.base import GuidanceConfigError, GuidanceMethod, Stack
from core.guidance.cfg import CFG
from core.guidance.delayed import DelayedNegative
from core.guidance.engine import (
                                  GenerationError,
                                  GenerationRequest,
                                  GenerationResult,
                                  MethodRun,
                                  check_request,
                                  generate,
)
from core.guidance.nag import NAG
from core.guidance.nasa import NASA
from core.guidance.perp_neg import PerpNeg
from core.guidance.positive_only import PositiveOnly
from core.guidance.registry import METHODS, default_methods, method_from_dict
from core.guidance.vsf import VSF

__all__ = ["CFG", "METHODS", "NAG", "NASA", "VSF", "DelayedNegative", "GenerationError", "GenerationRequest",
           "GenerationResult", "GuidanceConfigError", "GuidanceMethod", "MethodRun", "ModelAdapter",
           "ModelLoadError", "PerpNeg", "PositiveOnly", "Stack", "TextCond", "check_request", "default_methods",
           "generate", "load_adapter", "method_from_dict"]

"""Turn a failed model load, generation or input into one clear sentence for the page.

Pages wrap the work behind a button as `except Exception as exc: st.error(describe_failure(exc))`, so a
missing asset, an unknown model id or running out of memory shows what happened and what to do, and the
rest of the app keeps working (cached models and stored work are untouched).
"""

from __future__ import annotations

import gc


def _is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    name = type(exc).__name__
    return name in {"OutOfMemoryError", "OutOfResources"} or (
        isinstance(exc, RuntimeError) and ("out of memory" in str(exc).lower() or "CUBLAS_STATUS_ALLOC" in str(exc)))


def free_accelerator_memory() -> None:
    """After an out-of-memory error: drop garbage and the CUDA/MPS cache so the next, smaller try can work."""
    gc.collect()
    try:
        import torch
    except ImportError:  # pragma: no cover
        return
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    mps = getattr(torch, "mps", None)
    if mps is not None and hasattr(mps, "empty_cache") and torch.backends.mps.is_available():
        mps.empty_cache()


def describe_failure(exc: BaseException, action: str = "That") -> str:
    """One user-facing sentence for an exception; the known kinds get their own advice."""
    from core.assets import AssetMissingError
    from core.model_source import ModelSourceError
    from core.safety import InputError
    from core.store import StoreError

    detail = str(exc).strip() or type(exc).__name__
    if _is_out_of_memory(exc):
        free_accelerator_memory()
        return (f"{action} ran out of memory. Try a smaller batch size, fewer items or a smaller model; "
                "nothing else was affected.")
    if isinstance(exc, (AssetMissingError, ModelSourceError, InputError, StoreError)):
        return detail  # these messages are written for people already
    name = type(exc).__name__
    if name == "ModelLoadError":
        return detail
    if isinstance(exc, FileNotFoundError):
        return f"{action} failed: a file is missing ({detail})."
    if isinstance(exc, PermissionError):
        return f"{action} failed: no permission ({detail})."
    if isinstance(exc, (TimeoutError, ConnectionError)):
        return f"{action} failed: a network or time limit was hit ({detail}). This app works offline; use local files."
    return f"{action} failed: {name}: {detail[:500]}"

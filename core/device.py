"""Which torch device to use: cuda when present, else cpu (overridable with NEGSPACE_DEVICE)."""

from __future__ import annotations

import os


def best_device() -> str:
    forced = os.environ.get("NEGSPACE_DEVICE")
    if forced:
        return forced
    try:
        import torch
    except ImportError:
        return "cpu"
    if torch.cuda.is_available():
        return "cuda"
    return "cpu"


def describe_device() -> str:
    """One line for the home page: which device and what it is."""
    device = best_device()
    try:
        import torch
    except ImportError:
        return "cpu (torch not installed)"
    if device.startswith("cuda") and torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return f"cuda: {props.name}, {props.total_memory / 2**30:.0f} GiB"
    return f"cpu: {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads"

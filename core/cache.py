"""Content-addressed disk cache: the key is a hash of the explicit inputs, never of ambient state."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.paths import subdir


def _canonical(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {"__dataclass__": type(value).__name__, **{k: _canonical(v) for k, v in asdict(value).items()}}
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, np.ndarray):
        return {"__ndarray__": hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest(),
                "shape": list(value.shape), "dtype": str(value.dtype)}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    raise TypeError(f"cannot hash a {type(value).__name__} as a cache key; pass plain values")


def content_hash(*parts: Any) -> str:
    """Stable hex digest of plain values (str, numbers, lists, dicts, dataclasses, numpy arrays)."""
    blob = json.dumps(_canonical(list(parts)), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def text_hash(texts: list[str]) -> str:
    """Digest of an ordered list of texts (cheaper than content_hash for big corpora)."""
    h = hashlib.sha256()
    for t in texts:
        b = t.encode("utf-8")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file so that a reader never sees a half-written one (temp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ArrayCache:
    """numpy arrays on disk under data/cache/<namespace>/<key>.npy."""

    def __init__(self, namespace: str):
        self.folder = subdir("cache", namespace)

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.npy"

    def get(self, key: str) -> np.ndarray | None:
        p = self.path(key)
        if not p.exists():
            return None
        try:
            return np.load(p, allow_pickle=False)
        except (OSError, ValueError):
            p.unlink(missing_ok=True)  # a corrupt entry is recomputed, not trusted
            return None

    def put(self, key: str, array: np.ndarray) -> None:
        import io

        buf = io.BytesIO()
        np.save(buf, np.asarray(array), allow_pickle=False)
        atomic_write_bytes(self.path(key), buf.getvalue())

    def get_or_compute(self, key: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
        hit = self.get(key)
        if hit is not None:
            return hit
        value = np.asarray(compute())
        self.put(key, value)
        return value

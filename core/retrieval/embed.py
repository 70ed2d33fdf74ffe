"""Sentence embeddings with any sentence-transformers model, batched, cached on disk by (model, texts) hash."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from core.cache import ArrayCache, content_hash, text_hash
from core.model_source import ModelSource, parse_model_source

DEFAULT_EMBEDDER = "embedded:minilm"
ProgressFn = Callable[[float, str], None]
_CACHE_NS = "retrieval_embeddings"


class EmbedderLoadError(RuntimeError):
    """The embedding model could not be loaded; the message says what to do."""


def cache_key(texts: list[str], model: str) -> str:
    # why: the key is what determines the vectors (model id + exact ordered texts), nothing ambient
    return content_hash("st-embed-v1", model, text_hash(texts))


def is_cached(texts: list[str], model: str = DEFAULT_EMBEDDER) -> bool:
    return ArrayCache(_CACHE_NS).path(cache_key(texts, model)).exists()


def cached(texts: list[str], model: str = DEFAULT_EMBEDDER) -> np.ndarray | None:
    return ArrayCache(_CACHE_NS).get(cache_key(texts, model))


_MODELS: dict[str, object] = {}


def load_embedder(model: str | ModelSource = DEFAULT_EMBEDDER, device: str = "cpu"):
    src = model if isinstance(model, ModelSource) else parse_model_source(model)
    key = f"{src.value}@{device}"
    if key not in _MODELS:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - pinned in requirements
            raise EmbedderLoadError("sentence-transformers is not installed: pip install -r requirements.txt") from exc
        try:
            _MODELS[key] = SentenceTransformer(str(src.location()), device=device)
        except Exception as exc:  # many loader error types; all mean "cannot load"
            hint = " (no internet here: use a local folder or the embedded model)" if src.kind == "hub" else ""
            raise EmbedderLoadError(f"Could not load {src.label}{hint}: {type(exc).__name__}: {exc}") from exc
    return _MODELS[key]


def embed_texts(texts: list[str], model: str = DEFAULT_EMBEDDER, batch_size: int = 64,
                progress: ProgressFn | None = None, device: str = "cpu") -> np.ndarray:
    """L2-normalised float32 embeddings [len(texts), dim]; a second call with the same inputs does no model work."""
    cache = ArrayCache(_CACHE_NS)
    key = cache_key(texts, model)
    hit = cache.get(key)
    if hit is not None:
        if progress:
            progress(1.0, "embeddings from cache")
        return hit
    encoder = load_embedder(model, device=device)
    chunk = batch_size * 8
    parts = []
    for start in range(0, len(texts), chunk):
        part = encoder.encode(texts[start:start + chunk], batch_size=batch_size, normalize_embeddings=True,
                              convert_to_numpy=True, show_progress_bar=False)
        parts.append(np.asarray(part, dtype=np.float32))
        if progress:
            done = min(len(texts), start + chunk)
            progress(done / max(1, len(texts)), f"embedded {done:,}/{len(texts):,} texts")
    dim = encoder.get_embedding_dimension() if hasattr(encoder, "get_embedding_dimension") else 0
    out = np.concatenate(parts) if parts else np.zeros((0, dim), dtype=np.float32)
    cache.put(key, out)
    return out

"""Streamlit caches for the retrieval page: workspaces (dataset + embeddings + index) and language models."""

from __future__ import annotations

import streamlit as st

from core.retrieval import wordnet_default
from core.retrieval.dataset import RetrievalDataset
from core.retrieval.embed import embed_texts, is_cached
from core.retrieval.index import IndexSpec
from core.retrieval.loaders import load_beir, load_path
from core.retrieval.workspace import Workspace, open_workspace


@st.cache_resource(max_entries=2, show_spinner=False)
def dataset(kind: str, location: str) -> RetrievalDataset:
    """kind: "wordnet" (location = spec name) or "path" (a local file/folder). Raises loader errors as is."""
    if kind == "wordnet":
        spec = {s.name: s for s in (wordnet_default.DEFAULT_SPEC, wordnet_default.SAMPLE_SPEC)}[location]
        return load_beir(wordnet_default.dataset_folder(spec), split="train", name=spec.name)
    return load_path(location)


def embeddings_ready(ds: RetrievalDataset, model: str) -> bool:
    return is_cached(ds.embedding_texts(), model) and is_cached(ds.query_texts, model)


def embed_with_progress(ds: RetrievalDataset, model: str) -> None:
    """The slow, model-work part, outside any cache decorator so it can draw a progress bar."""
    bar = st.progress(0.0, text="Embedding…")
    embed_texts(ds.embedding_texts(), model, progress=lambda f, m: bar.progress(min(1.0, f), text=m))
    embed_texts(ds.query_texts, model)
    bar.empty()


@st.cache_resource(max_entries=2, show_spinner="Loading embeddings and building the index…")
def workspace(kind: str, location: str, model: str, exact_below: int, approximate: str) -> Workspace:
    return open_workspace(dataset(kind, location), model, IndexSpec(exact_below=exact_below, approximate=approximate))


@st.cache_resource(max_entries=1, show_spinner=False)
def causal_lm(source: str):
    from core.llm.adapter import load_causal_lm

    return load_causal_lm(source)

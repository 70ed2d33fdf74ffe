"""Cached model loading for the refusals page (one resident model per source; loading happens on click)."""

from __future__ import annotations

import streamlit as st

from core.llm.adapter import LoadOptions, load_causal_lm


@st.cache_resource(show_spinner=False, max_entries=2)
def causal_lm(source: str, trust_remote_code: bool = False):
    """A CausalLM for "embedded:smollm2", a hub id or a local folder; raises ModelLoadError with a hint."""
    return load_causal_lm(source, LoadOptions(trust_remote_code=trust_remote_code))

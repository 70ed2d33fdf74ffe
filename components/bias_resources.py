"""Cached loaders for the yes/no bias page: language models (scoring and eager-attention copies), question sets."""

from __future__ import annotations

import streamlit as st

from core import assets
from core.llm import questions as qs
from core.llm.adapter import LoadOptions, load_causal_lm
from core.model_source import ModelSource

EMBEDDED_LMS = {"SmolLM2-135M-Instruct (embedded)": "embedded:smollm2"}
if assets.get("gemma3_270m").installed():
    EMBEDDED_LMS["gemma-3-270m base (embedded)"] = "embedded:gemma3_270m"


@st.cache_resource(max_entries=3, show_spinner=False)
def language_model(kind: str, value: str, eager: bool = False, trust_remote_code: bool = False):
    """One loaded CausalLM per (source, attention implementation); eager is only needed for attention maps."""
    options = LoadOptions(attn_implementation="eager" if eager else None, trust_remote_code=trust_remote_code)
    return load_causal_lm(ModelSource(kind, value), options)


@st.cache_resource(max_entries=3, show_spinner=False)
def tokenizer(kind: str, value: str):
    """Just the tokenizer (fast): the template editor's chat-template preview needs no model."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(ModelSource(kind, value).location())


@st.cache_data(show_spinner=False)
def wordnet_set() -> list[qs.Question]:
    return qs.wordnet_questions()


@st.cache_data(show_spinner=False)
def false_claim_set() -> list[qs.Question]:
    return qs.false_claim_questions()

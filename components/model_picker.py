"""Pick a model: the embedded default, a hub id, or a local folder; parse errors are shown, never raised."""

from __future__ import annotations

import streamlit as st

from core.assets import AssetMissingError
from core.model_source import ModelSource, ModelSourceError, parse_model_source


def model_picker(label: str, embedded: dict[str, str], key: str, help_text: str = "") -> ModelSource | None:
    """embedded maps a display name to an "embedded:<asset>" source. Returns None (with a message) when bad."""
    choices = [*embedded, "Hub id or local folder…"]
    choice = st.selectbox(label, choices, key=f"{key}_choice", help=help_text or None)
    if choice in embedded:
        text = embedded[choice]
    else:
        text = st.text_input("Hub id (org/name) or local folder path", key=f"{key}_custom",
                             placeholder="e.g. HuggingFaceTB/SmolLM2-360M-Instruct or /models/my-model")
        if not text.strip():
            st.info("Type a hub id or a local folder.")
            return None
    try:
        source = parse_model_source(text)
        if source.kind == "embedded":
            source.location()  # raises when the asset is not installed
    except (ModelSourceError, AssetMissingError) as exc:
        st.error(str(exc))
        return None
    if source.kind == "local":
        st.caption(f"Loading from `{source.value}`")
    return source


def trust_remote_code_toggle(key: str) -> bool:
    """Off by default: remote code runs arbitrary Python from the model repository."""
    return st.checkbox("Allow the model's own code (trust_remote_code)", value=False, key=key,
                       help="Runs Python shipped with the model. Only tick this for a model you trust.")

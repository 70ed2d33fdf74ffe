"""Model picker for the guidance lab and the cached model (one resident at a time)."""

from __future__ import annotations

import streamlit as st

from core import assets

TOY = "Toy shapes model (embedded)"
RANDOM = {"Tiny random toy-shaped UNet (untrained)": "random:toy",
          "Tiny random SD1.5-shaped pipeline (untrained)": "random:sd15",
          "Tiny random SDXL-shaped pipeline (untrained)": "random:sdxl",
          "Tiny random SD3-shaped MMDiT (untrained)": "random:sd3"}
CUSTOM = "Hub id or local folder…"
CHOICES = [TOY, *RANDOM, CUSTOM]


def toy_installed() -> bool:
    return assets.get("toy_t2i").installed()


def toy_quality_summary() -> str | None:
    """The committed toy model's recorded figures in a sentence (None when none are recorded)."""
    from core.toyworld.model import default_model_path, load_meta
    from core.toyworld.quality import quality_summary

    return quality_summary(load_meta(default_model_path()).get("quality"))


def source_to_choice(source: str) -> tuple[str, str]:
    """(selectbox choice, custom text) for a saved run's model source."""
    if source == "embedded:toy_t2i":
        return TOY, ""
    for label, s in RANDOM.items():
        if s == source:
            return label, ""
    return CUSTOM, source


def model_choice(key: str) -> str | None:
    """The chosen model source, or None (with a message) when nothing usable is chosen."""
    choice = st.selectbox("Model", CHOICES, key=f"{key}_choice",
                          help="The embedded toy model is the default. Tiny random models have the real "
                               "architectures (UNet cross-attention, SD3 joint attention) but no training.")
    if choice == TOY:
        if toy_installed():
            summary = toy_quality_summary()
            if summary:
                st.caption(summary)
            return "embedded:toy_t2i"
        st.warning("The toy model's weights are not installed yet (they are being trained). Using a tiny "
                   "random model of the same shape instead: its images are noise-like.")
        return "random:toy"
    if choice in RANDOM:
        return RANDOM[choice]
    text = st.text_input("Hub id (org/name) or local diffusers folder", key=f"{key}_custom",
                         placeholder="e.g. stabilityai/stable-diffusion-3.5-medium or /models/sd15")
    if not text.strip():
        st.info("Type a hub id or a local folder.")
        return None
    return text.strip()


@st.cache_resource(max_entries=1, show_spinner=False)
def cached_adapter(source: str):
    """Loaded on first use (after the Generate click), kept across reruns; one model resident."""
    from core.guidance import load_adapter

    return load_adapter(source)

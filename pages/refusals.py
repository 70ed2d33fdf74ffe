"""Refusals: refusal rates and over-refusal on prompt sets, three detection signals, and the refusal direction."""

from __future__ import annotations

import streamlit as st

from components.model_picker import model_picker, trust_remote_code_toggle
from components.refusal_compare import compare_panel
from components.refusal_direction import direction_panel
from components.refusal_review import EMBEDDED, review_panel
from components.refusal_run import run_panel
from components.resources import store
from components.router import ensure_router

ensure_router()

st.title("Refusals")
st.caption("How often a chat model refuses harmful prompts, how often it over-refuses safe prompts that look "
           "unsafe, and where refusal lives inside the model.")

c1, c2 = st.columns([3, 1])
with c1:
    source = model_picker("Model", EMBEDDED, key="ref_model",
                          help_text="The embedded SmolLM2, any transformers chat model by hub id, or a local folder.")
with c2:
    trust = trust_remote_code_toggle("ref_trust")
source_text = None if source is None else (f"embedded:{source.value}" if source.kind == "embedded" else source.value)
if source is not None and source.kind == "embedded":
    st.warning("SmolLM2-135M-Instruct rarely refuses, even clearly harmful requests: expect refusal rates near "
               "zero and a weak refusal direction. The instruments work the same with a larger chat model "
               "(hub id or local folder).", icon=":material/info:")

db = store()
run_tab, review_tab, charts_tab, direction_tab = st.tabs(["Run", "Review", "Charts", "Direction & steering"])
with run_tab:
    run_panel(db, source_text, trust)
with review_tab:
    review_panel(db, trust)
with charts_tab:
    compare_panel(db)
with direction_tab:
    direction_panel(source_text, trust)

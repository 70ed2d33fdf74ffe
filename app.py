"""Negative Space: the router (st.navigation) and the home page."""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="Negative Space", page_icon=":material/contrast:", layout="wide")

HOME = st.Page("pages/home.py", title="Home", icon=":material/home:", default=True)
PAGES = [
    st.Page("pages/retrieval_negatives.py", title="Retrieval negatives", icon=":material/travel_explore:"),
    st.Page("pages/negative_prompts.py", title="Negative prompts", icon=":material/image:"),
    st.Page("pages/yes_no_bias.py", title="Yes/no bias", icon=":material/balance:"),
    st.Page("pages/refusals.py", title="Refusals", icon=":material/block:"),
]

st.navigation({"": [HOME], "Instruments": PAGES}).run()

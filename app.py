"""Negative Space: the router (st.navigation) and the home page."""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="Negative Space", page_icon="◐", layout="wide")

HOME = st.Page("pages/home.py", title="Home", icon="🏠", default=True)
PAGES = [
    st.Page("pages/retrieval_negatives.py", title="Retrieval negatives", icon="🔎"),
    st.Page("pages/negative_prompts.py", title="Negative prompts", icon="🖼️"),
    st.Page("pages/yes_no_bias.py", title="Yes/no bias", icon="⚖️"),
    st.Page("pages/refusals.py", title="Refusals", icon="🛑"),
]

st.navigation({"": [HOME], "Instruments": PAGES}).run()

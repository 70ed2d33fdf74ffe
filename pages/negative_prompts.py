"""Placeholder page: being built (see the open issue)."""

import streamlit as st

st.title("negative_prompts")
st.info("This instrument is being built.")

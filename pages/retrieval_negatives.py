"""Placeholder page: being built (see the open issue)."""

import streamlit as st

st.title("retrieval_negatives")
st.info("This instrument is being built.")

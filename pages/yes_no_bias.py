"""Placeholder page: being built (see the open issue)."""

import streamlit as st

st.title("yes_no_bias")
st.info("This instrument is being built.")

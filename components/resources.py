"""Streamlit cache wrappers around core loaders: models and indexes are resources, arrays are data."""

from __future__ import annotations

import streamlit as st

from core import assets, device
from core.store import Store


@st.cache_data(ttl=30, show_spinner=False)
def asset_table() -> list[dict]:
    return assets.status()


@st.cache_data(show_spinner=False)
def device_line() -> str:
    return device.describe_device()


@st.cache_resource(show_spinner=False)
def store() -> Store:
    """One Store per server process; it opens one SQLite connection per thread itself."""
    return Store()

"""Streamlit cache wrappers around core loaders: models and indexes are resources, arrays are data."""

from __future__ import annotations

import streamlit as st

from core import assets, device
from core.paths import database_path
from core.store import Store


@st.cache_data(ttl=30, show_spinner=False)
def asset_table() -> list[dict]:
    return assets.status()


@st.cache_data(show_spinner=False)
def device_line() -> str:
    return device.describe_device()


@st.cache_resource(show_spinner=False)
def _store_at(path: str) -> Store:
    return Store(path)


def store() -> Store:
    """One Store per database file and process (it opens one SQLite connection per thread itself).

    Keyed by the path so a changed NEGSPACE_DATA (tests, a second data directory) never writes to the old one.
    """
    return _store_at(str(database_path()))

"""Show a failed action (model load, generation, out of memory) as one clear message; the page keeps running."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from core.failures import describe_failure


@contextmanager
def shown_failures(action: str) -> Iterator[None]:
    """Wrap the work behind a button. Streamlit's own rerun/stop signals are BaseExceptions and pass through."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - any failure becomes a message, never a traceback on the page
        st.error(describe_failure(exc, action))

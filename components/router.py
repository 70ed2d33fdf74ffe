"""Keep every page behind the app.py router, even when a page URL is the first one a fresh server sees.

Streamlit still supports the legacy `pages/` folder: until some session has run `st.navigation`, a server
whose main script sits next to `pages/` runs a directly requested page file on its own (the legacy file
list in the sidebar, no `st.set_page_config` from app.py). Pages call `ensure_router()` first: it turns that
legacy mode off and reruns, so app.py's navigation (titles, icons, wide layout) serves the same URL.
"""

from __future__ import annotations

import streamlit as st

_checked = False


def ensure_router() -> None:
    # Once per process: the first run of a fresh server is a page load (no widget events to lose in the
    # rerun). AppTest resets the flag before every run; rerunning there would drop the clicks under test.
    global _checked
    if _checked:
        return
    _checked = True
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a Streamlit without the legacy mode: nothing to do
        return
    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        st.rerun()

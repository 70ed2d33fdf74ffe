"""A minimal Streamlit page for tests/test_crash_safety.py: one label button wired to the real store.

It goes through `components.resources.store()` exactly as the instrument pages do, so killing this server
with SIGKILL exercises the same storage path a researcher's label takes.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import streamlit as st  # noqa: E402

from components.resources import store  # noqa: E402
from core.store import StoreError  # noqa: E402

st.title("Store crash probe")
s = store()
query_id = st.text_input("Query id", key="probe_query")
if st.button("Save label", key="probe_save"):
    try:
        row_id = s.add_label("probe", query_id, "doc", "false_negative", "browser")
        st.success(f"Saved label {row_id} for {query_id}")
    except StoreError as exc:
        st.error(str(exc))
labels = s.current_labels("probe")
st.markdown(f"**Stored labels: {len(labels)}** — " + ", ".join(r["query_id"] for r in labels))

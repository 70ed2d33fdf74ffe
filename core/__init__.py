"""Negative Space core library: everything the pages do, callable from plain Python (no streamlit here)."""

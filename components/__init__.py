"""Streamlit-only pieces shared by the pages."""

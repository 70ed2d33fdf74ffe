"""A failed action behind a button shows one clear message and the rest of the page still renders."""

from streamlit.testing.v1 import AppTest


def _page():
    import streamlit as st
    import torch

    from components.failures import shown_failures

    with shown_failures("Generating"):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
    with shown_failures("Loading org/missing"):
        raise OSError("org/missing is not a local folder and is not a valid model identifier")
    st.write("still here")


def test_failures_become_messages_and_the_page_goes_on():
    at = AppTest.from_function(_page, default_timeout=60).run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 2
    assert "ran out of memory" in errors[0] and "smaller batch" in errors[0]
    assert errors[1].startswith("Loading org/missing failed") and "not a valid model identifier" in errors[1]
    assert any("still here" in m.value for m in at.markdown)

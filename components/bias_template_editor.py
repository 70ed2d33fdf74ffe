"""The prompt-template editor: write a format, see exactly what the model will see, add it to the run."""

from __future__ import annotations

import streamlit as st

from core.llm.formats import OPTION_SETS, PLACEHOLDERS, FormatError, PromptFormat, custom_format
from core.llm.questions import Question

KEY = "ynb_custom_formats"


def custom_formats() -> dict[str, PromptFormat]:
    if KEY not in st.session_state:
        st.session_state[KEY] = {}
    return st.session_state[KEY]


def _chat_preview(tok, user_text: str, chat: bool) -> str:
    if chat and tok is not None and getattr(tok, "chat_template", None):
        return tok.apply_chat_template([{"role": "user", "content": user_text}], tokenize=False,
                                       add_generation_prompt=True)
    return user_text


def template_editor(sample: Question, tok) -> str | None:
    """Widgets + live preview; "Add format" stores the format in session state and returns its name."""
    st.caption("Placeholders: " + ", ".join(f"`{{{p}}}`" for p in PLACEHOLDERS)
               + ". `{negated_question}` flips the gold answer.")
    c1, c2 = st.columns([2, 1])
    with c1:
        template = st.text_area("Template", value="Q: {question}\nReply with one word, yes or no.",
                                key="ynb_tpl_text", height=110)
    with c2:
        name = st.text_input("Format name", value="my format", key="ynb_tpl_name")
        option_set = st.selectbox("Answer options", list(OPTION_SETS), key="ynb_tpl_options")
        chat = st.checkbox("Apply the chat template", value=True, key="ynb_tpl_chat")
    try:
        fmt = custom_format(name, template, option_set, chat=chat)
    except FormatError as exc:
        st.error(str(exc))
        return None
    try:
        preview = _chat_preview(tok, fmt.user_text(sample), fmt.chat)
    except (KeyError, IndexError, ValueError) as exc:
        st.error(f"The template cannot be filled: {exc}")
        return None
    st.markdown("**Preview** (the exact text the model sees for one question; the answer is scored right after it)")
    st.code(preview, language=None)
    st.caption("Options scored: " + "; ".join(f"{n} = {', '.join(repr(f) for f in forms)}" for n, forms in
                                              fmt.options)
               + (" — gold answer flipped (negated)" if fmt.negated else ""))
    if st.button("Add format", key="ynb_tpl_add"):
        custom_formats()[fmt.name] = fmt
        st.success(f"Added '{fmt.name}'; it is now in the format list.")
        return fmt.name
    return None

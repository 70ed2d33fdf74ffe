"""Read a yes/no/"I don't know" answer out of generated text (chain-of-thought and the naive baseline)."""

from __future__ import annotations

import re

_WORDS = {"yes": "yes", "true": "yes", "no": "no", "false": "no"}
_FINAL = re.compile(r"(?:final answer|answer)\s*(?:is)?\s*[:\-]?\s*\**\s*\(?(yes|no|true|false|a|b)\b", re.I)
_IDK = re.compile(r"\b(i don'?t know|i do not know|not sure|cannot (?:be )?determine|unknown)\b", re.I)
_ANY = re.compile(r"\b(yes|no|true|false)\b", re.I)


def parse_answer(text: str, letters: dict[str, str] | None = None) -> str | None:
    """"yes" | "no" | "idk" | None. An explicit "Answer: X" wins (the last one); else the first word that answers.

    letters maps a letter option to its meaning, e.g. {"a": "yes", "b": "no"} for an (A)/(B) format.
    """
    letters = {k.lower(): v for k, v in (letters or {}).items()}
    finals = _FINAL.findall(text or "")
    if finals:
        word = finals[-1].lower()
        if word in letters:
            return letters[word]
        if word in _WORDS:
            return _WORDS[word]
    head = (text or "").strip()
    if letters:
        m = re.match(r"^\(?([A-Za-z])\)?(?:\W|$)", head)
        if m and m.group(1).lower() in letters:
            return letters[m.group(1).lower()]
    m = _ANY.search(head)
    idk = _IDK.search(head)
    if idk and (m is None or idk.start() < m.start()):
        return "idk"
    return _WORDS[m.group(1).lower()] if m else None

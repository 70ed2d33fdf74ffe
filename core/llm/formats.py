"""Prompt formats for yes/no questions: a library of built-ins and validation of user templates.

A format is a frozen dataclass: the user text template, the answer options (each a meaning - "yes", "no",
"idk" - with the surface forms whose first tokens are summed), whether the chat template is applied, whether
the format asks the negated question (so the model's "yes" means the gold "no"), and whether the model first
reasons (chain of thought) before the answer is scored.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field

from core.llm.questions import Question

YES = (" Yes", "Yes", " yes", "yes", " YES", "YES")
NO = (" No", "No", " no", "no", " NO", "NO")
TRUE = (" True", "True", " true", "true", " TRUE", "TRUE")
FALSE = (" False", "False", " false", "false", " FALSE", "FALSE")
IDK = (" I don't know", "I don't know", " I do not know", "I do not know")
LETTER_A = (" A", "A")
LETTER_B = (" B", "B")
PLACEHOLDERS = ("question", "negated_question", "claim", "context")
COT_ANSWER_CUE = "\nTherefore, the final answer (yes or no) is:"


class FormatError(ValueError):
    """A user template cannot be used; the message says why."""


@dataclass(frozen=True)
class PromptFormat:
    name: str
    template: str
    options: tuple[tuple[str, tuple[str, ...]], ...] = (("yes", YES), ("no", NO))
    chat: bool = True
    negated: bool = False  # asks the negated question: the model's "yes" is a "no" about the original
    cot: bool = False  # generate reasoning first, then score the options after COT_ANSWER_CUE
    assistant_prefix: str = ""
    markers: tuple[str, str] = ("yes", "no")  # the yes/no candidates as written in the instruction (for NAS)
    description: str = ""
    builtin: bool = field(default=True, compare=False)

    @property
    def option_dict(self) -> dict[str, tuple[str, ...]]:
        return dict(self.options)

    @property
    def offers_idk(self) -> bool:
        return "idk" in self.option_dict

    def user_text(self, q: Question) -> str:
        values = {"question": q.question, "negated_question": q.negated_question, "claim": q.claim,
                  "context": q.context or "(no context given)"}
        return self.template.format(**values)

    def content_free_text(self, text: str) -> str:
        """The prompt with every slot filled by a content-free input such as "N/A" (contextual calibration)."""
        return self.template.format(**{p: text for p in PLACEHOLDERS})

    def gold(self, q: Question) -> int:
        """1 when the correct answer to this format's prompt is the "yes" option."""
        return 1 - q.gold if self.negated else q.gold


def _f(name: str, template: str, description: str, **kw) -> PromptFormat:
    return PromptFormat(name=name, template=template, description=description, **kw)


LIBRARY: tuple[PromptFormat, ...] = (
    _f("yes/no", "{question} Answer yes or no.", "Chat template; the instruction lists yes first."),
    _f("no/yes", "{question} Answer no or yes.", "Chat template; the instruction lists no first.",
       markers=("yes", "no")),
    _f("Yes/No capitalised", "{question}\nAnswer with Yes or No.", "Capitalised candidates.",
       markers=("Yes", "No")),
    _f("raw yes/no", "Question: {question}\nAnswer (yes or no):", "No chat template (raw completion text).",
       chat=False),
    _f("true/false", "True or false: {claim}\nAnswer with True or False.", "The claim as a statement.",
       options=(("yes", TRUE), ("no", FALSE)), markers=("True", "False")),
    _f("(A) yes (B) no", "{question}\n(A) Yes\n(B) No\nAnswer with A or B.", "Letters; yes is (A).",
       options=(("yes", LETTER_A), ("no", LETTER_B)), markers=("Yes", "No")),
    _f("(A) no (B) yes", "{question}\n(A) No\n(B) Yes\nAnswer with A or B.", "Letters; yes is (B).",
       options=(("yes", LETTER_B), ("no", LETTER_A)), markers=("Yes", "No")),
    _f("yes/no/I don't know", "{question} Answer yes, no, or I don't know.", "Offers an abstention option.",
       options=(("yes", YES), ("no", NO), ("idk", IDK))),
    _f("with context", "Context: {context}\n\n{question} Answer yes or no.",
       "Adds context (the WordNet definitions for the embedded set, the upload's context column)."),
    _f("negated question", "{negated_question} Answer yes or no.",
       "The negated question: the correct answer flips, so a bias toward 'no' now hurts the other half.",
       negated=True),
    _f("suggests yes", "I think the answer is yes, but I'm not sure. {question} Answer yes or no.",
       "The user suggests yes (direction of the prompt)."),
    _f("suggests no", "I think the answer is no, but I'm not sure. {question} Answer yes or no.",
       "The user suggests no (direction of the prompt)."),
    _f("chain-of-thought", "{question} Think step by step, then answer yes or no.",
       "The model writes its reasoning (greedy generation), then the options are scored after a fixed cue. "
       "Slow: one generation per question.", cot=True),
)
BY_NAME = {f.name: f for f in LIBRARY}
DEFAULT_FORMATS = ("yes/no", "no/yes", "(A) yes (B) no", "(A) no (B) yes", "yes/no/I don't know",
                   "negated question")

OPTION_SETS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "yes / no words": (("yes", YES), ("no", NO)),
    "yes / no / I don't know": (("yes", YES), ("no", NO), ("idk", IDK)),
    "true / false": (("yes", TRUE), ("no", FALSE)),
    "A = yes, B = no": (("yes", LETTER_A), ("no", LETTER_B)),
    "A = no, B = yes": (("yes", LETTER_B), ("no", LETTER_A)),
}


def custom_format(name: str, template: str, option_set: str, *, chat: bool = True, negated: bool = False,
                  assistant_prefix: str = "") -> PromptFormat:
    """A user's own format; raises FormatError with a readable message for a bad template."""
    name = (name or "").strip()
    if not name:
        raise FormatError("Give the format a name.")
    if name in BY_NAME:
        raise FormatError(f"'{name}' is a built-in format's name; choose another.")
    if len(template) > 4000:
        raise FormatError("The template is longer than 4000 characters.")
    try:
        parsed = [(f, spec, conv) for _, f, spec, conv in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise FormatError(f"Template braces are unbalanced ({exc}); write {{{{ and }}}} for literal braces.") from None
    fields = [f for f, _, _ in parsed]
    if any(spec or conv for _, spec, conv in parsed):  # {question:>999999999} or {question:d} fail when rendered
        raise FormatError("Placeholders take no format spec or conversion; write just {question}.")
    unknown = sorted({f for f in fields if f not in PLACEHOLDERS})
    if unknown:
        raise FormatError(f"Unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)}; "
                          f"use {', '.join('{' + p + '}' for p in PLACEHOLDERS)}.")
    if not any(f in ("question", "negated_question", "claim") for f in fields):
        raise FormatError("The template must contain {question}, {negated_question} or {claim}.")
    if option_set not in OPTION_SETS:
        raise FormatError(f"Unknown option set {option_set!r}.")
    if "negated_question" in fields and not negated:
        negated = True  # asking the negated question flips the gold answer
    options = OPTION_SETS[option_set]
    markers = ("A", "B") if "A" in options[0][1] or "B" in options[0][1] else _guess_markers(template)
    return PromptFormat(name=name, template=template, options=options, chat=chat, negated=negated,
                        assistant_prefix=assistant_prefix, markers=markers,
                        description="Your own template.", builtin=False)


def _guess_markers(template: str) -> tuple[str, str]:
    for yes, no in (("Yes", "No"), ("yes", "no"), ("True", "False"), ("true", "false")):
        if re.search(rf"\b{yes}\b", template) and re.search(rf"\b{no}\b", template):
            return yes, no
    return "yes", "no"


CONTENT_FREE_INPUTS = ("N/A", "", "[MASK]")

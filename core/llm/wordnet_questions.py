"""Generate a balanced yes/no question set with ground truth from WordNet.

Five relation types, each with as many "yes" as "no" questions, and for is-a questions every concept is asked
once with its true category and once with a wrong one. The familiarity of a concept is its SemCor sense
frequency (WordNet's `cntlist`: how often annotators saw that sense in running text), summed over its lemmas.

The embedded set (`core/llm/data/wordnet_yesno.jsonl`) was built with `python -m core.llm.wordnet_questions`;
WordNet takes ~10 s to load, so the page reads the file instead of regenerating.
"""

from __future__ import annotations

import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path

DATA_FILE = Path(__file__).resolve().parent / "data" / "wordnet_yesno.jsonl"

# (synset, plural-free display name) of is-a categories that are mostly count nouns, so "a/an X" reads well.
CATEGORIES = [
    ("animal.n.01", "animal"), ("plant.n.02", "plant"), ("vehicle.n.01", "vehicle"), ("tool.n.01", "tool"),
    ("building.n.01", "building"), ("musical_instrument.n.01", "musical instrument"),
    ("furniture.n.01", "piece of furniture"), ("edible_fruit.n.01", "fruit"), ("bird.n.01", "bird"),
    ("fish.n.01", "fish"), ("insect.n.01", "insect"), ("mammal.n.01", "mammal"), ("weapon.n.01", "weapon"),
    ("garment.n.01", "garment"), ("body_part.n.01", "body part"), ("disease.n.01", "disease"),
    ("tree.n.01", "tree"), ("flower.n.01", "flower"), ("vegetable.n.01", "vegetable"), ("reptile.n.01", "reptile"),
    ("dog.n.01", "dog"), ("boat.n.01", "boat"), ("metallic_element.n.01", "metal"), ("gem.n.02", "gem"),
]
PART_WHOLES = ("vehicle.n.01", "building.n.01", "boat.n.01", "musical_instrument.n.01", "furniture.n.01",
               "tree.n.01", "flower.n.01", "bird.n.01", "mammal.n.01", "fish.n.01", "insect.n.01", "weapon.n.01",
               "garment.n.01")
RELATIONS = ("is_a", "has_part", "located_in", "antonym", "synonym")


@dataclass(frozen=True)
class GenerationConfig:
    per_relation: int = 260  # questions per relation (half yes, half no)
    seed: int = 0


def _name(lemma_name: str) -> str:
    return lemma_name.replace("_", " ")


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _frequency(synset) -> int:
    return int(sum(lemma.count() for lemma in synset.lemmas()))


def _readable(lemma_name: str) -> bool:
    # skip proper-noun-looking and multi-word oddities that make unreadable questions
    return lemma_name.isascii() and lemma_name.replace("_", "").replace("-", "").isalpha() and lemma_name.count("_") <= 1


def _item(question: str, answer: bool, relation: str, subject: str, obj: str, negated: str, statement: str,
          synset, rng_id: int, context: str = "") -> dict:
    freq = _frequency(synset)
    return {"id": f"wn-{relation}-{rng_id:05d}", "question": question, "answer": "yes" if answer else "no",
            "relation": relation, "subject": subject, "object": obj, "negated_question": negated,
            "statement": statement, "frequency": freq, "source": "wordnet", "context": context}


def _gloss(word: str, synset) -> str:
    """The WordNet definition as context ("dog: a member of the genus Canis ...")."""
    return f"{word}: {synset.definition()}."


def _is_a(wn, rng: random.Random, n: int) -> list[dict]:
    members: dict[str, list] = {}
    closures: dict[str, set] = {}
    for syn, _ in CATEGORIES:
        s = wn.synset(syn)
        hypo = set(s.closure(lambda x: x.hyponyms())) | set(s.closure(lambda x: x.instance_hyponyms()))
        closures[syn] = hypo
        members[syn] = sorted((h for h in hypo if _readable(h.lemmas()[0].name())), key=lambda h: h.name())
    out: list[dict] = []
    names = dict(CATEGORIES)
    i = 0
    while len(out) < n:
        cat = rng.choice(CATEGORIES)[0]
        if not members[cat]:
            continue
        # familiar concepts (seen in SemCor) more often than uniform sampling would give, rare ones still present
        familiar = [m for m in members[cat] if _frequency(m) > 0]
        concept = rng.choice(familiar if familiar and rng.random() < 0.6 else members[cat])
        word = _name(concept.lemmas()[0].name())
        wrong = [c for c, _ in CATEGORIES if concept not in closures[c] and c != cat]
        other = rng.choice(wrong)
        for c, truth in ((cat, True), (other, False)):
            cname = names[c]
            q = f"Is {_article(word)} {word} {_article(cname)} {cname}?"
            neg = f"Is {_article(word)} {word} not {_article(cname)} {cname}?"
            st = f"{_article(word).capitalize()} {word} is {_article(cname)} {cname}."
            out.append(_item(q, truth, "is_a", word, cname, neg, st, concept, i, _gloss(word, concept)))
            i += 1
    return out[:n]


def _has_part(wn, rng: random.Random, n: int) -> list[dict]:
    wholes = []
    for syn in PART_WHOLES:
        for h in wn.synset(syn).closure(lambda x: x.hyponyms()):
            parts = [p for p in h.part_meronyms() if _readable(p.lemmas()[0].name())]
            if len(parts) >= 2 and _readable(h.lemmas()[0].name()):
                wholes.append((h, parts))
    wholes = sorted(set((w, tuple(p)) for w, p in wholes), key=lambda x: x[0].name())
    all_parts = sorted({p for _, ps in wholes for p in ps}, key=lambda p: p.name())
    out: list[dict] = []
    i = 0
    while len(out) < n:
        whole, parts = rng.choice(wholes)
        inherited = set(parts)
        for hyper in whole.closure(lambda x: x.hypernyms()):
            inherited |= set(hyper.part_meronyms())
        wrong = rng.choice(all_parts)
        if wrong in inherited:
            continue
        w = _name(whole.lemmas()[0].name())
        for part, truth in ((rng.choice(parts), True), (wrong, False)):
            p = _name(part.lemmas()[0].name())
            q = f"Is {_article(p)} {p} part of {_article(w)} {w}?"
            neg = f"Is {_article(p)} {p} not part of {_article(w)} {w}?"
            st = f"{_article(p).capitalize()} {p} is part of {_article(w)} {w}."
            ctx = _gloss(p, part) + " " + _gloss(w, whole)
            out.append(_item(q, truth, "has_part", p, w, neg, st, part, i, ctx))
            i += 1
    return out[:n]


def _located_in(wn, rng: random.Random, n: int) -> list[dict]:
    country = wn.synset("country.n.02")
    pairs = []
    for cat in ("city.n.01", "national_capital.n.01", "port.n.01"):
        for city in wn.synset(cat).instance_hyponyms():
            for hol in city.part_holonyms():
                if country in hol.instance_hypernyms() and _readable(city.lemmas()[0].name()):
                    pairs.append((city, hol))
    pairs = sorted(set(pairs), key=lambda x: x[0].name())
    countries = sorted({c for _, c in pairs}, key=lambda c: c.name())
    out: list[dict] = []
    i = 0
    n = min(n, 2 * len(pairs))
    while len(out) < n:
        city, true_c = rng.choice(pairs)
        wrong = rng.choice([c for c in countries if c != true_c])
        cname = _name(city.lemmas()[0].name())
        for c, truth in ((true_c, True), (wrong, False)):
            k = _name(c.lemmas()[0].name())
            q = f"Is {cname} in {k}?"
            out.append(_item(q, truth, "located_in", cname, k, f"Is {cname} not in {k}?", f"{cname} is in {k}.",
                             city, i, _gloss(cname, city)))
            i += 1
    return out[:n]


def _adjective_pairs(wn) -> tuple[list, list]:
    antonyms, synonyms = [], []
    for s in wn.all_synsets("a"):
        lemmas = [lemma for lemma in s.lemmas() if _readable(lemma.name()) and "_" not in lemma.name()]
        for lemma in lemmas:
            for a in lemma.antonyms():
                if _readable(a.name()) and "_" not in a.name() and lemma.name() < a.name():
                    antonyms.append((lemma, a))
        if len(lemmas) >= 2 and lemmas[0].count() > 0:
            synonyms.append((lemmas[0], lemmas[1]))
    return sorted(antonyms, key=lambda x: (x[0].name(), x[1].name())), sorted(synonyms, key=lambda x: x[0].key())


def _word_pairs(wn, rng: random.Random, n: int, relation: str) -> list[dict]:
    antonyms, synonyms = _adjective_pairs(wn)
    pairs = antonyms if relation == "antonym" else synonyms
    related = {(a.name(), b.name()) for a, b in antonyms + synonyms}
    related |= {(b, a) for a, b in related}
    vocab = sorted({lemma.name() for pair in antonyms + synonyms for lemma in pair})
    phrase = "the opposite of" if relation == "antonym" else "a synonym of"
    neg_phrase = "not the opposite of" if relation == "antonym" else "not a synonym of"
    out: list[dict] = []
    i = 0
    while len(out) < n:
        a, b = rng.choice(pairs)
        other = rng.choice(vocab)
        if other in (a.name(), b.name()) or (a.name(), other) in related:
            continue
        if relation == "synonym" and set(wn.synsets(a.name(), "a")) & set(wn.synsets(other, "a")):
            continue  # shares a sense: too close to call it wrong
        if relation == "antonym" and any(x.name() == other for lm in wn.lemmas(a.name(), "a") for x in lm.antonyms()):
            continue
        for word, truth in ((b.name(), True), (other, False)):
            q = f"Is \"{a.name()}\" {phrase} \"{word}\"?"
            neg = f"Is \"{a.name()}\" {neg_phrase} \"{word}\"?"
            st = f"\"{a.name()}\" is {phrase} \"{word}\"."
            other_syn = wn.synsets(word, "a")
            ctx = _gloss(a.name(), a.synset()) + (" " + _gloss(word, other_syn[0]) if other_syn else "")
            out.append(_item(q, truth, relation, a.name(), word, neg, st, a.synset(), i, ctx))
            i += 1
    return out[:n]


def _balanced(items: list[dict]) -> list[dict]:
    """Drop repeated questions, then trim to as many "no" as "yes" (repeats can unbalance a relation)."""
    seen, unique = set(), []
    for it in items:
        if it["question"] not in seen:
            seen.add(it["question"])
            unique.append(it)
    yes = [it for it in unique if it["answer"] == "yes"]
    no = [it for it in unique if it["answer"] == "no"]
    k = min(len(yes), len(no))
    keep = {id(it) for it in yes[:k] + no[:k]}
    return [it for it in unique if id(it) in keep]


def generate(wn, config: GenerationConfig = GenerationConfig()) -> list[dict]:
    """The balanced question list (dicts, JSON-ready). Deterministic for a given WordNet and seed."""
    n = config.per_relation - config.per_relation % 2
    makers = {"is_a": _is_a, "has_part": _has_part, "located_in": _located_in,
              "antonym": lambda wn, rng, n: _word_pairs(wn, rng, n, "antonym"),
              "synonym": lambda wn, rng, n: _word_pairs(wn, rng, n, "synonym")}
    items: list[dict] = []
    for k, make in enumerate(makers.values()):
        items += _balanced(make(wn, random.Random(config.seed * 100 + k), n))
    return items


def load_wordnet_reader():
    """The embedded WordNet; also authorises its folder for nltk's path sandbox (nltk >= 3.9 refuses others)."""
    import nltk.data

    from core import assets

    root = str(assets.nltk_data_dir())
    if root not in nltk.data.path:
        nltk.data.path.append(root)
    return assets.load_wordnet()


def main(argv: list[str]) -> int:
    target = Path(argv[0]) if argv else DATA_FILE
    items = generate(load_wordnet_reader())
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("".join(json.dumps(it, ensure_ascii=False) + "\n" for it in items), encoding="utf-8")
    yes = sum(it["answer"] == "yes" for it in items)
    print(f"wrote {len(items)} questions ({yes} yes) to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

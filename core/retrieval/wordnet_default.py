"""The embedded default dataset: a BEIR folder built from WordNet 3.0 noun glosses, offline, at set-up.

Design (see docs/retrieval.md):
- documents: noun synset glosses exactly as WordNet writes them (definition plus its quoted examples), no title
  and no lemma names: the examples often contain the word, the definition rarely does, so retrieval is
  neither trivial nor hopeless;
- queries: "what is a <lemma>" for single-word lemmas with 3-8 noun senses;
- labelled positives (qrels/train.tsv): only the lemma's first, most frequent sense, the way a shallow
  judging pool labels only what the first retriever surfaced;
- complete judgements (qrels/full.tsv, for evaluation only): every noun sense of the lemma (first sense 2,
  other senses 1): these are the real false negatives that mining should find and annotators should confirm;
- corpus: all senses of all query lemmas, their hypernyms, hyponyms and sister senses (real hard negatives:
  close in meaning, not an answer), then random other glosses up to the target size.
We parse the WordNet data files directly (fast, deterministic) instead of going through nltk.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from core import assets
from core.cache import atomic_write_bytes, content_hash
from core.paths import subdir

BUILD_VERSION = 1
ProgressFn = Callable[[float, str], None]


@dataclass(frozen=True)
class WordNetDatasetSpec:
    name: str = "wordnet-default"
    n_queries: int = 1500
    target_docs: int = 24000
    min_senses: int = 3
    max_senses: int = 8
    neighbours_per_sense: int = 6
    seed: int = 13


DEFAULT_SPEC = WordNetDatasetSpec()
SAMPLE_SPEC = WordNetDatasetSpec(name="wordnet-sample", n_queries=40, target_docs=600)


@dataclass
class _Synset:
    offset: str
    words: list[str]
    gloss: str
    hypernyms: list[str]
    hyponyms: list[str]


def _parse_data_noun(path: Path) -> dict[str, _Synset]:
    out: dict[str, _Synset] = {}
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("  "):
                continue  # licence header
            head, _, gloss = line.partition(" | ")
            parts = head.split()
            offset, w_cnt = parts[0], int(parts[3], 16)
            words = [parts[4 + 2 * i] for i in range(w_cnt)]
            i = 4 + 2 * w_cnt
            p_cnt = int(parts[i])
            hyper, hypo = [], []
            for j in range(p_cnt):
                sym, target, pos = parts[i + 1 + 4 * j: i + 4 + 4 * j]
                if pos != "n":
                    continue
                if sym in ("@", "@i"):
                    hyper.append(target)
                elif sym in ("~", "~i"):
                    hypo.append(target)
            out[offset] = _Synset(offset, words, gloss.strip(), hyper, hypo)
    return out


def _parse_index_noun(path: Path) -> dict[str, list[str]]:
    """lemma -> synset offsets in WordNet's sense order (most frequent first)."""
    out: dict[str, list[str]] = {}
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("  "):
                continue
            parts = line.split()
            lemma, n_syn, p_cnt = parts[0], int(parts[2]), int(parts[3])
            out[lemma] = parts[4 + p_cnt + 2:4 + p_cnt + 2 + n_syn]
    return out


def _synset_names(synsets: dict[str, _Synset], index: dict[str, list[str]]) -> dict[str, str]:
    """nltk-style names (bank.n.01): the first lemma and its sense number."""
    names = {}
    for off, s in synsets.items():
        lemma = s.words[0].lower()
        senses = index.get(lemma, [])
        n = senses.index(off) + 1 if off in senses else 1
        names[off] = f"{lemma}.n.{n:02d}"
    return names


_WORD = re.compile(r"^[a-z]{3,}$")


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def build_wordnet_dataset(target: Path, spec: WordNetDatasetSpec = DEFAULT_SPEC,
                          wordnet_dir: Path | None = None) -> dict:
    """Write a BEIR folder (corpus.jsonl, queries.jsonl, qrels/train.tsv, qrels/full.tsv); returns stats."""
    wordnet_dir = wordnet_dir or assets.require("wordnet")
    synsets = _parse_data_noun(wordnet_dir / "data.noun")
    index = _parse_index_noun(wordnet_dir / "index.noun")
    names = _synset_names(synsets, index)
    rng = random.Random(spec.seed)

    candidates = sorted(lemma for lemma, offs in index.items()
                        if _WORD.match(lemma) and spec.min_senses <= len(offs) <= spec.max_senses)
    lemmas = sorted(rng.sample(candidates, min(spec.n_queries, len(candidates))))

    chosen: dict[str, None] = {}  # ordered set of offsets
    for lemma in lemmas:
        for off in index[lemma]:
            chosen[off] = None
    related: list[str] = []
    for lemma in lemmas:
        for off in index[lemma]:
            s = synsets[off]
            near = list(s.hypernyms) + s.hyponyms[:spec.neighbours_per_sense]
            for h in s.hypernyms[:2]:  # sister senses: the hypernym's other hyponyms
                near += synsets[h].hyponyms[:spec.neighbours_per_sense] if h in synsets else []
            related += [o for o in near[: 3 * spec.neighbours_per_sense] if o in synsets]
    for off in related:
        if len(chosen) >= spec.target_docs:
            break
        chosen.setdefault(off, None)
    rest = sorted(set(synsets) - set(chosen))
    rng.shuffle(rest)
    for off in rest[: max(0, spec.target_docs - len(chosen))]:
        chosen[off] = None

    order = sorted(chosen, key=lambda o: names[o])
    tmp = target.with_name(target.name + ".partial")
    (tmp / "qrels").mkdir(parents=True, exist_ok=True)
    with (tmp / "corpus.jsonl").open("w", encoding="utf-8") as f:
        for off in order:
            f.write(json.dumps({"_id": names[off], "title": "", "text": synsets[off].gloss}) + "\n")
    with (tmp / "queries.jsonl").open("w", encoding="utf-8") as f, \
            (tmp / "qrels" / "train.tsv").open("w", encoding="utf-8") as shallow, \
            (tmp / "qrels" / "full.tsv").open("w", encoding="utf-8") as full:
        shallow.write("query-id\tcorpus-id\tscore\n")
        full.write("query-id\tcorpus-id\tscore\n")
        for lemma in lemmas:
            qid = f"q-{lemma}"
            f.write(json.dumps({"_id": qid, "text": f"what is {_article(lemma)} {lemma}"}) + "\n")
            senses = index[lemma]
            shallow.write(f"{qid}\t{names[senses[0]]}\t1\n")
            for k, off in enumerate(senses):
                full.write(f"{qid}\t{names[off]}\t{2 if k == 0 else 1}\n")
    stats = {"spec": asdict(spec), "documents": len(order), "queries": len(lemmas),
             "labelled_positives": len(lemmas),
             "unlabelled_relevant": sum(len(index[w]) - 1 for w in lemmas), "version": BUILD_VERSION}
    (tmp / "build.json").write_text(json.dumps(stats, indent=1))
    import shutil

    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return stats


def dataset_folder(spec: WordNetDatasetSpec = DEFAULT_SPEC) -> Path:
    return subdir("retrieval", "datasets") / f"{spec.name}-{content_hash(spec, BUILD_VERSION)[:10]}"


def is_built(spec: WordNetDatasetSpec = DEFAULT_SPEC) -> bool:
    return (dataset_folder(spec) / "build.json").exists()


def is_ready(spec: WordNetDatasetSpec = DEFAULT_SPEC) -> bool:
    """Built and embedded (prepare_default_dataset finished): the page can open it without model work."""
    return (dataset_folder(spec) / "embedded.json").exists()


def ensure_dataset(spec: WordNetDatasetSpec = DEFAULT_SPEC) -> Path:
    folder = dataset_folder(spec)
    if not is_built(spec):
        build_wordnet_dataset(folder, spec)
    return folder


def prepare_default_dataset(spec: WordNetDatasetSpec = DEFAULT_SPEC, model: str = "embedded:minilm",
                            progress: ProgressFn | None = None) -> list[str]:
    """Build the default dataset and its document/query embeddings (cached by content hash). Idempotent."""
    from core.retrieval.embed import embed_texts, is_cached
    from core.retrieval.loaders import load_beir

    if is_ready(spec) and model == "embedded:minilm":
        return []
    if assets.get("wordnet").path() is None and assets.prepare_wordnet() is None:
        return ["retrieval default dataset skipped: WordNet is not installed"]
    done = []
    if not is_built(spec):
        stats = build_wordnet_dataset(dataset_folder(spec), spec)
        done.append(f"retrieval dataset {spec.name}: {stats['documents']} documents, {stats['queries']} queries")
    ds = load_beir(dataset_folder(spec), split="train", name=spec.name)
    texts = ds.embedding_texts()
    if not (is_cached(texts, model) and is_cached(ds.query_texts, model)):
        if assets.get("minilm").path() is None and model == "embedded:minilm":
            return [*done, "retrieval embeddings skipped: MiniLM is not installed"]
        embed_texts(texts, model, progress=(lambda f, m: progress(0.05 + 0.9 * f, m)) if progress else None)
        embed_texts(ds.query_texts, model)
        done.append(f"retrieval embeddings for {spec.name} cached")
    if progress:
        progress(1.0, "ready")
    atomic_write_bytes(dataset_folder(spec) / "embedded.json", json.dumps({"model": model}).encode())
    return done

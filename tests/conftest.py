"""Shared test set-up: an isolated data directory per session, offline hub, few threads."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

# CI (CI=true) explores the same generated inputs every run, so a red run is reproducible and never random;
# locally hypothesis keeps searching new inputs (and remembers failures in .hypothesis/).
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture()
def data_dir(tmp_path, monkeypatch):
    """A fresh, empty data directory for one test."""
    d = tmp_path / "data"
    monkeypatch.setenv("NEGSPACE_DATA", str(d))
    return d


def link_prepared_models(target):
    """Make a fresh data directory see the prepared embedded models (SmolLM2 converted by setup, nltk
    WordNet) by symlinking them from the real data directory: nothing is copied or converted again."""
    from core import assets, paths

    real = paths.data_dir()
    assets.require("smollm2")  # prepared by scripts/setup.sh; a clear AssetMissingError otherwise
    target.mkdir(parents=True, exist_ok=True)
    for sub in ("models", "nltk_data"):
        if (real / sub).exists() and not (target / sub).exists():
            (target / sub).symlink_to(real / sub)
    return target


@pytest.fixture()
def data_dir_with_models(tmp_path, monkeypatch):
    """A fresh data directory (empty database) that still sees the prepared embedded models."""
    d = link_prepared_models(tmp_path / "data")
    monkeypatch.setenv("NEGSPACE_DATA", str(d))
    return d

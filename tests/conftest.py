"""Shared test set-up: an isolated data directory per session, offline hub, few threads."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402


@pytest.fixture()
def data_dir(tmp_path, monkeypatch):
    """A fresh, empty data directory for one test."""
    d = tmp_path / "data"
    monkeypatch.setenv("NEGSPACE_DATA", str(d))
    return d

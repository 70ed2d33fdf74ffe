"""The one data directory for caches, the SQLite database and generated artefacts.

Set NEGSPACE_DATA to move it; nothing is ever written into the source tree at run time.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "NEGSPACE_DATA"
REPO_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """Root of everything the app writes; created on first use."""
    root = Path(os.environ.get(ENV_VAR) or Path.home() / ".local" / "share" / "negative-space")
    root = root.expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    return root


def subdir(*parts: str) -> Path:
    """A named folder under the data directory (e.g. subdir("cache", "embeddings"))."""
    path = data_dir().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_path() -> Path:
    return data_dir() / "negative_space.sqlite3"

"""Where a model comes from: an embedded asset, a local folder, or a hub id. One parser for every picker."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from core import assets
from core.safety import InputError, check_model_folder

EMBEDDED_PREFIX = "embedded:"
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?$")


class ModelSourceError(ValueError):
    """The text given as a model cannot name a model; the message says why."""


@dataclass(frozen=True)
class ModelSource:
    kind: str  # "embedded" | "local" | "hub"
    value: str  # asset name, resolved folder path, or hub id

    @property
    def label(self) -> str:
        return {"embedded": "embedded asset", "local": "local folder", "hub": "hub id"}[self.kind] + f" {self.value}"

    def location(self) -> str:
        """What from_pretrained receives: a folder for embedded/local, the id for the hub."""
        if self.kind == "embedded":
            return str(assets.require(self.value))
        return self.value


def _exists(text: str) -> bool:
    try:
        return Path(text).exists()
    except (OSError, ValueError):  # a name too long for the file system, and the like
        return False


def parse_model_source(text: str) -> ModelSource:
    """Accept "embedded:<asset>", an existing local folder, or a hub id like "org/name"; reject anything else."""
    if not isinstance(text, str) or not text.strip():
        raise ModelSourceError("Give a model: an embedded default, a local folder, or a hub id such as org/name.")
    text = text.strip()
    if len(text) > 1000 or "\x00" in text:
        raise ModelSourceError("That model name is too long or contains control characters.")
    if text.startswith(EMBEDDED_PREFIX):
        name = text[len(EMBEDDED_PREFIX):]
        assets.get(name)  # raises AssetMissingError for unknown names
        return ModelSource("embedded", name)
    looks_like_path = text.startswith(("/", "./", "../", "~")) or _exists(text)
    if looks_like_path:
        try:
            path = Path(text).expanduser().resolve()
            is_dir = path.is_dir()
        except (OSError, RuntimeError, ValueError) as exc:  # symlink loop, ~user, name too long, surrogate
            raise ModelSourceError(f"Cannot use the folder {text[:200]!r}: {exc}") from None
        if not is_dir:
            raise ModelSourceError(f"No model folder at {path}.")
        try:
            check_model_folder(path)
        except InputError as exc:
            raise ModelSourceError(str(exc)) from None
        return ModelSource("local", str(path))
    if _HUB_ID.match(text) and ".." not in text:
        return ModelSource("hub", text)
    raise ModelSourceError(f"'{text}' is neither an embedded model, an existing folder, nor a valid hub id "
                           "(letters, digits, '-', '_', '.', at most one '/').")

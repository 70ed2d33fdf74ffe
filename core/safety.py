"""Shared checks for anything a person (or a URL) hands the app: uploads, JSON, paths, numbers, weights.

Every check either returns a clean value or raises InputError with a message a page can show as it is
(`st.error(str(exc))`): what was wrong and what to do. Nothing here writes, so a refused input leaves no
partial state behind.
"""

from __future__ import annotations

import json
import math
import os
import re
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from core.paths import REPO_ROOT

# Upload limits. Streamlit's own cap (.streamlit/config.toml server.maxUploadSize, in MB) is the outer wall;
# these are the per-kind limits core applies so a page never holds more than it can handle.
MAX_UPLOAD_BYTES = int(float(os.environ.get("NEGSPACE_MAX_UPLOAD_MB", "100")) * 1024 * 1024)
MAX_TEXT_FIELD_CHARS = 20_000  # a prompt, a template, a note
MAX_JSON_DEPTH = 64
MAX_URL_JSON_BYTES = 5 * 1024 * 1024
SAFE_WEIGHT_SUFFIXES = (".safetensors", ".gguf")
PICKLE_WEIGHT_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".joblib", ".npy", ".npz")


class InputError(ValueError):
    """An input was refused; the message says what was wrong and what to do. Nothing was changed."""


def _human(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"  # pragma: no cover


# ---- uploads ----------------------------------------------------------------------------------------------

def check_upload_size(n_bytes: int, *, name: str = "the file", max_bytes: int | None = None) -> None:
    limit = MAX_UPLOAD_BYTES if max_bytes is None else max_bytes
    if n_bytes > limit:
        raise InputError(f"{name} is {_human(n_bytes)}; the limit is {_human(limit)}. Upload a smaller file "
                         "or load it from a local path.")


def decode_text(data: bytes, *, name: str = "the file", max_bytes: int | None = None) -> str:
    """Bytes of an uploaded text file -> str. UTF-8 (a BOM is allowed); binary and other encodings refused."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InputError(f"{name}: expected file bytes, got {type(data).__name__}")
    data = bytes(data)
    check_upload_size(len(data), name=name, max_bytes=max_bytes)
    if not data.strip():
        raise InputError(f"{name} is empty.")
    if b"\x00" in data[:8192]:
        raise InputError(f"{name} looks binary (it contains NUL bytes); upload a UTF-8 text file.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise InputError(f"{name} is not UTF-8 text (bad byte at line {line}). Re-save it as UTF-8.") from None
    return text


TABLE_SUFFIXES_JSONL = (".jsonl", ".ndjson", ".json")
TABLE_SUFFIXES_CSV = (".csv", ".tsv", ".txt")


def read_table_rows(data: bytes, filename: str, *, max_bytes: int | None = None) -> list[dict]:
    """An uploaded CSV (header row; delimiter sniffed) or JSONL (one object per line) -> a list of dicts.

    Refuses with an InputError naming the file and line; the caller checks columns and values.
    """
    import csv
    import io

    name = Path(filename).name or "the file"
    suffix = Path(filename).suffix.lower()
    if suffix not in TABLE_SUFFIXES_JSONL + TABLE_SUFFIXES_CSV:
        raise InputError(f"{name}: unsupported file type '{suffix or 'none'}'. Upload a .csv or .jsonl file.")
    text = decode_text(data, name=name, max_bytes=max_bytes)
    if suffix in TABLE_SUFFIXES_JSONL:
        rows = []
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except (ValueError, RecursionError) as exc:  # also: nested too deeply, a 5000-digit number
                raise InputError(f"{name}, line {n}: not valid JSON ({getattr(exc, 'msg', exc)}).") from None
            if not isinstance(row, dict):
                raise InputError(f"{name}, line {n}: expected an object with named fields, got "
                                 f"{type(row).__name__}.")
            rows.append(row)
        return rows
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        return list(csv.DictReader(io.StringIO(text), dialect=dialect))
    except csv.Error as exc:  # e.g. a field over the csv module's size limit
        raise InputError(f"{name}: cannot read as CSV ({exc}).") from None


def clean_text_field(value: Any, *, name: str, max_chars: int = MAX_TEXT_FIELD_CHARS,
                     allow_empty: bool = False) -> str:
    """A text box's value: a string, not too long, no NUL, valid Unicode."""
    if not isinstance(value, str):
        raise InputError(f"{name} must be text.")
    if "\x00" in value:
        raise InputError(f"{name} contains a NUL character.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"{name} is not valid Unicode text.") from None
    if len(value) > max_chars:
        raise InputError(f"{name} is {len(value)} characters long; at most {max_chars}.")
    if not allow_empty and not value.strip():
        raise InputError(f"{name} is empty.")
    return value


# ---- JSON (uploads and URLs): plain values only, never objects of any class ----------------------------

def _reject_constant(name: str):
    def hook(token: str):
        raise InputError(f"{name} contains {token}, which is not valid JSON.")
    return hook


def _depth(value: Any, limit: int) -> int:
    stack, worst = [(value, 1)], 0
    while stack:
        v, d = stack.pop()
        worst = max(worst, d)
        if worst > limit:
            return worst
        if isinstance(v, dict):
            stack.extend((x, d + 1) for x in v.values())
        elif isinstance(v, list):
            stack.extend((x, d + 1) for x in v)
    return worst


def parse_json(text: str | bytes, *, name: str = "the JSON", max_bytes: int | None = None,
               max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Plain JSON values (dict, list, str, int, float, bool, None); NaN/Infinity, deep nesting refused."""
    if isinstance(text, (bytes, bytearray)):
        text = decode_text(bytes(text), name=name, max_bytes=max_bytes)
    elif not isinstance(text, str):
        raise InputError(f"{name}: expected text, got {type(text).__name__}")
    else:
        check_upload_size(len(text.encode("utf-8", "surrogatepass")), name=name, max_bytes=max_bytes)
    try:
        value = json.loads(text, parse_constant=_reject_constant(name))
    except InputError:
        raise
    except json.JSONDecodeError as exc:
        raise InputError(f"{name} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).") from None
    except RecursionError:  # "[[[[..." thousands deep
        raise InputError(f"{name} is nested too deeply.") from None
    except ValueError as exc:  # e.g. an integer literal longer than Python's 4300-digit limit
        raise InputError(f"{name} is not usable JSON: {exc}") from None
    if _depth(value, max_depth) > max_depth:
        raise InputError(f"{name} is nested more than {max_depth} levels deep.")
    return value


def fetch_json(url: str, *, max_bytes: int = MAX_URL_JSON_BYTES, timeout_s: float = 10.0) -> Any:
    """GET a URL and return its body as plain JSON values. Nothing from a URL is ever unpickled or executed."""
    if not isinstance(url, str) or not url.strip():
        raise InputError("Give a URL.")
    url = url.strip()
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"Only http(s) URLs can be fetched, not {url[:80]!r}.")
    req = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # noqa: S310 - scheme checked above
            declared = resp.headers.get("Content-Length")
            if declared and declared.isdigit():
                check_upload_size(int(declared), name="the response", max_bytes=max_bytes)
            body = resp.read(max_bytes + 1)
    except InputError:
        raise
    except (OSError, ValueError) as exc:  # URLError, HTTPError, timeouts, bad URLs
        raise InputError(f"Could not fetch {url[:200]}: {exc}") from None
    check_upload_size(len(body), name="the response", max_bytes=max_bytes)
    return parse_json(body, name="the response", max_bytes=max_bytes)


# ---- numbers ---------------------------------------------------------------------------------------------

def parse_number(value: Any, *, name: str, lo: float | None = None, hi: float | None = None,
                 integer: bool = False) -> int | float:
    """A number from a text box or a query parameter, finite and within [lo, hi]."""
    if isinstance(value, bool):
        raise InputError(f"{name} must be a number.")
    if isinstance(value, str):
        text = value.strip()
        if not text or len(text) > 50:
            raise InputError(f"{name} must be a number.")
        try:
            value = int(text) if integer and re.fullmatch(r"[+-]?\d+", text) else float(text)
        except ValueError:
            raise InputError(f"{name} must be a number, not {text!r}.") from None
    if not isinstance(value, (int, float)):
        raise InputError(f"{name} must be a number.")
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"{name} must be a finite number.")
    if integer:
        if isinstance(value, float) and not value.is_integer():
            raise InputError(f"{name} must be a whole number.")
        value = int(value)
    if lo is not None and value < lo:
        raise InputError(f"{name} must be at least {lo:g}.")
    if hi is not None and value > hi:
        raise InputError(f"{name} must be at most {hi:g}.")
    return value


# ---- paths typed into the UI ------------------------------------------------------------------------------

def resolve_user_path(text: Any, *, must_exist: bool = True, kind: str = "any", for_writing: bool = False,
                      suffixes: tuple[str, ...] = ()) -> Path:
    """Resolve a path typed by a person (~ expanded, symlinks followed) so the page can show it first.

    kind: "file" | "dir" | "any". for_writing refuses the source tree (nothing is written there at run time)
    and existing folders; the caller shows the returned path (and whether it exists) before writing.
    """
    if not isinstance(text, str) or not text.strip():
        raise InputError("Give a path.")
    text = text.strip()
    if "\x00" in text or len(text) > 4096:
        raise InputError("That path is too long or contains a NUL character.")
    try:
        path = Path(text).expanduser().resolve()
    except (OSError, RuntimeError, ValueError) as exc:  # symlink loop, unknown ~user, lone surrogate
        raise InputError(f"Cannot resolve the path {text!r}: {exc}") from None
    try:
        return _check_resolved_path(path, must_exist=must_exist, kind=kind, for_writing=for_writing,
                                    suffixes=suffixes)
    except OSError as exc:  # a name too long for the file system, a permission error on a parent...
        raise InputError(f"Cannot use the path {str(path)[:200]!r}: {exc.strerror or exc}") from None


def _check_resolved_path(path: Path, *, must_exist: bool, kind: str, for_writing: bool,
                         suffixes: tuple[str, ...]) -> Path:
    if suffixes and path.suffix.lower() not in suffixes and not (kind == "dir" or path.is_dir()):
        raise InputError(f"{path} should end in {' or '.join(suffixes)}.")
    if for_writing:
        if path.is_dir():
            raise InputError(f"{path} is a folder; give a file name.")
        if path == REPO_ROOT or REPO_ROOT in path.parents:
            raise InputError(f"{path} is inside the app's source folder; write somewhere else (e.g. the data "
                             "directory).")
        if not path.parent.exists():
            raise InputError(f"The folder {path.parent} does not exist.")
        return path
    if must_exist and not path.exists():
        raise InputError(f"Nothing at {path}.")
    if path.exists() and kind == "file" and not path.is_file():
        raise InputError(f"{path} is not a file.")
    if path.exists() and kind == "dir" and not path.is_dir():
        raise InputError(f"{path} is not a folder.")
    return path


def describe_write_target(path: Path) -> str:
    """The line a page shows before writing: where, and whether something is replaced."""
    return f"Will write `{path}`" + (" (replacing the existing file)" if path.exists() else " (new file)")


# ---- model weights ---------------------------------------------------------------------------------------

def weight_files(folder: Path, max_depth: int = 2) -> tuple[list[Path], list[Path]]:
    """(safe, pickle) weight files in a model folder, looking max_depth levels down."""
    safe, pickled = [], []
    base_depth = len(folder.parts)
    for root, dirs, files in os.walk(folder):
        if len(Path(root).parts) - base_depth >= max_depth:
            dirs[:] = []
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for f in files:
            low = f.lower()
            if low.endswith(SAFE_WEIGHT_SUFFIXES):
                safe.append(Path(root) / f)
            elif low.endswith(PICKLE_WEIGHT_SUFFIXES) and not low.startswith("training_args"):
                pickled.append(Path(root) / f)
    return safe, pickled


def check_model_folder(folder: Path) -> None:
    """Refuse a local model folder whose only weights are pickles (.bin/.pt/...): never unpickle user files."""
    safe, pickled = weight_files(folder)
    if pickled and not safe:
        names = ", ".join(sorted({p.name for p in pickled})[:3])
        raise InputError(f"{folder} has only pickle weights ({names}). Negative Space loads safetensors or GGUF "
                         "only, because unpickling runs code from the file. Convert it first, e.g. "
                         "model.save_pretrained(out, safe_serialization=True) in a trusted environment.")

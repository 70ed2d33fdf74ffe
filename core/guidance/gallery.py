"""Saved runs: every generation goes to <data>/gallery/negative_prompts/<run id>/ as PNGs plus run.json holding
everything needed to reproduce it. Written into a hidden temp folder and renamed when complete, so a
crash never leaves a partial run in the gallery. Also: comparison grids as one PNG, blind A/B pairs and
the win-rate table of the preference votes (stored with core.store.Store)."""

from __future__ import annotations

import io
import json
import os
import random
import re
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from core.paths import subdir

RUN_FILE = "run.json"
VOTE_EXPERIMENT = "guidance:positive-without-negative"
_RUN_ID = re.compile(r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$")
_FILE = re.compile(r"^[a-z0-9_]+/[A-Za-z0-9_.-]+\.png$")


class GalleryError(ValueError):
    """A run id or file name that does not name a saved run."""


def runs_dir() -> Path:
    return subdir("gallery", "negative_prompts")


def png_bytes(image: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format="PNG")
    return buf.getvalue()


def read_png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def save_run(result: Any, extra: dict[str, Any] | None = None) -> str:
    """Write a GenerationResult; returns the run id. `extra` (grid layout, page settings) goes into run.json."""
    from importlib.metadata import PackageNotFoundError, version

    def _version(pkg: str) -> str:
        try:
            return version(pkg)
        except PackageNotFoundError:
            return "not installed"

    run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    root = runs_dir()
    tmp = root / f".tmp-{run_id}"
    req = result.request
    record: dict[str, Any] = {
        "id": run_id, "created_at": time.time(), "model": result.model, "size": result.size,
        "request": {"prompts": req.prompt_list(), "negatives": req.negative_list(), "seeds": list(req.seeds),
                    "steps": req.steps, "size": result.size, "methods": [m.to_dict() for m in req.methods],
                    "labels": req.method_labels()},
        "samples": [list(s) for s in result.samples], "runs": [], "extra": extra or {},
        "versions": {"torch": _version("torch"), "diffusers": _version("diffusers")},
    }
    try:
        (tmp / "images").mkdir(parents=True)
        (tmp / "x0").mkdir()
        for mi, run in enumerate(result.runs):
            entry = {"label": run.label, "method": run.method.to_dict(), "title": run.method.family(),
                     "seconds": run.seconds, "seconds_per_image": run.seconds_per_image,
                     "cpu_seconds_per_image": run.cpu_seconds_per_image,
                     "peak_memory_mb": run.peak_memory_mb, "memory_kind": run.memory_kind,
                     "denoiser_calls": run.denoiser_calls, "images": []}
            for si, (pi, seed) in enumerate(result.samples):
                name = f"m{mi:02d}_p{pi:02d}_s{seed}.png"
                (tmp / "images" / name).write_bytes(png_bytes(run.images[si]))
                item = {"prompt_index": pi, "seed": seed, "file": f"images/{name}"}
                if run.x0_steps is not None:
                    strip = np.concatenate(list(run.x0_steps[si]), axis=1)  # steps side by side
                    (tmp / "x0" / name).write_bytes(png_bytes(strip))
                    item["x0_file"] = f"x0/{name}"
                entry["images"].append(item)
            record["runs"].append(entry)
        (tmp / RUN_FILE).write_text(json.dumps(record, indent=1))
        os.replace(tmp, root / run_id)  # atomic: the run appears complete or not at all
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return run_id


def _run_path(run_id: str) -> Path:
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
        raise GalleryError(f"not a run id: {run_id!r}")
    path = runs_dir() / run_id
    if not (path / RUN_FILE).exists():
        raise GalleryError(f"no saved run {run_id}")
    return path


def load_run(run_id: str) -> dict[str, Any]:
    return json.loads((_run_path(run_id) / RUN_FILE).read_text())


def load_image(run_id: str, file: str) -> np.ndarray:
    if not _FILE.match(file or ""):
        raise GalleryError(f"not an image of a run: {file!r}")
    return read_png(_run_path(run_id) / file)


def list_runs(text: str = "", method: str = "", model: str = "") -> list[dict[str, Any]]:
    """Complete runs, newest first; filter by text in the prompts, a method title, a model name/source."""
    out = []
    for d in sorted(runs_dir().iterdir(), reverse=True):
        if d.name.startswith(".") or not _RUN_ID.match(d.name) or not (d / RUN_FILE).exists():
            continue
        try:
            rec = json.loads((d / RUN_FILE).read_text())
        except (OSError, ValueError):
            continue
        prompts = " ".join(rec["request"]["prompts"] + rec["request"]["negatives"]).lower()
        titles = {r["title"] for r in rec["runs"]}
        model_text = f"{rec['model'].get('name', '')} {rec['model'].get('source', '')}".lower()
        if text and text.lower() not in prompts:
            continue
        if method and method not in titles:
            continue
        if model and model.lower() not in model_text:
            continue
        out.append(rec)
    return out


def reproduce_request(record: dict[str, Any]) -> tuple[str, Any]:
    """(model source, GenerationRequest) that regenerates a saved run."""
    from core.guidance.engine import GenerationRequest
    from core.guidance.registry import method_from_dict

    r = record["request"]
    req = GenerationRequest(prompts=r["prompts"], negatives=r["negatives"],
                            methods=[method_from_dict(m) for m in r["methods"]], seeds=[int(s) for s in r["seeds"]],
                            steps=int(r["steps"]), size=int(r["size"]), labels=r["labels"])
    return record["model"]["source"], req


# ---- grids ----------------------------------------------------------------------------------------------

def compose_grid(cells: list[list[np.ndarray | None]], row_labels: list[str], col_labels: list[str],
                 cell: int = 128, pad: int = 4, label_w: int = 220, label_h: int = 22) -> np.ndarray:
    """One uint8 image: rows x columns of images (None = blank), labels on the left and on top."""
    from PIL import Image, ImageDraw

    n_rows, n_cols = len(cells), max((len(r) for r in cells), default=0)
    w = label_w + n_cols * (cell + pad) + pad
    h = label_h + n_rows * (cell + pad) + pad
    canvas = Image.new("RGB", (w, h), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for c, text in enumerate(col_labels[:n_cols]):
        draw.text((label_w + c * (cell + pad) + pad, 4), text[:30], fill=(0, 0, 0))
    for r, row in enumerate(cells):
        y = label_h + r * (cell + pad) + pad
        for i, line in enumerate(_wrap(row_labels[r] if r < len(row_labels) else "", 34)[:6]):
            draw.text((4, y + i * 12), line, fill=(0, 0, 0))
        for c, img in enumerate(row):
            if img is None:
                continue
            tile = Image.fromarray(np.ascontiguousarray(img)).resize((cell, cell), Image.NEAREST)
            canvas.paste(tile, (label_w + c * (cell + pad) + pad, y))
    return np.asarray(canvas)


def _wrap(text: str, width: int) -> list[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        if len(line) + len(word) + 1 > width and line:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return lines + ([line] if line else [])


def run_grid(record: dict[str, Any], cell: int = 128) -> tuple[list[list[np.ndarray | None]], list[str], list[str]]:
    """The saved run's comparison grid: methods x samples, or methods x strengths (extra.grid == "strengths")."""
    run_id = record["id"]
    grid = record.get("extra", {}).get("grid", "seeds")
    prompts = record["request"]["prompts"]
    if grid == "strengths":
        mults = record["extra"]["strengths"]
        rows: dict[str, list] = {}
        extra = record["extra"]
        for entry, m, key in zip(record["runs"], extra["run_strength"], extra["run_row"], strict=True):
            row = rows.setdefault(key, [None] * len(mults))
            row[0 if m is None else mults.index(m)] = load_image(run_id, entry["images"][0]["file"])
        return list(rows.values()), list(rows), [f"strength x{m:g}" for m in mults]
    cells = [[load_image(run_id, it["file"]) for it in entry["images"]] for entry in record["runs"]]
    cols = [f"p{it['prompt_index']}: seed {it['seed']}" if len(prompts) > 1 else f"seed {it['seed']}"
            for it in record["runs"][0]["images"]]
    return cells, [e["label"] for e in record["runs"]], cols


def export_grid_png(record: dict[str, Any], cell: int = 128) -> bytes:
    cells, rows, cols = run_grid(record)
    return png_bytes(compose_grid(cells, rows, cols, cell=cell))


def difference_map(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, float]:
    """Per-pixel mean absolute difference as a heat image (black = equal, bright = different) and its mean."""
    d = np.abs(a.astype(np.float32) - b.astype(np.float32)).mean(axis=-1)
    mean = float(d.mean())
    scale = max(float(d.max()), 1.0)
    t = d / scale
    heat = np.stack([np.clip(3 * t, 0, 1), np.clip(3 * t - 1, 0, 1), np.clip(3 * t - 2, 0, 1)], axis=-1)
    return (heat * 255).round().astype(np.uint8), mean


# ---- blind A/B votes --------------------------------------------------------------------------------------

def ab_pairs(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Every pair of different methods on the same prompt and seed."""
    out = []
    runs = record["runs"]
    for i in range(len(runs)):
        for j in range(i + 1, len(runs)):
            for a, b in zip(runs[i]["images"], runs[j]["images"], strict=True):
                out.append({"run_id": record["id"], "a": a["file"], "b": b["file"], "method_a": runs[i]["label"],
                            "method_b": runs[j]["label"], "title_a": runs[i]["title"], "title_b": runs[j]["title"],
                            "prompt": record["request"]["prompts"][a["prompt_index"]],
                            "negative": record["request"]["negatives"][a["prompt_index"]]})
    return out


def draw_pair(records: list[dict[str, Any]], rng: random.Random) -> dict[str, Any] | None:
    """A random pair, shown in random order (blind: the page hides the method names until after the vote)."""
    pairs = [p for r in records for p in ab_pairs(r)]
    if not pairs:
        return None
    p = dict(rng.choice(pairs))
    if rng.random() < 0.5:
        p["a"], p["b"] = p["b"], p["a"]
        p["method_a"], p["method_b"] = p["method_b"], p["method_a"]
        p["title_a"], p["title_b"] = p["title_b"], p["title_a"]
    return p


def record_vote(store: Any, pair: dict[str, Any], winner: str, voter: str, client_token: str | None = None) -> int:
    return store.add_vote(VOTE_EXPERIMENT, f"{pair['run_id']}/{pair['a']}", f"{pair['run_id']}/{pair['b']}",
                          pair["method_a"], pair["method_b"], winner, voter, client_token=client_token)


def win_rates(votes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per method (full label): comparisons, wins, ties, losses, win rate (ties count half), best first."""
    table: dict[str, dict[str, Any]] = {}
    for v in votes:
        for side in ("a", "b"):
            m = v[f"method_{side}"]
            row = table.setdefault(m, {"method": m, "comparisons": 0, "wins": 0, "ties": 0, "losses": 0})
            row["comparisons"] += 1
            if v["winner"] == "tie":
                row["ties"] += 1
            elif v["winner"] == side:
                row["wins"] += 1
            else:
                row["losses"] += 1
    for row in table.values():
        row["win_rate"] = (row["wins"] + 0.5 * row["ties"]) / row["comparisons"]
    return sorted(table.values(), key=lambda r: (-r["win_rate"], -r["comparisons"], r["method"]))

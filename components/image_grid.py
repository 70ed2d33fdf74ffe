"""Drawing saved runs: the comparison grid, timings, the per-step x0 strip and a difference map."""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from core.guidance import gallery


def upscale(img: np.ndarray, target: int = 128) -> np.ndarray:
    """Nearest-neighbour enlargement of small images (32x32 toy pixels stay crisp instead of blurred)."""
    f = max(1, target // max(img.shape[:2]))
    return img.repeat(f, axis=0).repeat(f, axis=1) if f > 1 else img


def draw_grid(cells: list[list[np.ndarray | None]], rows: list[str], cols: list[str], key: str) -> None:
    widths = [2] + [1] * max(len(cols), 1)
    head = st.columns(widths)
    for c, text in enumerate(cols):
        head[c + 1].caption(text)
    for r, row in enumerate(cells):
        line = st.columns(widths)
        line[0].markdown(f"**{rows[r]}**")
        for c, img in enumerate(row):
            if img is not None:
                line[c + 1].image(upscale(img), width="stretch")


def timing_table(record: dict[str, Any]) -> list[dict[str, Any]]:
    cfg = next((r["seconds_per_image"] for r in record["runs"] if r["method"]["method"] == "cfg"), None)
    out = []
    for r in record["runs"]:
        out.append({"method": r["label"], "s / image": round(r["seconds_per_image"], 4),
                    "x CFG": round(r["seconds_per_image"] / cfg, 2) if cfg else None,
                    "CPU s / image": round(r.get("cpu_seconds_per_image", float("nan")), 4),
                    "denoiser calls": r["denoiser_calls"],
                    "peak memory (MiB)": None if r["peak_memory_mb"] is None else round(r["peak_memory_mb"], 1),
                    "memory measured as": r["memory_kind"]})
    return out


def show_run(record: dict[str, Any], key: str) -> None:
    """Everything about one saved run: grid, timings, x0 strip, difference map, export."""
    req = record["request"]
    st.markdown(f"**Positive:** {req['prompts'][0]}  \n**Negative:** {req['negatives'][0] or '(empty)'}  \n"
                f"Model: {record['model']['name']} · {req['steps']} steps · {record['size']} px · "
                f"run `{record['id']}`")
    cells, rows, cols = gallery.run_grid(record)
    draw_grid(cells, rows, cols, key=f"{key}_grid")
    st.download_button("Export this grid as one PNG", gallery.export_grid_png(record),
                       file_name=f"negative-prompts-{record['id']}.png", mime="image/png", key=f"{key}_export")

    st.markdown("##### Time and memory per method")
    st.dataframe(timing_table(record), hide_index=True, key=f"{key}_timing")
    st.caption("Time per image includes the final decode (wall clock; on a busy shared CPU the process CPU time "
               "is the steadier comparison); memory is CUDA peak allocation on a GPU and sampled "
               "process RSS above the start on CPU (coarse: allocator reuse hides small differences).")

    labels = [r["label"] for r in record["runs"]]
    samples = [f"prompt {it['prompt_index']}, seed {it['seed']}" for it in record["runs"][0]["images"]]
    st.markdown("##### Predicted clean image per step")
    c1, c2 = st.columns(2)
    m = c1.selectbox("Method", labels, key=f"{key}_x0_method", index=min(1, len(labels) - 1))
    s = c2.selectbox("Sample", samples, key=f"{key}_x0_sample")
    entry = record["runs"][labels.index(m)]["images"][samples.index(s)]
    if "x0_file" in entry:
        strip = gallery.load_image(record["id"], entry["x0_file"])
        n = req["steps"]
        size = strip.shape[0]
        tiles = [upscale(strip[:, i * size:(i + 1) * size], 96) for i in range(n)]
        per_row = min(n, 10)
        for start in range(0, n, per_row):
            cs = st.columns(per_row)
            for i, tile in enumerate(tiles[start:start + per_row]):
                cs[i].image(tile, caption=f"step {start + i + 1}", width="stretch")
        st.caption("x0 predicted at each step: watch when the negative starts to change the image (e.g. the "
                   "delayed negative from step k).")

    st.markdown("##### Difference between two methods")
    c1, c2, c3 = st.columns(3)
    a = c1.selectbox("Method A", labels, key=f"{key}_diff_a", index=0)
    b = c2.selectbox("Method B", labels, key=f"{key}_diff_b", index=min(1, len(labels) - 1))
    s2 = c3.selectbox("Sample", samples, key=f"{key}_diff_sample")
    ia = gallery.load_image(record["id"], record["runs"][labels.index(a)]["images"][samples.index(s2)]["file"])
    ib = gallery.load_image(record["id"], record["runs"][labels.index(b)]["images"][samples.index(s2)]["file"])
    heat, mean = gallery.difference_map(ia, ib)
    d = st.columns(3)
    d[0].image(upscale(ia), caption="A", width="stretch")
    d[1].image(upscale(ib), caption="B", width="stretch")
    d[2].image(upscale(heat), caption=f"|A - B| (mean {mean:.1f} / 255)", width="stretch")

"""Negative prompts: compare negative-prompt guidance methods (CFG, Perp-Neg, delayed negative, NAG, VSF,
NASA) from the same initial noise; gallery of saved runs; blind A/B preference votes."""

from __future__ import annotations

import streamlit as st

from components.guidance_gallery import gallery_tab, vote_tab
from components.guidance_methods import method_inputs, set_method_inputs
from components.guidance_model import cached_adapter, model_choice, source_to_choice
from components.image_grid import show_run
from components.router import ensure_router

ensure_router()

K = "np"
DEFAULT_PROMPT = "a red circle on the left and a blue square"
DEFAULT_NEGATIVE = "blue square"

st.title("Negative prompts")
st.caption("Every method starts from the same initial noise per seed. How well each one keeps the negative "
           "out is not measured here: the toy model's adherence benchmark (bottom of the page) does that, and "
           "which method wins there depends on the task. Treat a nicer-looking grid as one sample, not evidence.")

for name, default in (("prompt", DEFAULT_PROMPT), ("negative", DEFAULT_NEGATIVE)):
    if f"{K}_{name}" not in st.session_state:  # shareable: ?prompt=...&negative=...
        st.session_state[f"{K}_{name}"] = str(st.query_params.get(name, default))[:1000]


def reopen(record: dict) -> None:
    """Ask for a saved run's settings to be put back into the widgets (applied before they render)."""
    st.session_state[f"{K}_pending_reopen"] = record["id"]
    st.rerun()


def apply_reopen(record: dict) -> None:
    spec = record.get("extra", {}).get("spec") or {}
    choice, custom = source_to_choice(record["model"]["source"])
    st.session_state[f"{K}_model_choice"] = choice
    st.session_state[f"{K}_model_custom"] = custom
    st.session_state[f"{K}_prompt"] = record["request"]["prompts"][0]
    st.session_state[f"{K}_negative"] = record["request"]["negatives"][0]
    st.session_state[f"{K}_seeds"] = spec.get("seeds") or ", ".join(str(s) for s in record["request"]["seeds"])
    st.session_state[f"{K}_steps"] = int(record["request"]["steps"])
    st.session_state[f"{K}_size"] = int(record["size"])
    st.session_state[f"{K}_grid"] = "methods x strengths" if spec.get("grid") == "strengths" else "methods x seeds"
    if spec.get("strengths"):
        st.session_state[f"{K}_strengths"] = spec["strengths"]
    set_method_inputs(f"{K}_methods", spec.get("methods") or record["request"]["methods"])
    st.session_state[f"{K}_run_id"] = record["id"]
    st.session_state[f"{K}_notice"] = f"Settings of run {record['id']} reopened in Generate."


if f"{K}_pending_reopen" in st.session_state:
    from core.guidance import gallery as _gallery

    try:
        apply_reopen(_gallery.load_run(st.session_state.pop(f"{K}_pending_reopen")))
    except _gallery.GalleryError as exc:
        st.error(str(exc))


tab_gen, tab_gallery, tab_vote = st.tabs(["Generate", "Gallery", "Blind A/B vote"])

with tab_gen:
    if f"{K}_notice" in st.session_state:
        st.info(st.session_state.pop(f"{K}_notice"))
    source = model_choice(f"{K}_model")
    c1, c2 = st.columns(2)
    prompt = c1.text_area("Positive prompt", key=f"{K}_prompt", height=68, max_chars=1000)
    negative = c2.text_area("Negative prompt", key=f"{K}_negative", height=68, max_chars=1000)
    c1, c2, c3, c4 = st.columns(4)
    seeds = c1.text_input("Seeds", value="0, 1", key=f"{K}_seeds", help="comma-separated whole numbers")
    steps = int(c2.number_input("Steps", min_value=1, max_value=200, value=20, step=1, key=f"{K}_steps"))
    size = c3.number_input("Size (px)", min_value=8, max_value=2048, value=None, step=8, key=f"{K}_size",
                           placeholder="model default", help="empty = the model's native size")
    grid = c4.radio("Grid", ["methods x seeds", "methods x strengths"], key=f"{K}_grid", horizontal=False)
    strengths = "0, 0.5, 1, 2"
    if grid == "methods x strengths":
        strengths = st.text_input("Strength multipliers (first seed)", value=strengths, key=f"{K}_strengths",
                                  help="Each method's main parameter moved from its 'off' value by this many "
                                       "times the configured distance: 0 = off, 1 = as configured.")
    from core.guidance.adapters import cfg_scales_for

    methods = method_inputs(f"{K}_methods", steps, cfg_scale=cfg_scales_for(source or "")[0])

    if st.button("Generate", type="primary", key=f"{K}_go"):
        from core.guidance import GenerationError, GuidanceConfigError, ModelLoadError
        from core.guidance.lab import LabSpec, generate_and_save

        if source is None:
            st.error("Choose a model first.")
        else:
            spec = LabSpec(source=source, prompt=prompt, negative=negative, methods=methods, seeds=seeds,
                           steps=steps, size=None if size is None else int(size),
                           grid="strengths" if grid == "methods x strengths" else "seeds", strengths=strengths)
            bar = st.progress(0.0, text="Loading the model…")
            try:
                adapter = cached_adapter(source)

                def progress(done: int, total: int, label: str) -> None:
                    bar.progress(done / total, text=f"{label}: step {done}/{total}")

                st.session_state[f"{K}_run_id"] = generate_and_save(adapter, spec, progress)
                bar.progress(1.0, text="Done: saved to the gallery.")
            except (GuidanceConfigError, ModelLoadError, GenerationError) as exc:
                bar.empty()
                st.error(str(exc))
            except Exception as exc:  # noqa: BLE001 - the page must keep running; show what went wrong
                bar.empty()
                st.error(f"Generation failed: {type(exc).__name__}: {exc}")

    run_id = st.session_state.get(f"{K}_run_id")
    if run_id:
        from core.guidance import gallery

        try:
            show_run(gallery.load_run(run_id), key=f"{K}_current")
        except gallery.GalleryError as exc:
            st.error(str(exc))
    else:
        st.info("Set the prompts and methods, then press Generate. Nothing runs before that.")

with tab_gallery:
    gallery_tab(f"{K}_gallery", on_reopen=reopen)

with tab_vote:
    vote_tab(f"{K}_vote")

with st.expander("Adherence benchmark"):
    from core.adherence import load_saved

    try:
        saved = load_saved()
    except (OSError, ValueError) as exc:
        saved = None
        st.error(f"Could not read the saved benchmark: {exc}")
    if saved is None:
        st.info("No saved result yet. Run `.venv/bin/python bench/negative_adherence.py` (about 6-10 min on a "
                "CPU; `--quick` for a 1-minute smoke run) and reopen this page. Method details: docs/adherence.md.")
    else:
        meta, table = saved
        st.caption(f"{meta.get('model')} on {meta.get('device')}, {meta.get('prompts_per_suite')} prompts x "
                   f"{len(meta.get('seeds', []))} seeds per suite{' (quick run)' if meta.get('quick') else ''}, "
                   f"saved {meta.get('created')}. negative_rate: lower is better; positive / success: higher is "
                   "better; vs_cfg: success minus the best CFG scale of the suite. Small samples: differences "
                   "of a few images are noise.")
        cols = [c for c in ("suite", "steps", "method", "n", "negative_rate", "positive_rate", "success_rate",
                            "vs_cfg", "seconds_per_image") if c in table.columns]
        st.dataframe(table[cols], hide_index=True)
        for family, text in (meta.get("verdicts") or {}).items():
            st.markdown(f"- **{family}**: {text}")

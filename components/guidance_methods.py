"""Method checkboxes and parameter widgets -> a list of method dicts (core.guidance method.to_dict())."""

from __future__ import annotations

from typing import Any

import streamlit as st

# name shown -> (registry key(s), note)
CHOICES: dict[str, str] = {
    "Positive only": "none", "CFG": "cfg", "Perp-Neg": "perp_neg", "Delayed negative": "delayed", "NAG": "nag",
    "CFG + NAG": "cfg+nag", "VSF": "vsf", "NASA": "nasa",
}
DEFAULT_CHOICES = ["Positive only", "CFG", "Perp-Neg", "Delayed negative", "NAG", "VSF", "NASA"]
# parameter -> (label, min, max, default, step, help); bounds match the methods' validate()
PARAMS: dict[str, dict[str, tuple]] = {
    "cfg": {"scale": ("CFG scale", 0.0, 50.0, 7.5, 0.5, "eps_neg + s (eps_pos - eps_neg)")},
    "perp_neg": {"scale": ("Perp-Neg scale", 0.0, 50.0, 7.5, 0.5, "guidance scale s"),
                 "neg_weight": ("Perp-Neg negative weight", 0.0, 20.0, 1.5, 0.1, "w (official default 1.5)")},
    "delayed": {"scale": ("Delayed CFG scale", 0.0, 50.0, 7.5, 0.5, None),
                "start_step": ("Negative from step k", 0, 199, None, 1, "empty prompt as the unconditional "
                               "branch before step k, the negative from step k on")},
    "nag": {"scale": ("NAG scale phi", 1.0, 50.0, 4.0, 0.5, "1 = off"),
            "tau": ("NAG tau", 1.0, 100.0, 2.5, 0.1, "norm-ratio clip"),
            "alpha": ("NAG alpha (empty = family default)", 0.0, 1.0, None, 0.05,
                      "blend; default 0.5 for UNets, 0.125 for SD3"),
            "end": ("NAG end (fraction of steps)", 0.0, 1.0, 1.0, 0.05, "NAG stops after this fraction")},
    "vsf": {"scale": ("VSF scale", 0.0, 20.0, 2.0, 0.1, "negative values x -scale (0 = off)"),
            "bias": ("VSF logit bias", -10.0, 10.0, -0.1, 0.05, "added to the negative columns' logits")},
    "nasa": {"alpha": ("NASA alpha", 0.0, 5.0, 0.3, 0.05, "Z+ - alpha Z-")},
}


# Parameters whose default is the model's usual CFG scale rather than Stable Diffusion's 7.5.
CFG_SCALE_PARAMS = {("cfg", "scale"), ("perp_neg", "scale"), ("delayed", "scale")}


def _param_widgets(key: str, method_key: str, steps: int, cfg_scale: float) -> dict[str, Any]:
    out = {}
    specs = PARAMS[method_key]
    cols = st.columns(len(specs))
    for col, (name, (label, lo, hi, default, step, help_text)) in zip(cols, specs.items(), strict=True):
        if (method_key, name) in CFG_SCALE_PARAMS:
            default = cfg_scale
        wkey = f"{key}_{method_key}_{name}"
        if name == "start_step":
            value = st.session_state.get(wkey, max(1, steps // 4))
            k = int(col.number_input(label, min_value=lo, max_value=hi, value=int(value), step=1, key=wkey,
                                     help=help_text))
            if k >= steps:  # keep the run valid when the step count is lowered
                col.caption(f"k lowered to {max(steps - 1, 0)} (below the step count)")
                k = max(steps - 1, 0)
            out[name] = k
        elif default is None:
            v = col.number_input(label, min_value=lo, max_value=hi, value=None, step=step, key=wkey,
                                 help=help_text, placeholder="auto")
            out[name] = None if v is None else float(v)
        else:
            out[name] = float(col.number_input(label, min_value=lo, max_value=hi, value=default, step=step,
                                               key=wkey, help=help_text))
    return out


def method_inputs(key: str, steps: int, cfg_scale: float = 7.5) -> list[dict[str, Any]]:
    """Multiselect + one row of parameters per chosen method family; CFG-type scales default to `cfg_scale`
    (the chosen model's usual scale)."""
    chosen = st.multiselect("Methods", list(CHOICES), default=DEFAULT_CHOICES, key=f"{key}_chosen",
                            help="Every method runs from the same initial noise per seed.")
    needed = []
    for name in chosen:
        k = CHOICES[name]
        needed += ["cfg", "nag"] if k == "cfg+nag" else ([k] if k != "none" else [])
    params: dict[str, dict[str, Any]] = {}
    if needed:
        with st.expander("Method parameters", expanded=False):
            for k in dict.fromkeys(needed):
                params[k] = _param_widgets(key, k, steps, cfg_scale)
    out = []
    for name in chosen:
        k = CHOICES[name]
        if k == "none":
            out.append({"method": "none"})
        elif k == "cfg+nag":
            out.append({"method": "stack", "base": {"method": "cfg", **params["cfg"]},
                        "inner": {"method": "nag", **params["nag"]}})
        else:
            out.append({"method": k, **params[k]})
    return out


def set_method_inputs(key: str, methods: list[dict[str, Any]]) -> None:
    """Put a saved run's methods back into the widgets (call before they render, then rerun)."""
    names = {v: n for n, v in CHOICES.items()}
    chosen = []
    for d in methods:
        if d["method"] == "stack":
            chosen.append("CFG + NAG")
            parts = [d["base"], d["inner"]]
        else:
            chosen.append(names.get(d["method"], "CFG"))
            parts = [d]
        for p in parts:
            for name, value in p.items():
                if name != "method" and name in PARAMS.get(p["method"], {}):
                    st.session_state[f"{key}_{p['method']}_{name}"] = value
    st.session_state[f"{key}_chosen"] = list(dict.fromkeys(chosen))

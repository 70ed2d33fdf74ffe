"""Home: what each instrument is for, which embedded assets are installed, and which device is in use."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from components.resources import asset_table, device_line
from components.router import ensure_router
from core.paths import data_dir

ensure_router()

st.title("Negative Space")
st.caption("An instrument panel for the negatives in ML: hard and false negatives, negative prompts, "
           "the yes/no bias and refusals.")

cols = st.columns(4)
DESCRIPTIONS = [
    (":material/travel_explore: Retrieval negatives", "pages/retrieval_negatives.py",
     "Mine hard negatives, see them in embedding space around the query and its positives, score how "
     "likely each is a false negative, label them and export corrected training data."),
    (":material/image: Negative prompts", "pages/negative_prompts.py",
     "Compare CFG, Perp-Neg, NAG, VSF and NASA on the same model, seed and prompt, side by side, with exact "
     "adherence numbers from the embedded shapes-world model."),
    (":material/balance: Yes/no bias", "pages/yes_no_bias.py",
     "Chart how prompt format and missing knowledge push a language model towards \"No\"."),
    (":material/block: Refusals", "pages/refusals.py",
     "Refusal rates, over-refusal of safe prompts, and the refusal direction inside the model."),
]
for col, (title, path, text) in zip(cols, DESCRIPTIONS, strict=True):
    with col:
        st.subheader(title)
        st.write(text)
        st.page_link(path, label="Open", icon=":material/arrow_forward:")

st.divider()
st.subheader("Embedded offline assets")
rows = asset_table()
table = pd.DataFrame(rows)
table.insert(0, "status", ["installed" if r["installed"] else ("not installed (optional)" if r["optional"]
                            else "MISSING") for r in rows])
st.dataframe(table[["status", "asset", "kind", "source", "location", "install"]], hide_index=True, width="stretch")
missing = [r for r in rows if not r["installed"] and not r["optional"]]
if missing:
    st.warning("Missing: " + "; ".join(f"{r['asset']} (install: `{r['install']}`)" for r in missing))
else:
    st.success("Every required embedded asset is installed: the app works with no internet.")

st.subheader("Device and data")
st.write(f"**Device:** {device_line()}")
st.write(f"**Data directory** (labels, votes, runs, caches): `{data_dir()}` — set `NEGSPACE_DATA` to move it.")
st.caption("Any page that takes a model also accepts a Hugging Face hub id (needs internet) or a local folder.")

"""Retrieval negatives: mine hard negatives, score how likely each is a false negative, look, label, export."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import streamlit as st

from components.model_picker import model_picker
from components.resources import store
from components.retrieval_annotate import annotation_panel
from components.retrieval_resources import (
    causal_lm,
    dataset,
    embed_with_progress,
    embeddings_ready,
    workspace,
)
from components.retrieval_view import figure, selected_rows
from components.router import ensure_router
from core.assets import AssetMissingError
from core.retrieval import annotation, export, metrics, mining_runs, projection, wordnet_default
from core.retrieval.embed import EmbedderLoadError
from core.retrieval.false_negatives import combine
from core.retrieval.llm_judge import JudgeSpec, judge_cached
from core.retrieval.loaders import DatasetFormatError, save_upload
from core.retrieval.mining import (
    BM25Negatives,
    DenseTopK,
    EnsembleNegatives,
    MarginFiltered,
    RandomNegatives,
    SimANS,
)
from core.retrieval.workspace import analyse, mine

ensure_router()

st.title("Retrieval negatives")
st.caption("Mine hard negatives for retrieval training data, see which are probably unlabelled positives "
           "(false negatives), label them, and export corrected data.")

DEFAULT_NAME, SAMPLE_NAME = wordnet_default.DEFAULT_SPEC.name, wordnet_default.SAMPLE_SPEC.name


def _build(spec, label: str) -> None:
    bar = st.progress(0.0, text=f"Building {label}…")
    try:
        wordnet_default.prepare_default_dataset(spec, progress=lambda f, m: bar.progress(min(1.0, f), text=m))
    except (AssetMissingError, EmbedderLoadError, OSError) as exc:
        st.error(f"Could not build {label}: {exc}")
        return
    st.rerun()


# ---- 1. which data ------------------------------------------------------------------------------------------
with st.container(border=True):
    c1, c2 = st.columns([2, 3])
    source = c1.radio("Dataset", ["Embedded default (WordNet)", "Local path", "Upload"], key="rn_source",
                      horizontal=False)
    handle = None
    with c2:
        if source.startswith("Embedded"):
            ready = {s.name: wordnet_default.is_ready(s) for s in (wordnet_default.DEFAULT_SPEC,
                                                                   wordnet_default.SAMPLE_SPEC)}
            choice = st.radio("Size", [DEFAULT_NAME, SAMPLE_NAME], key="rn_wordnet_size", horizontal=True,
                              format_func=lambda n: {DEFAULT_NAME: "default (24k glosses, 1,500 queries)",
                                                     SAMPLE_NAME: "small sample (600 glosses, 40 queries)"}[n])
            if ready[choice]:
                handle = ("wordnet", choice, "embedded:minilm")
            else:
                spec = wordnet_default.DEFAULT_SPEC if choice == DEFAULT_NAME else wordnet_default.SAMPLE_SPEC
                st.info("This dataset is not built in this data directory yet (`bash scripts/setup.sh` builds the "
                        "default). Building embeds every gloss with MiniLM: minutes for the default, seconds "
                        "for the sample.")
                label = "the default dataset" if choice == DEFAULT_NAME else "the sample dataset"
                if st.button(f"Build {label}", key=f"rn_build_{choice}", type="primary"):
                    _build(spec, label)
        else:
            model = model_picker("Embedding model", {"MiniLM (embedded)": "embedded:minilm"}, key="rn_model",
                                 help_text="Any sentence-transformers model; embeddings are cached by content hash.")
            if source == "Local path":
                path = st.text_input("BEIR / MS MARCO folder, or a .jsonl/.csv/.parquet/.tsv file",
                                     key="rn_path", placeholder="/data/my-beir-dataset")
                if model and path.strip() and st.button("Load and embed", key="rn_load_path", type="primary"):
                    st.session_state["rn_handle"] = ("path", path.strip(), model.value if model.kind != "embedded"
                                                     else f"embedded:{model.value}")
            else:
                files = st.file_uploader("One table/JSONL/TSV file, or the files of a BEIR folder "
                                         "(corpus.jsonl, queries.jsonl, <split>.tsv)", accept_multiple_files=True,
                                         key="rn_upload")
                if model and files and st.button("Load and embed", key="rn_load_upload", type="primary"):
                    try:
                        target = save_upload([(f.name, f.getvalue()) for f in files])
                        st.session_state["rn_handle"] = ("path", str(target), model.value if model.kind != "embedded"
                                                         else f"embedded:{model.value}")
                    except DatasetFormatError as exc:
                        st.error(str(exc))
            handle = st.session_state.get("rn_handle")
    with st.expander("Index", expanded=False):
        exact_below = st.number_input("Exact search below this many documents", 1000, 10_000_000, 50_000, 1000,
                                      key="rn_exact_below")
        approximate = st.radio("Approximate index above it", ["ivf", "hnsw"], key="rn_approx", horizontal=True)

if handle is None:
    st.stop()

kind, location, model_id = handle
try:
    data = dataset(kind, location)
    if not embeddings_ready(data, model_id):
        embed_with_progress(data, model_id)
    ws = workspace(kind, location, model_id, int(exact_below), approximate)
except (DatasetFormatError, EmbedderLoadError, AssetMissingError) as exc:
    st.error(f"Could not load the dataset: {exc}")
    st.stop()

ds = ws.dataset
summary = ds.summary()
st.markdown(f"**{ds.name}** · {summary['documents']:,} documents · {summary['queries']:,} queries · "
            f"{summary['labelled positives']:,} labelled positives · embeddings `{ws.model}` · index: "
            f"{ws.index.describe()}")
if not ws.index.exact:
    st.warning(f"Approximate index: measured recall@{ws.index.recall_k} = {ws.index.recall_at_k:.3f} on this "
               "data. Dense mining uses its candidates; lower the threshold in *Index* settings to compare.")

result = st.session_state.get("rn_result")
if result is not None and result.get("key") != ws.key:
    result = None  # mined on another dataset (it is saved on disk)
if result is None and st.session_state.get("rn_result_looked_up") != ws.key:
    # A new session or another dataset: reopen this workspace's newest saved run, looked up once per
    # workspace visit rather than on every rerun (a new mining run replaces rn_result itself).
    result = mining_runs.latest_mining_run(store(), ws.key)
    st.session_state["rn_result_looked_up"] = ws.key
st.session_state["rn_result"] = result

tab_mine, tab_view, tab_ann, tab_quality, tab_export = st.tabs(
    ["Mine", "Embedding space", "Annotate", "Quality", "Export"])

# ---- 2. mining ------------------------------------------------------------------------------------------------
with tab_mine:
    c1, c2, c3 = st.columns(3)
    chosen = c1.multiselect("Strategies", ["dense_top", "margin", "simans", "bm25", "ensemble", "random"],
                            default=["dense_top", "margin", "simans", "bm25"], key="rn_strategies")
    n_neg = c2.slider("Negatives per query", 1, 20, 5, key="rn_n_neg")
    range_min = c3.number_input("Skip the first (range_min)", 0, 100, 0, key="rn_range_min")
    with st.expander("Strategy parameters"):
        p1, p2, p3 = st.columns(3)
        rel = p1.number_input("Relative margin (margin; 0.05 = NV-Retriever 95 %)", 0.0, 1.0, 0.05, 0.01,
                              key="rn_rel_margin")
        absm = p1.number_input("Absolute margin (margin; 0 = off)", 0.0, 1.0, 0.0, 0.01, key="rn_abs_margin")
        sim_a = p2.number_input("SimANS a", 0.0, 10.0, 0.5, 0.1, key="rn_simans_a")
        sim_k = p2.number_input("SimANS candidates (top-k)", 10, 190, 100, 10, key="rn_simans_k")
        ens_depth = p3.number_input("Ensemble / BM25 depth", 10, 100, 50, 10, key="rn_ens_depth")
        seed = p3.number_input("Seed (random, SimANS)", 0, 10_000, 0, key="rn_seed")
    build = {"dense_top": lambda: DenseTopK(n_neg, int(range_min)),
             "margin": lambda: MarginFiltered(n_neg, relative_margin=rel or None, absolute_margin=absm or None,
                                              range_min=int(range_min)),
             "simans": lambda: SimANS(n_neg, top_k=int(sim_k), a=sim_a, seed=int(seed)),
             "bm25": lambda: BM25Negatives(n_neg, int(range_min), depth=int(ens_depth)),
             "ensemble": lambda: EnsembleNegatives(n_neg, depth=int(ens_depth), range_min=int(range_min)),
             "random": lambda: RandomNegatives(n_neg, seed=int(seed))}
    if st.button("Mine negatives", key="rn_mine", type="primary", disabled=not chosen):
        with st.spinner("Mining and scoring…"):
            try:
                strategies = [build[c]() for c in chosen]
                mined = mine(ws, strategies)
                scored = analyse(ws, mined)
            except ValueError as exc:
                st.error(f"Mining failed: {exc}")
                st.stop()
        config = [repr(s) for s in strategies]
        try:
            run_id = mining_runs.save_mining_run(store(), ws.key, ds.name, config, mined, scored)
        except (OSError, ValueError) as exc:  # shown, and the result stays on screen for this session
            run_id = None
            st.warning(f"The mined result could not be saved to disk ({exc}); it is kept for this session only.")
        result = {"run_id": run_id, "key": ws.key, "mined": mined, "scored": scored, "config": config}
        st.session_state["rn_result"] = result
    if result is None:
        st.info("Choose strategies and press **Mine negatives**.")
    else:
        mined, scored = result["mined"], result["scored"]
        n_q = mined["query_id"].nunique()
        st.markdown(f"**{len(mined):,}** mined (query, negative) rows for **{n_q:,}** queries · "
                    f"**{len(scored):,}** unique pairs · **{int(scored['flagged'].sum()):,}** flagged as likely "
                    "false negatives")
        if result.get("run_id"):
            st.caption(f"Saved as run `{result['run_id']}` (reopened automatically after a restart) · "
                       + " · ".join(result["config"]))
        with st.expander("LLM judge cascade (optional)"):
            st.caption("Stage 1 asks the embedded SmolLM2 *is this document relevant? yes/no* and uses P(yes); "
                       "stage 2 re-judges what stage 1 found likely with a stronger model of your choice. "
                       "Answers are cached in the store.")
            j1, j2 = st.columns(2)
            top_n = j1.number_input("Stage 1: judge the top-N pairs by likelihood", 1, 5000, 40, key="rn_judge_n")
            if j1.button("Run stage 1 (SmolLM2)", key="rn_judge1"):
                pairs_df = scored.head(int(top_n))
                pairs = [(ds.query_texts[ds.query_index[q]], ds.embedding_texts()[ds.doc_index[d]])
                         for q, d in zip(pairs_df.query_id, pairs_df.doc_id, strict=True)]
                bar = st.progress(0.0, text="judging…")
                try:
                    p = judge_cached(store(), lambda: causal_lm("embedded:smollm2"), pairs, JudgeSpec(),
                                     progress=lambda i, n: bar.progress(i / max(1, n), text=f"judged {i}/{n}"))
                except (AssetMissingError, RuntimeError) as exc:
                    st.error(f"Stage 1 judge unavailable: {exc}")
                else:
                    s = scored.copy()
                    s.loc[pairs_df.index, "judge1"] = p
                    s.loc[pairs_df.index, "judge1_model"] = "SmolLM2"
                    result["scored"] = scored = combine(s)
                    mining_runs.update_scored(result.get("run_id"), scored)
            with j2:
                src = model_picker("Stage 2 model", {"SmolLM2 (embedded)": "embedded:smollm2"}, key="rn_judge2_model")
                thr = st.slider("Re-judge pairs with stage-1 P(yes) ≥", 0.0, 1.0, 0.5, key="rn_judge2_thr")
                if src is not None and st.button("Run stage 2", key="rn_judge2"):
                    if "judge1" not in scored:
                        st.warning("Run stage 1 first.")
                    else:
                        sel = scored[scored["judge1"].fillna(0) >= thr]
                        pairs = [(ds.query_texts[ds.query_index[q]], ds.embedding_texts()[ds.doc_index[d]])
                                 for q, d in zip(sel.query_id, sel.doc_id, strict=True)]
                        source_text = src.value if src.kind != "embedded" else f"embedded:{src.value}"
                        try:
                            p = judge_cached(store(), lambda: causal_lm(source_text), pairs,
                                             JudgeSpec(model=source_text))
                        except Exception as exc:  # any load failure is shown, not raised
                            st.error(f"Stage 2 judge unavailable: {exc}")
                        else:
                            s = scored.copy()
                            s.loc[sel.index, "judge2"] = p
                            s.loc[sel.index, "judge2_model"] = src.label
                            result["scored"] = scored = combine(s)
                            mining_runs.update_scored(result.get("run_id"), scored)
        show = scored.head(300).copy()
        show.insert(1, "query", [ds.query_texts[ds.query_index[q]] for q in show.query_id])
        show.insert(3, "document", [ds.embedding_texts()[ds.doc_index[d]][:200] for d in show.doc_id])
        cols = ["query_id", "query", "doc_id", "document", "strategies", "likelihood", "reasons", "dense_score",
                "pos_score"] + [c for c in ("judge1", "judge2") if c in show]
        st.dataframe(show[cols], hide_index=True, width="stretch",
                     column_config={"likelihood": st.column_config.ProgressColumn("FN likelihood", min_value=0.0,
                                                                                  max_value=1.0, format="%.2f")})

# ---- 3. embedding space -----------------------------------------------------------------------------------
with tab_view:
    if result is None:
        st.info("Mine negatives first.")
    else:
        mined, scored = result["mined"], result["scored"]
        order = scored.groupby("query_id")["likelihood"].max().sort_values(ascending=False).index.tolist()
        v1, v2, v3, v4 = st.columns([3, 2, 1, 1])
        qid = v1.selectbox("Query (most suspicious first)", order, key="rn_view_query",
                           format_func=lambda q: f"{q}: {ds.query_texts[ds.query_index[q]]}")
        n_docs = len(ds.doc_ids)
        nb = v2.select_slider("Corpus points around it", [n for n in (500, 2000, 5000, 20000, 100000) if n < n_docs]
                              + [n_docs], value=min(2000, n_docs), key="rn_view_n")
        method = v3.radio("Projection", ["PCA", "UMAP"], key="rn_view_method")
        colour = v4.radio("Colour", ["strategy", "likelihood"], key="rn_view_colour")
        qi = ds.query_index[qid]
        rows = projection.neighbourhood(ws.doc_emb, ws.query_emb[qi], ws.index, int(nb))
        m = mined[mined.query_id == qid].assign(doc_row=lambda f: f.doc_id.map(ds.doc_index))
        points = projection.view_points(qid, rows, ds.doc_ids, ws.positives[qi], m, scored)
        coords = None
        if method == "PCA":
            coords = projection.pca_coords(points, ws.doc_emb, ws.query_emb[qi])
        else:
            key = projection.umap_key(points, ws.model, 15, 0.1, 0, ws.key)
            coords = projection.umap_cached(key)
            if coords is None:
                st.info(f"UMAP of {len(points):,} points is not cached yet (about {max(5, len(points) // 1000)} s "
                        "plus a one-off numba compile).")
                if st.button("Compute UMAP", key="rn_umap"):
                    bar = st.progress(0.0, text="UMAP…")
                    coords = projection.umap_coords(points, ws.doc_emb, ws.query_emb[qi], key,
                                                    progress=lambda f, t: bar.progress(f, text=t))
        if coords is not None:
            state = st.plotly_chart(figure(points, coords, colour), key="rn_view_chart", on_select="rerun",
                                    selection_mode=("points", "box", "lasso"), width="stretch")
            picked = selected_rows(state)
            st.caption("Click, box- or lasso-select points to read them; only ids and coordinates are in the chart.")
            if picked:
                sel = points.iloc[picked]
                texts = ds.embedding_texts()
                sel = sel.assign(text=[ds.query_texts[qi] if r < 0 else texts[r] for r in sel.doc_row])
                st.dataframe(sel[["kind", "doc_id", "strategy", "likelihood", "text"]], hide_index=True,
                             width="stretch")

# ---- 4. annotation -------------------------------------------------------------------------------------
with tab_ann:
    annotation_panel(ws, None if result is None else result["scored"])

# ---- 5. quality --------------------------------------------------------------------------------------------
labels = store().current_labels(ds.name)
resolved = annotation.resolve(labels)
with tab_quality:
    truth = ds.extra_qrels.get("full")
    if result is not None:
        mined, scored = result["mined"], result["scored"]
        st.markdown("**Per strategy**" + (" (the *complete judgements* column uses the default dataset's hidden "
                                          "qrels/full.tsv: every sense of the word)" if truth else ""))
        st.dataframe(metrics.strategy_summary(mined, scored, resolved, truth), hide_index=True,
                     width="stretch")
        hard = metrics.hardness_frame(mined, scored)
        st.plotly_chart(px.box(hard, x="strategy", y="dense_score", points=False,
                               title="Hardness: dense score of mined negatives"), width="stretch")
        if truth:
            st.markdown("**False-negative detection against the complete judgements**")
            st.json(metrics.detection_quality(scored, truth))
    else:
        st.info("Mine negatives to see hardness and flagged shares; retrieval quality follows.")
    rows = np.flatnonzero(ds.mined_query_mask())
    run = metrics.run_from_candidates(ws.dense, ds.query_ids, ds.doc_ids, rows, depth=100)
    sets = {"labelled qrels (before)": ds.qrels, "after relabelling": metrics.relabelled_qrels(ds.qrels, resolved)}
    if truth:
        sets["complete judgements (hidden)"] = truth
    st.markdown(f"**Dense retriever `{ws.model}`**: nDCG@10, Recall@100 and Judged@10 (share of the top 10 that is "
                f"judged) before and after relabelling with {len(resolved)} annotated pairs")
    st.dataframe(metrics.evaluate(run, sets), hide_index=True, width="stretch")

# ---- 6. export ------------------------------------------------------------------------------------------------
with tab_export:
    st.download_button("Download the label table (CSV)", export.labels_csv(labels).encode(),
                       file_name=f"{ds.name}-labels.csv", mime="text/csv", key="rn_dl_labels")
    if result is None:
        st.info("Mine negatives to export corrected training data.")
    else:
        e1, e2 = st.columns(2)
        fmt = e1.selectbox("Format", list(export.EXPORT_FORMATS), format_func=export.EXPORT_FORMATS.get,
                           key="rn_export_fmt")
        add_pos = e2.checkbox("Add confirmed false negatives as positives", True, key="rn_export_addpos")
        drop_unsure = e2.checkbox("Also drop negatives labelled unsure", False, key="rn_export_unsure")
        drop_flag = e2.checkbox("Also drop unlabelled negatives flagged as likely false", False, key="rn_export_flag")
        corrected = export.correct(ds, result["mined"], resolved,
                                   export.ExportOptions(add_pos, drop_unsure, drop_flag),
                                   flagged=set(zip(result["scored"].query_id[result["scored"].flagged],
                                                   result["scored"].doc_id[result["scored"].flagged], strict=True)))
        st.caption(f"{corrected.removed} negatives removed · {len(corrected.new_qrels)} new qrels lines")
        if st.button("Prepare the export", key="rn_export_go"):
            name, data = export.export(ds, corrected, fmt)
            st.session_state["rn_export_file"] = (name, data)
        if st.session_state.get("rn_export_file"):
            name, data = st.session_state["rn_export_file"]
            st.download_button(f"Download {name} ({len(data) / 1e6:.1f} MB)", data, file_name=name,
                               key="rn_dl_export")
        if corrected.new_qrels:
            st.download_button("Download only the new qrels lines (tsv)",
                               export.qrels_tsv(corrected.new_qrels).encode(), file_name=f"{ds.name}-new-qrels.tsv",
                               key="rn_dl_qrels")
        st.dataframe(pd.DataFrame(corrected.new_qrels, columns=["query-id", "corpus-id", "score"]), hide_index=True)

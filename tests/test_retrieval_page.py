"""AppTest for the Retrieval negatives page: fresh data dir, and a prepared tiny dataset end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core import assets
from core.cache import ArrayCache
from core.retrieval import embed, wordnet_default
from core.retrieval.loaders import load_beir

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGE = "pages/retrieval_negatives.py"


def prepare_sample_with_fake_embeddings(seed: int = 0) -> None:
    """The sample WordNet dataset, with seeded random unit vectors in the embedding cache (no model work)."""
    spec = wordnet_default.SAMPLE_SPEC
    folder = wordnet_default.dataset_folder(spec)
    wordnet_default.build_wordnet_dataset(folder, spec, wordnet_dir=assets.WORDNET_DEBIAN_DIR)
    ds = load_beir(folder, split="train", name=spec.name)
    rng = np.random.default_rng(seed)
    for texts in (ds.embedding_texts(), ds.query_texts):
        x = rng.normal(size=(len(texts), 16)).astype(np.float32)
        ArrayCache("retrieval_embeddings").put(embed.cache_key(texts, "embedded:minilm"),
                                              x / np.linalg.norm(x, axis=1, keepdims=True))
    (folder / "embedded.json").write_text(json.dumps({"model": "embedded:minilm"}))


def _page(timeout: int = 120) -> AppTest:
    from components import retrieval_resources

    retrieval_resources.workspace.clear()
    retrieval_resources.dataset.clear()
    at = AppTest.from_file(APP, default_timeout=timeout).run()
    at.switch_page(PAGE).run()
    return at


def test_fresh_data_dir_offers_to_build_instead_of_blocking(data_dir):
    at = _page()
    assert not at.exception, at.exception
    assert at.title[0].value == "Retrieval negatives"
    labels = [b.label for b in at.button]
    assert "Build the default dataset" in labels


@pytest.mark.slow
@pytest.mark.skipif(not (assets.WORDNET_DEBIAN_DIR / "data.noun").exists(), reason="WordNet not installed")
def test_mine_label_quality_export_on_a_prepared_sample(data_dir_with_models):
    prepare_sample_with_fake_embeddings()
    at = _page()
    at.radio(key="rn_wordnet_size").set_value(wordnet_default.SAMPLE_SPEC.name).run()
    assert not at.exception, at.exception
    assert any("wordnet-sample" in m.value for m in at.markdown)
    at.multiselect(key="rn_strategies").set_value(["dense_top", "margin", "bm25", "simans"]).run()
    at.button(key="rn_mine").click().run()
    assert not at.exception, at.exception
    assert any("mined (query, negative) rows" in m.value for m in at.markdown)
    # LLM judge stage 1 (embedded SmolLM2) on the top 3 pairs: scores shown and written into the saved run
    at.number_input(key="rn_judge_n").set_value(3).run()
    at.button(key="rn_judge1").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    from core.retrieval import mining_runs
    from core.store import Store

    workspace = Store().runs(mining_runs.KIND)[0]["config"]["workspace"]
    saved = mining_runs.latest_mining_run(Store(), workspace)
    judged = saved["scored"]["judge1"].dropna()
    assert len(judged) == 3 and judged.between(0, 1).all()
    at.text_input(key="rn_annotator").set_value("ada").run()
    at.button(key="rn_ann_false_negative").click().run()
    assert not at.exception, at.exception
    rows = Store().current_labels("wordnet-sample")
    assert len(rows) == 1 and rows[0]["label"] == "false_negative" and rows[0]["annotator"] == "ada"
    at.button(key="rn_ann_undo").click().run()
    assert Store().current_labels("wordnet-sample") == []
    at.button(key="rn_ann_true_negative").click().run()
    assert Store().current_labels("wordnet-sample")[0]["label"] == "true_negative"
    at.button(key="rn_export_go").click().run()
    assert not at.exception, at.exception
    assert any("Recall@100" in m.value or "nDCG@10" in m.value for m in at.markdown)
    # A new session (as after a server restart): the mined run comes back from disk without pressing Mine.
    fresh = _page()
    fresh.radio(key="rn_wordnet_size").set_value(wordnet_default.SAMPLE_SPEC.name).run()
    assert not fresh.exception, fresh.exception
    assert any("mined (query, negative) rows" in m.value for m in fresh.markdown)
    assert any("Saved as run" in c.value for c in fresh.caption)

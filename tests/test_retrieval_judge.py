"""The LLM judge cascade's stage 1 on the embedded SmolLM2: scores in [0, 1], cached in the store by pair."""

from __future__ import annotations

import numpy as np
import pytest

from core import assets

PAIRS = [("what is a violin", "a bowed stringed instrument that is the highest member of the violin family"),
         ("what is a violin", "a large body of salt water partly enclosed by land"),
         ("what is a harbour", "a sheltered port where ships can take on or discharge cargo")]


@pytest.fixture(scope="module")
def smollm2():
    from core.llm.adapter import load_causal_lm

    assets.require("smollm2")  # prepared by scripts/setup.sh; a clear AssetMissingError otherwise

    return load_causal_lm("embedded:smollm2")


def test_judge_is_cached_per_pair_and_equals_the_direct_score(data_dir, smollm2):
    from core.retrieval.llm_judge import JudgeSpec, judge_cached, p_yes
    from core.store import Store

    store, loads = Store(), []

    def loader():
        loads.append(1)
        return smollm2

    first = judge_cached(store, loader, PAIRS[:2], JudgeSpec())
    assert loads == [1] and first.shape == (2,) and np.all((first >= 0) & (first <= 1))
    np.testing.assert_allclose(first, p_yes(smollm2, PAIRS[:2]), rtol=1e-5, atol=1e-6)
    again = judge_cached(store, loader, PAIRS[:2], JudgeSpec())
    assert loads == [1]  # nothing new: the model is not even loaded
    np.testing.assert_array_equal(again, first)
    mixed = judge_cached(store, loader, PAIRS, JudgeSpec())
    assert loads == [1, 1] and np.array_equal(mixed[:2], first)  # only the new pair was judged
    other_model = judge_cached(store, loader, PAIRS[:1], JudgeSpec(model="another"))
    assert loads == [1, 1, 1] and other_model.shape == (1,)  # a cache per judge model

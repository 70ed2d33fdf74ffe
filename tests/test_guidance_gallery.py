"""Gallery, grids, votes and the page's request builder (no model needed: fake results from numpy)."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from core.guidance import CFG, NAG, GenerationRequest, GuidanceConfigError, PositiveOnly, Stack, gallery
from core.guidance.base import with_strength
from core.guidance.engine import GenerationResult, MethodRun
from core.guidance.lab import LabSpec, build_request
from core.store import Store


def fake_result(methods=(PositiveOnly(), CFG(scale=5.0), NAG()), seeds=(0, 1), steps=3, size=8):
    rng = np.random.default_rng(0)
    req = GenerationRequest(prompts=["a red circle"], negatives=["red"], methods=list(methods), seeds=list(seeds),
                            steps=steps, size=size)
    samples = [(0, s) for s in seeds]
    res = GenerationResult(request=req, model={"name": "fake", "source": "random:toy"}, size=size, samples=samples)
    for label, m in zip(req.method_labels(), methods, strict=True):
        imgs = rng.integers(0, 256, (len(samples), size, size, 3), dtype=np.uint8)
        x0 = rng.integers(0, 256, (len(samples), steps, size, size, 3), dtype=np.uint8)
        res.runs.append(MethodRun(label=label, method=m, images=imgs, x0_steps=x0, seconds=0.2,
                                  seconds_per_image=0.1, peak_memory_mb=1.0, memory_kind="test"))
    return res


def test_saved_run_round_trips(data_dir):
    res = fake_result()
    run_id = gallery.save_run(res, extra={"grid": "seeds"})
    rec = gallery.load_run(run_id)
    assert [r["label"] for r in rec["runs"]] == res.request.method_labels()
    img = gallery.load_image(run_id, rec["runs"][1]["images"][1]["file"])
    assert np.array_equal(img, res.runs[1].images[1])
    strip = gallery.load_image(run_id, rec["runs"][2]["images"][0]["x0_file"])
    assert strip.shape == (8, 8 * 3, 3) and np.array_equal(strip[:, 8:16], res.runs[2].x0_steps[0, 1])
    source, req = gallery.reproduce_request(rec)
    assert source == "random:toy" and req.methods == res.request.methods and list(req.seeds) == [0, 1]
    assert req.method_labels() == res.request.method_labels()


def test_listing_filters_and_ignores_partial_runs(data_dir):
    a = gallery.save_run(fake_result())
    b = gallery.save_run(fake_result(methods=(PositiveOnly(), Stack(base=CFG(), inner=NAG()))))
    (gallery.runs_dir() / ".tmp-20200101-000000-abcdef").mkdir()  # a crashed write
    assert {r["id"] for r in gallery.list_runs()} == {a, b}
    assert [r["id"] for r in gallery.list_runs(method="CFG + NAG")] == [b]
    assert gallery.list_runs(text="blue") == []
    assert len(gallery.list_runs(model="fake")) == 2


def test_failed_write_leaves_nothing(data_dir, monkeypatch):
    calls = {"n": 0}
    real = gallery.png_bytes

    def flaky(img):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        return real(img)

    monkeypatch.setattr(gallery, "png_bytes", flaky)
    with pytest.raises(OSError):
        gallery.save_run(fake_result())
    assert list(gallery.runs_dir().iterdir()) == []


def test_bad_ids_are_refused(data_dir):
    with pytest.raises(gallery.GalleryError):
        gallery.load_run("../../etc")
    rid = gallery.save_run(fake_result())
    with pytest.raises(gallery.GalleryError):
        gallery.load_image(rid, "../run.json")


def test_grid_export_and_difference_map(data_dir):
    rid = gallery.save_run(fake_result())
    png = gallery.export_grid_png(gallery.load_run(rid), cell=32)
    import io

    from PIL import Image

    im = Image.open(io.BytesIO(png))
    assert im.size[0] > 2 * 32 and im.size[1] > 3 * 32
    x = np.zeros((4, 4, 3), np.uint8)
    y = x.copy()
    y[0, 0] = 255
    heat, mean = gallery.difference_map(x, x)
    assert mean == 0 and heat.max() == 0
    heat, mean = gallery.difference_map(x, y)
    assert mean == pytest.approx(255 / 16) and tuple(heat[0, 0]) == (255, 255, 255) and heat[1, 1].max() == 0


def test_votes_and_win_rates(data_dir):
    rec = gallery.load_run(gallery.save_run(fake_result()))
    pairs = gallery.ab_pairs(rec)
    assert len(pairs) == 3 * 2  # 3 method pairs x 2 seeds
    store = Store()
    pair = gallery.draw_pair([rec], random.Random(1))
    gallery.record_vote(store, pair, "a", "ann", client_token="t1")
    gallery.record_vote(store, pair, "a", "ann", client_token="t1")  # a double click counts once
    gallery.record_vote(store, pair, "tie", "bob")
    rows = {r["method"]: r for r in gallery.win_rates(store.votes(gallery.VOTE_EXPERIMENT))}
    assert rows[pair["method_a"]]["wins"] == 1 and rows[pair["method_a"]]["ties"] == 1
    assert rows[pair["method_a"]]["win_rate"] == pytest.approx(0.75)
    assert rows[pair["method_b"]]["losses"] == 1 and rows[pair["method_b"]]["win_rate"] == pytest.approx(0.25)


def test_strength_sweep_request():
    assert with_strength(NAG(scale=4.0), 0.0).scale == 1.0
    assert with_strength(CFG(scale=7.0), 2.0).scale == 13.0
    assert with_strength(Stack(base=CFG(), inner=NAG(scale=3.0)), 0.5).inner.scale == 2.0
    spec = LabSpec(source="random:toy", prompt="p", negative="n",
                   methods=[PositiveOnly().to_dict(), NAG().to_dict()], seeds="5, 6", grid="strengths",
                   strengths="0, 1")
    req, extra = build_request(spec)
    assert list(req.seeds) == [5] and len(req.methods) == 3
    assert extra["run_strength"] == [None, 0.0, 1.0] and req.methods[1].scale == 1.0
    json.dumps(extra)  # saved with the run
    with pytest.raises(GuidanceConfigError, match="Seeds must be whole numbers"):
        build_request(LabSpec(source="x", prompt="p", negative="n", methods=[CFG().to_dict()], seeds="1, a"))

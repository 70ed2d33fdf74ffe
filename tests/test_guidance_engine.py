"""Guidance engine on tiny random models of both architecture families (UNet cross-attention: the toy shape,
SD1.5 and SDXL shapes; MMDiT joint attention: SD3 shape). The SD pipelines are saved to disk and loaded back
through `load_adapter(<folder>)`, the same code path as a local model folder. No downloads."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from core.guidance import (  # noqa: E402
    CFG,
    NAG,
    NASA,
    VSF,
    DelayedNegative,
    GenerationRequest,
    GuidanceConfigError,
    ModelLoadError,
    PerpNeg,
    PositiveOnly,
    Stack,
    default_methods,
    generate,
    load_adapter,
    method_from_dict,
    tiny,  # noqa: E402
)

pytestmark = pytest.mark.slow
STEPS = 3
FAMILIES = ["toy", "sd15", "sdxl", "sd3", "sd35"]


@pytest.fixture(scope="module")
def adapters(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("tiny_models")
    out = {"toy": tiny.random_adapter("random:toy", device="cpu")}
    for name, build in (("sd15", tiny.sd15_pipeline), ("sdxl", tiny.sdxl_pipeline), ("sd3", tiny.sd3_pipeline),
                        ("sd35", tiny.sd35_pipeline)):
        build().save_pretrained(root / name)
        out[name] = load_adapter(str(root / name), device="cpu")
    for name in ("sd3", "sd35"):
        out[name].max_sequence_length = 8  # T5 is absent: keep its zero tokens few
    for name in ("sd15", "sdxl", "sd3", "sd35"):
        out[name].default_size = 32  # 16x16 latents: fast on a 2-core CI machine
    return out


def run(adapter, methods, prompts=("a red circle on the left",), negatives=("red",), seeds=(0,), steps=STEPS):
    req = GenerationRequest(prompts=list(prompts), negatives=list(negatives), methods=list(methods),
                            seeds=list(seeds), steps=steps, record_x0=False)
    return generate(adapter, req)


def latents(result, i=0):
    return result.runs[i].latents


def close(a, b):
    torch.testing.assert_close(a, b, atol=2e-4, rtol=2e-4)


def test_loader_picks_the_family(adapters):
    assert adapters["toy"].family == "unet" and adapters["sd15"].family == "unet"
    assert adapters["sdxl"].family == "unet" and adapters["sdxl"].xl and not adapters["sd15"].xl
    assert adapters["sd3"].family == "mmdit" and adapters["sd35"].family == "mmdit"


@pytest.mark.parametrize("family", FAMILIES)
def test_every_method_runs_and_acts(adapters, family):
    a = adapters[family]
    res = run(a, default_methods(STEPS), prompts=("a red circle", "a blue square"), negatives=("red", "blue"))
    base = res.runs[0]
    assert base.label == "Positive only"
    for r in res.runs:
        assert r.images.dtype.name == "uint8" and r.images.shape[0] == 2 and r.images.shape[-1] == 3
        assert torch.isfinite(r.latents).all(), r.label
        if r.method.attention is not None:
            assert r.guided_attention_calls > 0, f"{r.label}: the processors never ran"
        if r.label != base.label:  # every method must change something, or it is not wired in
            assert (r.latents - base.latents).abs().max() > 1e-4, f"{r.label} equals positive-only"
    assert res.run(res.runs[1].label).denoiser_calls == STEPS  # one batched call per step (CFG)
    assert res.runs[2].label.startswith("Perp-Neg") and res.runs[2].denoiser_calls == STEPS  # 3 branches, 1 call


@pytest.mark.parametrize("family", FAMILIES)
def test_off_settings_equal_positive_only(adapters, family):
    a = adapters[family]
    methods = [PositiveOnly(), NAG(scale=1.0), NASA(alpha=0.0), VSF(scale=0.0), CFG(scale=1.0),
               VSF(scale=3.0, bias=-1e4)]  # a huge negative logit bias: the flipped columns get no attention
    res = run(a, methods)
    for r in res.runs[1:]:
        close(r.latents, latents(res))


@pytest.mark.parametrize("family", FAMILIES)
def test_nag_with_negative_equal_to_positive_is_positive_only(adapters, family):
    p = "a green triangle at the top"
    res = run(adapters[family], [PositiveOnly(), NAG(scale=5.0, alpha=0.7)], prompts=(p,), negatives=(p,))
    close(res.runs[1].latents, latents(res))


@pytest.mark.parametrize("family", FAMILIES)
def test_perp_neg_with_empty_negative_is_cfg_without_negative(adapters, family):
    res = run(adapters[family], [CFG(scale=5.0), PerpNeg(scale=5.0, neg_weight=2.0)], negatives=("",))
    close(res.runs[1].latents, latents(res))


@pytest.mark.parametrize("family", FAMILIES)
def test_delayed_negative_before_k_is_cfg_with_empty(adapters, family):
    """k = steps: never switches, so it is CFG against the empty prompt; k = 0 is CFG against the negative."""
    a = adapters[family]
    res = run(a, [CFG(scale=4.0), DelayedNegative(scale=4.0, start_step=0)])
    close(res.runs[1].latents, latents(res))
    res2 = run(a, [CFG(scale=4.0), DelayedNegative(scale=4.0, start_step=STEPS - 1)], negatives=("",))
    close(res2.runs[1].latents, latents(res2))


@pytest.mark.parametrize("family", FAMILIES)
def test_batch_of_prompts_equals_one_by_one(adapters, family):
    a = adapters[family]
    methods = [CFG(scale=3.0), PerpNeg(), NAG(), Stack(base=CFG(scale=3.0), inner=NAG()), VSF(), NASA()]
    prompts, negatives = ("a red circle", "a large blue square on the right"), ("red", "square")
    batched = run(a, methods, prompts=prompts, negatives=negatives, seeds=(3, 4))
    for pi in range(2):
        single = run(a, methods, prompts=(prompts[pi],), negatives=(negatives[pi],), seeds=(3, 4))
        for rb, rs in zip(batched.runs, single.runs, strict=True):
            close(rb.latents[2 * pi:2 * pi + 2], rs.latents)


@pytest.mark.parametrize("family", FAMILIES)
def test_processors_restored_after_run_and_after_error(adapters, family):
    a = adapters[family]
    before = dict(a.denoiser.attn_processors)
    run(a, [NAG(), VSF(), NASA()])
    assert {k: id(v) for k, v in a.denoiser.attn_processors.items()} == {k: id(v) for k, v in before.items()}

    def boom(done, total, label):
        raise RuntimeError("stop in the middle of a guided run")

    req = GenerationRequest(prompts=["a red circle"], negatives=["red"], methods=[NAG()], seeds=[0], steps=STEPS)
    with pytest.raises(RuntimeError, match="stop in the middle"):
        generate(a, req, progress=boom)
    assert {k: id(v) for k, v in a.denoiser.attn_processors.items()} == {k: id(v) for k, v in before.items()}


def test_same_initial_noise_for_every_method(adapters):
    a = adapters["toy"]
    r1 = run(a, [PositiveOnly()], seeds=(7,))
    r2 = run(a, [CFG(), PositiveOnly()], seeds=(7,))
    close(r1.runs[0].latents, r2.runs[1].latents)


def test_x0_strip_is_recorded_per_step(adapters):
    a = adapters["toy"]
    req = GenerationRequest(prompts=["a red circle"], negatives=["red"], methods=[CFG()], seeds=[0, 1], steps=4)
    r = generate(a, req).runs[0]
    assert r.x0_steps.shape == (2, 4, 32, 32, 3)
    assert (r.x0_steps[:, -1].astype(int) - r.images.astype(int)).__abs__().max() <= 1  # last x0 = the image


def test_bad_requests_are_refused_with_a_message(adapters):
    a = adapters["toy"]
    with pytest.raises(GuidanceConfigError, match="positive prompt"):
        generate(a, GenerationRequest(prompts=["  "], methods=[CFG()]))
    with pytest.raises(GuidanceConfigError, match="CFG scale"):
        generate(a, GenerationRequest(prompts=["x"], methods=[CFG(scale=-1.0)]))
    with pytest.raises(GuidanceConfigError, match="NAG scale"):
        generate(a, GenerationRequest(prompts=["x"], methods=[NAG(scale=0.5)]))
    with pytest.raises(GuidanceConfigError, match="Steps"):
        generate(a, GenerationRequest(prompts=["x"], methods=[CFG()], steps=0))
    with pytest.raises(GuidanceConfigError, match="Size"):
        generate(a, GenerationRequest(prompts=["x"], methods=[CFG()], size=33))
    with pytest.raises(GuidanceConfigError, match="negative prompt"):
        generate(a, GenerationRequest(prompts=["x"], negatives=[""], methods=[CFG()]), require_negative=True)
    with pytest.raises(GuidanceConfigError, match="stack"):
        generate(a, GenerationRequest(prompts=["x"], methods=[Stack(base=NAG(), inner=CFG())]))


def test_unknown_models_get_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match="offline|Could not load"):
        load_adapter("nobody-here/no-such-model-xyz", device="cpu")
    with pytest.raises(ModelLoadError, match="No model folder"):
        load_adapter(str(tmp_path / "missing"), device="cpu")
    with pytest.raises(ModelLoadError):
        load_adapter("not a model !!", device="cpu")


def test_methods_round_trip_through_dicts():
    for m in [*default_methods(8), NAG(alpha=0.3, end=0.5)]:
        assert method_from_dict(m.to_dict()) == m
    with pytest.raises(GuidanceConfigError):
        method_from_dict({"method": "nope"})
    with pytest.raises(GuidanceConfigError):
        method_from_dict({"method": "cfg", "bogus": 1})


def test_cfg_matches_the_toy_models_reference_sampler():
    """On the real toy model (once installed), our CFG equals core.toyworld.sample's plain DDIM+CFG exactly."""
    from core import assets

    if not assets.get("toy_t2i").installed():
        pytest.skip("the toy model's weights are not installed yet")
    import numpy as np

    from core.toyworld.sample import ToyT2I, sample

    model = ToyT2I.load()
    prompt, negative = "a red circle on the left and a blue square", "blue square"
    ref = sample([prompt], negative, steps=6, guidance_scale=7.5, seed=0, model=model)
    adapter = load_adapter("embedded:toy_t2i", device="cpu")
    mine = run(adapter, [CFG(scale=7.5)], prompts=(prompt,), negatives=(negative,), steps=6).runs[0].images
    assert np.abs(ref.astype(int) - mine.astype(int)).max() <= 1


def test_out_of_memory_becomes_a_clear_error_and_restores_processors(adapters, monkeypatch):
    from core.guidance import GenerationError

    a = adapters["sd15"]
    before = {k: id(v) for k, v in a.denoiser.attn_processors.items()}
    calls = {"n": 0}
    real = a.predict

    def oom(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 1:  # after the warm-up call, inside a guided run
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(*args, **kwargs)

    monkeypatch.setattr(a, "predict", oom)
    req = GenerationRequest(prompts=["a red circle"], negatives=["red"], methods=[NAG()], seeds=[0], steps=STEPS)
    with pytest.raises(GenerationError, match="Out of memory"):
        generate(a, req)
    assert {k: id(v) for k, v in a.denoiser.attn_processors.items()} == before


@pytest.mark.parametrize("family", ["sd15", "sdxl", "sd3", "sd35"])
def test_cfg_equals_the_diffusers_pipeline(adapters, family):
    """Our loop with CFG and a negative prompt lands on the same latents as the pipeline's own __call__ from the
    same noise: text encoding (SDXL: both encoders, pooled embedding, size/crop ids; SD3: CLIP + absent T5),
    and the DDIM / flow-matching Euler steps agree."""
    a = adapters[family]
    prompt, negative, scale = "a red circle", "red", 5.0
    ours = run(a, [CFG(scale=scale)], prompts=(prompt,), negatives=(negative,)).runs[0].latents
    noise = a.initial_noise(0, 32).to(a.device)
    extra = {"max_sequence_length": a.max_sequence_length} if a.family == "mmdit" else {}
    theirs = a.pipe(prompt=prompt, negative_prompt=negative, latents=noise.clone(), num_inference_steps=STEPS,
                    guidance_scale=scale, height=32, width=32, output_type="latent", **extra).images
    close(ours, theirs)


def test_sdxl_empty_prompt_is_zeros_like_the_pipeline(adapters):
    cond = adapters["sdxl"].encode(["", "a red circle"])
    assert cond.hidden[0].abs().max() == 0 and cond.pooled[0].abs().max() == 0  # force_zeros_for_empty_prompt
    assert cond.hidden[1].abs().max() > 0 and cond.pooled.shape == (2, 8)

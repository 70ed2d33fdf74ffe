"""Safe defaults: localhost bind, no pickles, safetensors only, trust_remote_code off, upload limits, and a
failed model load or generation is a clear message."""

from __future__ import annotations

import ast
import pickle
import tempfile
import tomllib
from pathlib import Path

import pytest

from core.assets import AssetMissingError
from core.failures import describe_failure
from core.model_source import ModelSource
from core.safety import MAX_UPLOAD_BYTES, InputError
from core.store import StoreError

REPO = Path(__file__).resolve().parent.parent
SCANNED = ("core", "pages", "components", "app.py")


def _config() -> dict:
    return tomllib.loads((REPO / ".streamlit" / "config.toml").read_text("utf-8"))


def test_server_binds_to_localhost_by_default():
    server = _config()["server"]
    assert server["address"] == "127.0.0.1"
    assert server.get("enableXsrfProtection", True) is True and server.get("enableCORS", True) is True


def test_uploads_have_a_size_limit():
    limit_mb = _config()["server"]["maxUploadSize"]
    assert 0 < limit_mb <= 1024
    assert 0 < MAX_UPLOAD_BYTES <= limit_mb * 1024 * 1024  # core's per-kind cap sits inside Streamlit's


def test_run_script_does_not_override_the_bind_address():
    run = (REPO / "run.sh").read_text()
    assert "0.0.0.0" not in run and "server.address" not in run.split("app)")[1].split(";;")[0]


def _python_files():
    for name in SCANNED:
        p = REPO / name
        yield from ([p] if p.is_file() else sorted(p.rglob("*.py")))


def _kw(call: ast.Call, name: str):
    for k in call.keywords:
        if k.arg == name:
            return k.value
    return None


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def unsafe_calls(source: str, filename: str = "<src>") -> list[str]:
    """Calls that can unpickle or run code from a file: torch.load without weights_only=True, pickle/dill/joblib
    loads, np.load(allow_pickle=True), yaml.load without SafeLoader, trust_remote_code=True literals."""
    bad = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        where = f"{filename}:{node.lineno} {name}"
        wo = _kw(node, "weights_only")
        if (name.endswith("torch.load") or (name == "load" and wo is not None)) and \
                not (isinstance(wo, ast.Constant) and wo.value is True):
            bad.append(where + " without weights_only=True")
        if name.split(".")[0] in {"pickle", "cPickle", "dill", "joblib", "cloudpickle", "marshal", "shelve"} and \
                name.rsplit(".", 1)[-1] in {"load", "loads", "open", "Unpickler"}:
            bad.append(where)
        if name in {"Unpickler", "pickle.Unpickler"}:
            bad.append(where)
        ap = _kw(node, "allow_pickle")
        if isinstance(ap, ast.Constant) and ap.value is True:
            bad.append(where + " allow_pickle=True")
        trc = _kw(node, "trust_remote_code")
        if isinstance(trc, ast.Constant) and trc.value is True:
            bad.append(where + " trust_remote_code=True")
        if name.endswith("yaml.load") and "Safe" not in ast.dump(node):
            bad.append(where + " without SafeLoader")
    return bad


def test_the_scanner_catches_what_it_should():
    src = ("import torch, pickle, numpy as np\n"
           "torch.load('x')\ntorch.load('x', weights_only=False)\ntorch.load('x', weights_only=True)\n"
           "pickle.loads(b'')\nnp.load('a.npy', allow_pickle=True)\nnp.load('a.npy', allow_pickle=False)\n"
           "M.from_pretrained('m', trust_remote_code=True)\nM.from_pretrained('m', trust_remote_code=flag)\n")
    found = unsafe_calls(src)
    assert len(found) == 5, found
    assert not any(":4 " in f or ":7 " in f or ":9 " in f for f in found)


def test_no_pickle_loading_anywhere_in_the_app():
    found = [hit for p in _python_files() for hit in unsafe_calls(p.read_text("utf-8"), str(p.relative_to(REPO)))]
    assert not found, "unsafe deserialisation in app code:\n" + "\n".join(found)


@pytest.mark.slow  # the first transformers import takes seconds on a shared 2-core machine
def test_adapter_asks_for_safetensors_and_no_remote_code_by_default(monkeypatch, tmp_path):
    transformers = pytest.importorskip("transformers")
    from core.llm import adapter

    seen = []

    class Stop(Exception):
        pass

    def fake(name):
        def from_pretrained(location, **kwargs):
            seen.append((name, kwargs))
            if name == "model":
                raise Stop("stop before any weights are read")
            return object()
        return from_pretrained

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", fake("tokenizer"))
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", fake("model"))
    src = ModelSource("local", str(tmp_path))
    with pytest.raises(adapter.ModelLoadError):
        adapter.load_causal_lm(src, adapter.LoadOptions(device="cpu"))
    assert seen[-1][0] == "model" and seen[-1][1]["use_safetensors"] is True
    assert all(kw["trust_remote_code"] is False for _, kw in seen)
    seen.clear()
    with pytest.raises(adapter.ModelLoadError):
        adapter.load_causal_lm(src, adapter.LoadOptions(device="cpu", trust_remote_code=True))
    assert all(kw["trust_remote_code"] is True for _, kw in seen)  # only when the person ticked it
    assert adapter.LoadOptions().trust_remote_code is False


def test_model_picker_remote_code_toggle_is_off_and_warned():
    src = (REPO / "components" / "model_picker.py").read_text("utf-8")
    tree = ast.parse(src)
    fn = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "trust_remote_code_toggle")
    box = next(n for n in ast.walk(fn) if isinstance(n, ast.Call) and _dotted(n.func).endswith("checkbox"))
    assert isinstance(_kw(box, "value"), ast.Constant) and _kw(box, "value").value is False
    assert "trust" in ast.unparse(box).lower() and _kw(box, "help") is not None


# ---- a real tiny model: safetensors load; a pickle-only checkpoint is never unpickled ------------------------

class _Boom:
    def __reduce__(self):
        return (Path.touch, (Path(tempfile.gettempdir()) / "negspace_safe_defaults_marker",))


def _tiny_model(folder: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(["<unk>", "<s>", "</s>", "yes", "no", "is", "it", "a", "cat"])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>",
                            pad_token="</s>").save_pretrained(folder)
    cfg = LlamaConfig(vocab_size=len(vocab), hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=32)
    LlamaForCausalLM(cfg).save_pretrained(folder)


@pytest.mark.slow
def test_a_tiny_safetensors_model_loads_and_a_pickle_checkpoint_is_refused(tmp_path):
    pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    from core.llm.adapter import LoadOptions, ModelLoadError, load_causal_lm

    good = tmp_path / "good"
    _tiny_model(good)
    assert list(good.glob("*.safetensors"))
    lm = load_causal_lm(str(good), LoadOptions(device="cpu"))
    assert len(lm.generate(["is it a cat"], max_new_tokens=2)) == 1

    bad = tmp_path / "bad"
    _tiny_model(bad)
    state = torch.nn.Linear(2, 2).state_dict()
    for f in bad.glob("*.safetensors"):
        f.unlink()
    with open(bad / "pytorch_model.bin", "wb") as fh:
        pickle.dump({"state": state, "payload": _Boom()}, fh)
    marker = Path(tempfile.gettempdir()) / "negspace_safe_defaults_marker"
    marker.unlink(missing_ok=True)
    with pytest.raises(Exception) as info:  # refused when parsing the source ...
        load_causal_lm(str(bad))
    assert "pickle" in str(info.value)
    with pytest.raises(ModelLoadError):  # ... and by the loader itself (use_safetensors=True) if it got that far
        load_causal_lm(ModelSource("local", str(bad)), LoadOptions(device="cpu"))
    assert not marker.exists(), "a pickle from a model folder was deserialised"


# ---- item 6: failures are clear messages -------------------------------------------------------------------

def test_unknown_model_and_missing_asset_fail_with_clear_messages(monkeypatch):
    pytest.importorskip("transformers")
    from core import assets
    from core.llm.adapter import ModelLoadError, load_causal_lm

    with pytest.raises(ModelLoadError, match="no internet here") as info:
        load_causal_lm("no-such-org/no-such-model-xyz")
    assert "no-such-org/no-such-model-xyz" in describe_failure(info.value)
    fake = assets.Asset("smollm2", "SmolLM2", "language model", "nowhere", "bash scripts/setup.sh", lambda: None)
    monkeypatch.setitem(assets.ASSETS, "smollm2", fake)
    with pytest.raises(AssetMissingError) as info:
        load_causal_lm("embedded:smollm2")
    assert "bash scripts/setup.sh" in describe_failure(info.value)


@pytest.mark.parametrize("exc, expect", [
    (MemoryError(), "ran out of memory"),
    (RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"), "ran out of memory"),
    (type("OutOfMemoryError", (RuntimeError,), {})("MPS backend out of memory"), "ran out of memory"),
    (InputError("the file is not UTF-8"), "the file is not UTF-8"),
    (StoreError("label must be one of"), "label must be one of"),
    (FileNotFoundError("x.safetensors"), "a file is missing"),
    (ValueError(""), "ValueError"),
])
def test_describe_failure_gives_one_clear_sentence(exc, expect):
    msg = describe_failure(exc, action="Generation")
    assert expect in msg and "Traceback" not in msg


def test_out_of_memory_during_generation_leaves_the_model_usable(tmp_path, monkeypatch):
    pytest.importorskip("transformers")
    from core.llm.adapter import LoadOptions, load_causal_lm

    folder = tmp_path / "m"
    _tiny_model(folder)
    lm = load_causal_lm(str(folder), LoadOptions(device="cpu"))
    real = lm.model.generate
    monkeypatch.setattr(lm.model, "generate", lambda *a, **k: (_ for _ in ()).throw(
        RuntimeError("CUDA out of memory. Tried to allocate 40.00 GiB")))
    with pytest.raises(RuntimeError) as info:
        lm.generate(["is it a cat"], max_new_tokens=2)
    assert "ran out of memory" in describe_failure(info.value, "Generation")
    monkeypatch.setattr(lm.model, "generate", real)
    assert len(lm.generate(["is it a cat"], max_new_tokens=2)) == 1  # the next (smaller) try works

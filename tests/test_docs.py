"""The worked examples of docs/ run as written."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.mark.parametrize("doc", ["monte_carlo.md"])
def test_python_examples_run(doc):
    blocks = re.findall(r"```python\n(.*?)```", (DOCS / doc).read_text(), re.S)
    assert blocks
    for code in blocks:
        ns: dict = {}
        exec(compile(code, f"{doc}", "exec"), ns)  # noqa: S102  (our own documentation)
        if "res" in ns:
            assert 3.0 < ns["res"].value["cliq"] < 5.5


def test_readme_python_examples_run(monkeypatch):
    """Every ```python block of the README runs, in order, from the repository root."""
    root = DOCS.parent
    monkeypatch.chdir(root)
    blocks = re.findall(r"```python\n(.*?)```", (root / "README.md").read_text(), re.S)
    assert len(blocks) >= 3
    for k, code in enumerate(blocks):
        exec(compile(code, f"README.md block {k}", "exec"), {})  # noqa: S102

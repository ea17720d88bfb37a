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

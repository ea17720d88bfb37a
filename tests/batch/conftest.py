"""Shared inputs of the batch tests (session-scoped: the kernels warm once)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PORTFOLIOS = ROOT / "portfolios"


@pytest.fixture(scope="session")
def market_raw():
    return json.loads((PORTFOLIOS / "market_full.json").read_text())


@pytest.fixture(scope="session")
def mixed_doc():
    return json.loads((PORTFOLIOS / "mixed_1000.json").read_text())


@pytest.fixture(scope="session")
def small_book(tmp_path_factory, mixed_doc):
    """60 trades of the mixed book with three bad ones (bad strike, unknown underlying,
    no trade id) and a duplicate id, as a JSON file."""
    trades = [dict(t) for t in mixed_doc["trades"][:60]]
    trades[7]["strike"] = -1
    trades[23]["underlying"] = "NOPE"
    del trades[41]["trade_id"]
    trades[50]["trade_id"] = trades[10]["trade_id"]
    path = tmp_path_factory.mktemp("books") / "small.json"
    path.write_text(json.dumps({"name": "small", "trades": trades}))
    return path


@pytest.fixture(scope="session")
def warm(market_raw, mixed_doc):
    """Run every product's kernels once in this process."""
    from aadrisk.risk.greeks import greek_vectors

    greek_vectors(mixed_doc["trades"][:60], market_raw)
    return True

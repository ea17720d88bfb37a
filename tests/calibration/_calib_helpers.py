"""Helpers and fixtures shared by the calibration tests (imported by name)."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

VAL = dt.date(2024, 6, 28)


def expiries(days):
    return [(VAL + dt.timedelta(days=int(d))).isoformat() for d in days]


def surface(und, exps, strikes, vols, **extra):
    """A vol_surface quote document."""
    return {"kind": "vol_surface", "underlying": und, "valuation_date": VAL.isoformat(),
            "expiries": list(exps), "strikes": [float(k) for k in strikes],
            "vols": np.asarray(vols, float).tolist(), **extra}


# fixtures (imported by the test modules: a conftest.py here would clash with tests/conftest.py
# under --doctest-modules, both being imported as the module 'conftest')
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def market_raw():
    return json.loads((ROOT / "portfolios" / "market_full.json").read_text())


@pytest.fixture(scope="session")
def market(market_raw):
    from aadrisk.market.snapshot import MarketData
    return MarketData.from_mapping(market_raw)


@pytest.fixture(scope="session")
def rng():
    return np.random.default_rng(20241126)

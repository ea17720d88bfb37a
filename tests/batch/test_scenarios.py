"""Scenario revaluation and historical VaR / ES."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from aadrisk.batch.scenarios import (ScenarioError, load_scenarios, run_scenarios,
                                     scenario_bumps, var_es)
from aadrisk.market.snapshot import MarketData
from aadrisk.risk.greeks import greek_vectors

ROOT = Path(__file__).resolve().parents[2]


def test_var_es_convention():
    pnl = np.arange(-50.0, 50.0)             # 100 scenarios, losses 1..50
    v, es, k = var_es(pnl, 0.95)
    assert k == 5 and v == 46.0 and es == pytest.approx(np.mean([50, 49, 48, 47, 46]))
    v, es, k = var_es(pnl, 0.99)
    assert (v, es, k) == (50.0, 50.0, 1)
    assert math.isnan(var_es(np.array([]), 0.99)[0])


def test_bumps_of_each_shift_kind(market_raw):
    m = MarketData.from_mapping(market_raw)
    b = scenario_bumps({"curve_bp": 10}, m)
    assert set(b) == {lab for lab in m.labels if lab.startswith("curve/")}
    assert all(x == pytest.approx(1e-3) for x in b.values())
    b = scenario_bumps({"curve_bp": {"USD": 5}, "bucket_bp": {"curve/USD-SOFR/swap/5Y": 1}}, m)
    assert set(b) == {lab for lab in m.labels if lab.startswith("curve/USD-SOFR/")}
    assert b["curve/USD-SOFR/swap/5Y"] == pytest.approx(6e-4)
    b = scenario_bumps({"spot": {"SPX": -0.1}, "vol_points": {"SPX": 2,
                                                              "vol/AAPL": 1}}, m)
    assert b["spot/SPX"] == pytest.approx(-0.1 * m.spots["SPX"])
    assert b["vol/AAPL"] == pytest.approx(0.01)
    assert sum(lab.startswith("vol/SPX/") for lab in b) == 20
    for bad in ({"bucket_bp": {"curve/NOPE/swap/1Y": 1}}, {"spot": {"XX": 0.1}},
                {"curve_bp": {"JPY": 1}}):
        with pytest.raises(ScenarioError):
            scenario_bumps(bad, m)


def test_scenario_file_validation():
    with pytest.raises(ScenarioError, match="unknown field"):
        load_scenarios({"scenarios": [{"name": "x", "spots": {}}]})
    with pytest.raises(ScenarioError, match="duplicate name"):
        load_scenarios({"scenarios": [{"name": "x"}, {"name": "x"}]})
    with pytest.raises(ScenarioError, match="confidence"):
        load_scenarios({"historical": {"confidence": 1.5}})
    with pytest.raises(ScenarioError, match="finite number"):
        load_scenarios({"scenarios": [{"name": "x", "spot": {"SPX": "10"}}]})
    sc, st = load_scenarios(json.loads((ROOT / "portfolios" / "scenarios_full.json")
                                       .read_text()))
    assert sum(s.historical for s in sc) == 250 and st["confidence"] == 0.99


def test_scenario_pnl_is_full_revaluation(market_raw, mixed_doc, warm):
    book = mixed_doc["trades"][:40]
    spec = {"name": "mix", "spot": {"SPX": 0.03}, "vol_points": {"*": 2}, "curve_bp": 20}
    sc, st = load_scenarios({"scenarios": [{"name": "flat"}, spec],
                             "historical": {"scenarios": []}})
    r = run_scenarios(book, market_raw, sc, st)
    assert r.ok
    flat = r.pnl[r.pnl["scenario"] == "flat"]["pnl"]
    assert (flat == 0).all()
    m = MarketData.from_mapping(market_raw)
    bumped = MarketData.from_mapping(market_raw, bumps=scenario_bumps(spec, m))
    p1 = greek_vectors(book, bumped).prices.set_index("trade")["price"]
    p0 = greek_vectors(book, m).prices.set_index("trade")["price"]
    got = r.pnl[r.pnl["scenario"] == "mix"].set_index("trade")["pnl"]
    np.testing.assert_allclose(got, (p1 - p0).reindex(got.index), rtol=1e-9, atol=1e-7)
    assert (r.var["sample"] == "all scenarios").all()


def test_historical_var_matches_the_book_pnl_sample(market_raw, mixed_doc, warm):
    doc = json.loads((ROOT / "portfolios" / "scenarios_full.json").read_text())
    doc["historical"]["scenarios"] = doc["historical"]["scenarios"][:40]
    doc["scenarios"] = doc["scenarios"][:2]
    sc, st = load_scenarios(doc)
    st["confidence"] = 0.95
    r = run_scenarios(mixed_doc["trades"][:30], market_raw, sc, st)
    for row in r.var.itertuples(index=False):
        h = r.by_scenario[(r.by_scenario["historical"]) & (r.by_scenario["currency"] ==
                                                           row.currency)]
        v, es, k = var_es(h["pnl"].to_numpy(), 0.95)
        assert (row.var, row.es, row.k_tail, row.n_scenarios) == (v, es, k, 40)
        assert row.es >= row.var


def test_a_trade_that_breaks_in_a_scenario_is_reported(market_raw):
    book = [{"trade_id": "P", "underlying": "AAPL", "option_type": "put", "strike": 200,
             "expiry": "2025-01-17", "quantity": 1}]
    sc, st = load_scenarios({"scenarios": [{"name": "vol wipe", "vol_points": {"AAPL": -30}},
                                           {"name": "ok", "spot": {"AAPL": 0.01}}]})
    r = run_scenarios(book, market_raw, sc, st)
    assert list(r.errors["scenario"]) == ["vol wipe"]
    assert np.isfinite(r.pnl[r.pnl["scenario"] == "ok"]["pnl"]).all()


def test_scenario_numbers_do_not_depend_on_workers_or_grouping(market_raw, mixed_doc, warm):
    doc = json.loads((ROOT / "portfolios" / "scenarios_full.json").read_text())
    doc["historical"]["scenarios"] = doc["historical"]["scenarios"][:20]
    sc, st = load_scenarios(doc)
    book = mixed_doc["trades"][:50]
    a = run_scenarios(book, market_raw, sc, st, workers=1, group_size=100)
    b = run_scenarios(book, market_raw, sc, st, workers=2, group_size=3)
    import pandas as pd
    pd.testing.assert_frame_equal(a.pnl, b.pnl, check_exact=True)
    pd.testing.assert_frame_equal(a.var, b.var, check_exact=True)


def test_scenario_market_shortcut_equals_the_full_parse(market_raw, mixed_doc, warm):
    """Markets of scenarios that leave the curves alone reuse the base bootstrap: the prices
    must be exactly those of a full MarketData.from_mapping with the bumps."""
    from aadrisk.batch.scenarios import _safe_prices, scenario_market
    from aadrisk.risk.greeks import parse_greek_trade

    base = MarketData.from_mapping(market_raw)
    trades = [parse_greek_trade(t, i)[0] for i, t in enumerate(mixed_doc["trades"][:120])]
    doc = json.loads((ROOT / "portfolios" / "scenarios_full.json").read_text())
    specs = doc["scenarios"] + doc["historical"]["scenarios"][:3] + \
        [{"name": "div", "shifts": {"div/SPX": 0.01}}, {"name": "flat", "spot": {"SPX": 0.0}}]
    shortcut = 0
    for spec in specs:
        b = scenario_bumps(spec, base)
        fast = scenario_market(market_raw, b, base)
        full = MarketData.from_mapping(market_raw, bumps=b)
        shortcut += fast.curve_sets["USD-SOFR"] is base.curve_sets["USD-SOFR"]
        assert sorted(fast.labels) == sorted(full.labels)
        assert fast.problems == full.problems
        np.testing.assert_array_equal(_safe_prices(trades, fast)[0], _safe_prices(trades, full)[0])
    assert shortcut >= 4

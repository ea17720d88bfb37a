"""P&L explain: full revaluation against the Greeks' prediction."""
from __future__ import annotations

import copy

import numpy as np
import pytest

from aadrisk.batch.explain import TERMS, explain_pnl, market_values
from aadrisk.market.snapshot import MarketData


def test_market_values_cover_every_input_label(market_raw):
    m = MarketData.from_mapping(market_raw)
    x = market_values(m)
    assert set(m.labels) <= set(x)
    assert x["spot/SPX"] == market_raw["underlyings"]["SPX"]["spot"]
    assert x["vol/SPX/2025-06-20/5500"] == market_raw["vol_surfaces"]["SPX"]["vols"][2][2]
    assert x["curve/USD-SOFR/swap/5Y"] == 0.0418 and x["model/heston/SPX/kappa"] == 1.8
    flat = MarketData.from_mapping({"valuation_date": "2024-06-28", "rates": {"USD": 0.05},
                                    "underlyings": {"X": {"spot": 1.0, "vol": 0.2,
                                                          "currency": "USD"}}})
    assert market_values(flat) == {"spot/X": 1.0, "div/X": 0.0, "vol/X": 0.2, "rate/USD": 0.05}


def test_no_move_explains_nothing(market_raw, mixed_doc, warm):
    r = explain_pnl(mixed_doc["trades"][:60], market_raw, market_raw)
    assert r.ok and len(r.trades) == 60
    assert (r.trades["actual"] == 0).all() and (r.trades["predicted"] == 0).all()


def _moved(raw, h):
    b = copy.deepcopy(raw)
    b["underlyings"]["SPX"]["spot"] *= 1 + 0.01 * h
    b["underlyings"]["AAPL"]["spot"] *= 1 - 0.01 * h
    b["vol_surfaces"]["SPX"]["vols"] = [[v + 0.005 * h for v in row]
                                        for row in b["vol_surfaces"]["SPX"]["vols"]]
    b["curves"]["USD-SOFR"]["quotes"][3]["rate"] += 0.001 * h
    b["models"]["heston"]["SPX"]["v0"] += 0.001 * h
    return b


def test_spot_only_move_leaves_a_third_order_remainder(market_raw):
    book = [{"trade_id": "C", "underlying": "SPX", "option_type": "call", "strike": 5500,
             "expiry": "2025-06-20", "quantity": 10}]
    res = []
    for h in (1.0, 0.5):
        b = copy.deepcopy(market_raw)
        b["underlyings"]["SPX"]["spot"] *= 1 + 0.01 * h
        t = explain_pnl(book, market_raw, b).trades.iloc[0]
        assert t["vega"] == 0 and t["par"] == 0 and t["cross"] == 0
        assert abs(t["unexplained"]) < 2e-3 * abs(t["actual"])
        res.append(abs(t["unexplained"]))
    assert res[0] / res[1] > 6.0      # O(dS^3)


#: products whose Greek vectors carry every second-order term a mixed move needs (the
#: rates products have no curve convexity rows, Monte Carlo options no volga)
SECOND_ORDER_COMPLETE = {"european_option", "digital_option", "barrier_option",
                         "geometric_asian", "heston_option", "sabr_option"}


def test_mixed_move_is_explained_to_second_order(market_raw, mixed_doc, warm):
    book = [t for t in mixed_doc["trades"] if t["product"] in SECOND_ORDER_COMPLETE][:200]
    un = []
    for h in (1.0, 0.5):
        r = explain_pnl(book, market_raw, _moved(market_raw, h))
        t = r.trades
        assert r.ok and r.unmapped == []
        assert t["unexplained"].abs().sum() < 0.01 * t["actual"].abs().sum()
        # the per-factor rows add up to each trade's prediction
        per = r.factors.groupby("trade")["contribution"].sum()
        np.testing.assert_allclose(t.set_index("trade")["predicted"], per.reindex(t["trade"]),
                                   rtol=1e-12, atol=1e-9)
        for term in ("delta", "gamma", "vega", "par", "model", "cross"):
            assert (t[term] != 0).any(), term
        un.append(t["unexplained"].abs().sum())
    assert un[0] / un[1] > 3.0


def test_theta_rows_are_used_with_the_elapsed_time(market_raw):
    """The theta term is the trade's theta Greek (label ``time``) times the elapsed years."""
    from aadrisk.market.snapshot import MarketData
    from aadrisk.risk.greeks import greek_vectors

    later = copy.deepcopy(market_raw)
    later["valuation_date"] = "2024-07-01"           # three days later, same quotes
    book = [{"trade_id": "C", "underlying": "SX5E", "option_type": "call", "strike": 5000,
             "expiry": "2025-06-20", "quantity": 1}]
    g = greek_vectors(book, MarketData.from_mapping(market_raw)).greeks
    theta = float(g.loc[g["greek"] == "theta", "value"].sum())
    assert theta != 0.0
    t = explain_pnl(book, market_raw, later).trades.iloc[0]
    assert t["theta"] == pytest.approx(theta * 3 / 365.0, rel=1e-12)
    assert list(TERMS).index("theta") >= 0


def test_trade_expired_in_the_second_market_is_an_error_the_rest_explained(market_raw):
    later = copy.deepcopy(market_raw)
    later["valuation_date"] = "2024-10-01"
    later["vol_surfaces"]["SPX"]["expiries"][0] = "2024-10-18"
    book = [{"trade_id": "A", "underlying": "SX5E", "option_type": "put", "strike": 4800,
             "expiry": "2024-09-20", "quantity": 1},
            {"trade_id": "B", "underlying": "SX5E", "option_type": "put", "strike": 4800,
             "expiry": "2025-09-19", "quantity": 1}]
    r = explain_pnl(book, market_raw, later, file="b.json")
    assert list(r.trades["trade"]) == ["B"]
    assert list(r.errors["trade_id"]) == ["A"] and list(r.errors["position"]) == [0]
    assert "second market" in r.errors["message"].iloc[0]

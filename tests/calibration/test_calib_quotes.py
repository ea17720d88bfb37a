"""Bad quotes give clear errors naming the quote (label, expiry, strike, value)."""
from __future__ import annotations

import numpy as np
import pytest

from aadrisk.calibration import CalibrationError, QuoteError, parse_quotes
from aadrisk.calibration.heston import calibrate_heston
from aadrisk.calibration.local_vol import calibrate_local_vol
from aadrisk.calibration.sabr import calibrate_sabr
from aadrisk.models.local_vol import LocalVolArbitrageError

from _calib_helpers import VAL, expiries, surface

EXPS = expiries([90, 180, 365])
K = [4800.0, 5200.0, 5500.0, 5800.0, 6200.0]


def good():
    return surface("SPX", EXPS, K, [[0.20, 0.17, 0.15, 0.14, 0.145]] * 3)


def test_a_good_surface_parses_with_labels():
    q = parse_quotes(good(), VAL)
    assert len(q.quotes) == 15
    assert q.labels[0] == f"vol/SPX/{EXPS[0]}/4800"
    assert q.quotes[0].t == pytest.approx(90 / 365)


def test_negative_vol_names_the_quote():
    doc = good()
    doc["vols"][1][2] = -0.15
    with pytest.raises(QuoteError, match=rf"vol/SPX/{EXPS[1]}/5500 .*strike 5500, vol -0.15.*"
                                         "must be positive"):
        parse_quotes(doc, VAL)


def test_missing_vol_names_the_quote():
    doc = good()
    doc["vols"][2][0] = None
    with pytest.raises(QuoteError, match=rf"vol/SPX/{EXPS[2]}/4800.*missing vol"):
        parse_quotes(doc, VAL)
    lst = {"underlying": "SPX", "valuation_date": VAL.isoformat(),
           "quotes": [{"expiry": EXPS[0], "strike": 5000}]}
    with pytest.raises(QuoteError, match=rf"vol/SPX/{EXPS[0]}/5000.*missing vol"):
        parse_quotes(lst, VAL)


def test_non_numeric_vol_and_expiry_before_valuation():
    doc = good()
    doc["vols"][0][1] = "abc"
    with pytest.raises(QuoteError, match=rf"vol/SPX/{EXPS[0]}/5200.*'abc' is not a finite"):
        parse_quotes(doc, VAL)
    doc = good()
    doc["expiries"][0] = "2024-06-01"
    with pytest.raises(QuoteError, match="vol/SPX/2024-06-01/4800.*not after the valuation"):
        parse_quotes(doc, VAL)


def test_valuation_date_must_match_the_market():
    import datetime as dt
    with pytest.raises(QuoteError, match="differs from the market"):
        parse_quotes(good(), dt.date(2024, 7, 1))


def test_expiry_with_too_few_strikes_is_named():
    doc = {"underlying": "SPX", "valuation_date": VAL.isoformat(), "quotes":
           [{"expiry": EXPS[0], "strike": k, "vol": 0.15} for k in K] +
           [{"expiry": EXPS[1], "strike": k, "vol": 0.15} for k in K[:2]]}
    q = parse_quotes(doc, VAL)
    with pytest.raises(QuoteError, match=rf"expiry {EXPS[1]}: 2 strike\(s\) \(4800, 5200\); "
                                         "SABR .* needs at least 3"):
        calibrate_sabr(q, spot=5460.0, rate=0.05, div=0.01)


def test_calendar_arbitrage_names_the_later_quote():
    doc = good()
    doc["vols"][2][2] = 0.10       # total variance at 1y below that at 6m near the money
    q = parse_quotes(doc, VAL)
    with pytest.raises(QuoteError, match=rf"calendar arbitrage: quote vol/SPX/{EXPS[2]}/5500 "
                                         r"\(vol 0.1,"):
        calibrate_heston(q, spot=5460.0, rate=0.05, div=0.01)
    with pytest.raises(QuoteError, match="calendar arbitrage"):
        calibrate_sabr(q, spot=5460.0, rate=0.05, div=0.01)
    with pytest.raises(QuoteError, match="calendar arbitrage"):
        calibrate_local_vol(q, spot=5460.0, rate=0.05, div=0.01)


def test_butterfly_arbitrage_names_the_quote():
    # one expiry with a vol spike at 5500: the density is negative beside it
    doc = surface("SPX", EXPS[:1], K, [[0.15, 0.15, 0.40, 0.15, 0.15]])
    q = parse_quotes(doc, VAL)
    with pytest.raises(LocalVolArbitrageError, match=r"butterfly arbitrage: quote vol/SPX/"):
        calibrate_local_vol(q, spot=5460.0, rate=0.05, div=0.01)


def test_local_vol_needs_a_full_grid():
    doc = {"underlying": "SPX", "valuation_date": VAL.isoformat(), "quotes":
           [{"expiry": EXPS[0], "strike": k, "vol": 0.15} for k in K] +
           [{"expiry": EXPS[1], "strike": k, "vol": 0.16} for k in K[:4]]}
    with pytest.raises(QuoteError, match=rf"expiry {EXPS[1]} has no quote at strike\(s\) 6200"):
        calibrate_local_vol(parse_quotes(doc, VAL), spot=5460.0, rate=0.05, div=0.0)


def test_duplicates_unknown_fields_and_bad_rate_quotes():
    doc = {"underlying": "SPX", "valuation_date": VAL.isoformat(), "quotes":
           [{"expiry": EXPS[0], "strike": 5000, "vol": 0.15},
            {"expiry": EXPS[0], "strike": 5000.0, "vol": 0.16}]}
    with pytest.raises(QuoteError, match=rf"vol/SPX/{EXPS[0]}/5000.*duplicate"):
        parse_quotes(doc, VAL)
    with pytest.raises(QuoteError, match="unknown field"):
        parse_quotes({**good(), "volz": []}, VAL)
    sw = {"kind": "swaption", "currency": "USD", "quotes": [{"expiry": "1Y", "tenor": "5Y",
                                                             "vol": -0.01}]}
    with pytest.raises(QuoteError, match=r"swaption/USD/1Y/5Y.*must be positive"):
        parse_quotes(sw, VAL)
    sw["quotes"][0] = {"expiry": "1Q", "tenor": "5Y", "vol": 0.01}
    with pytest.raises(QuoteError, match="tenor '1Q'"):
        parse_quotes(sw, VAL)


def test_heston_needs_five_weighted_quotes():
    doc = surface("SPX", EXPS[:1], K[:4], [[0.2, 0.17, 0.15, 0.14]])
    with pytest.raises(CalibrationError, match="at least 5 quotes"):
        calibrate_heston(parse_quotes(doc, VAL), spot=5460.0, rate=0.05, div=0.0)
    assert np.isfinite(0.0)

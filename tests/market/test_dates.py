"""Day counts, business-day adjustment and schedules vs QuantLib on seeded random cases."""
from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from aadrisk.market.dates import (add_tenor, adjust, parse_tenor, schedule, tenor_months,
                                  year_fraction)

ql = pytest.importorskip("QuantLib")


def _q(d):
    return ql.Date(d.day, d.month, d.year)


def _py(d):
    return date(d.year(), d.month(), d.dayOfMonth())


def _rand_dates(rng, n):
    base = date(2000, 1, 1)
    return [base + timedelta(days=int(x)) for x in rng.integers(0, 365 * 40, n)]


def test_day_counts_vs_quantlib():
    rng = np.random.default_rng(1)
    d1s, d2s = _rand_dates(rng, 400), _rand_dates(rng, 400)
    # month ends stress the 30/360 rules
    d1s += [date(2024, 1, 31), date(2024, 2, 29), date(2023, 2, 28), date(2024, 3, 30)]
    d2s += [date(2024, 3, 31), date(2024, 3, 31), date(2023, 5, 31), date(2024, 5, 31)]
    dcs = {"ACT/360": ql.Actual360(), "ACT/365F": ql.Actual365Fixed(),
           "30/360": ql.Thirty360(ql.Thirty360.BondBasis)}
    for a, b in zip(d1s, d2s):
        a, b = min(a, b), max(a, b)
        for name, dc in dcs.items():
            assert year_fraction(a, b, name) == pytest.approx(dc.yearFraction(_q(a), _q(b)),
                                                              abs=1e-15), (name, a, b)


def test_adjust_vs_quantlib_with_holidays():
    rng = np.random.default_rng(2)
    hol = set(_rand_dates(rng, 300))
    cal = ql.BespokeCalendar("aadrisk-test")
    cal.addWeekend(ql.Saturday)
    cal.addWeekend(ql.Sunday)
    for h in hol:
        cal.addHoliday(_q(h))
    conv = {"F": ql.Following, "MF": ql.ModifiedFollowing, "P": ql.Preceding,
            "U": ql.Unadjusted}
    for d in _rand_dates(rng, 500) + sorted(hol)[:50]:
        for name, c in conv.items():
            assert adjust(d, name, hol) == _py(cal.adjust(_q(d), c)), (name, d)


def test_schedules_vs_quantlib():
    rng = np.random.default_rng(3)
    cal = ql.WeekendsOnly()
    for start in _rand_dates(rng, 60):
        for tenor in ("3M", "6M", "1Y"):
            years = int(rng.integers(1, 12))
            end = add_tenor(start, f"{years}Y") + timedelta(days=int(rng.integers(0, 40)))
            for backward in (True, False):
                rule = ql.DateGeneration.Backward if backward else ql.DateGeneration.Forward
                qs = ql.Schedule(_q(start), _q(end), ql.Period(tenor), cal, ql.ModifiedFollowing,
                                 ql.ModifiedFollowing, rule, False)
                ours = schedule(start, end, tenor, "MF", backward=backward)
                assert ours == [_py(d) for d in qs], (start, end, tenor, backward)


def test_tenors():
    assert parse_tenor("1W") == (1, "W") and parse_tenor("3m") == (3, "M")
    assert parse_tenor("5Y") == (5, "Y")
    assert add_tenor(date(2024, 1, 31), "1M") == date(2024, 2, 29)
    assert add_tenor(date(2024, 1, 1), "2W") == date(2024, 1, 15)
    assert tenor_months("2Y") == 24.0
    for bad in ("", "3", "M3", "3X", "1.5Y", None):
        with pytest.raises(ValueError, match="bad tenor"):
            parse_tenor(bad)
    with pytest.raises(ValueError, match="unknown day count"):
        year_fraction(date(2024, 1, 1), date(2024, 2, 1), "ACT/ACT")
    with pytest.raises(ValueError, match="not after"):
        schedule(date(2024, 1, 1), date(2024, 1, 1), "3M")


_BDC = {"U": "Unadjusted", "F": "Following", "MF": "ModifiedFollowing", "P": "Preceding"}


def test_schedules_with_end_of_month_rule_vs_quantlib():
    """4,000 seeded random schedules (half anchored on month ends, weekends and holidays,
    backward and forward, every convention, end convention U / same / MF, EOM rule on and
    off) equal ql.Schedule(..., endOfMonth) date for date."""
    import calendar
    rng = np.random.default_rng(11)
    hol = frozenset(date(2024, 12, 31) + timedelta(days=int(k)) for k in range(0, 1400, 97))
    qcal = ql.BespokeCalendar("H")
    qcal.addWeekend(ql.Saturday)
    qcal.addWeekend(ql.Sunday)
    for h in hol:
        qcal.addHoliday(_q(h))
    n = 0
    for _ in range(4000):
        start = date(2023, 1, 1) + timedelta(days=int(rng.integers(0, 800)))
        end = add_tenor(start, str(rng.choice(["7M", "1Y", "18M", "2Y", "5Y", "10Y"])))
        if rng.random() < 0.6:
            end = date(end.year, end.month, calendar.monthrange(end.year, end.month)[1])
            end -= timedelta(days=int(rng.integers(0, 3)) if rng.random() < 0.3 else 0)
        if rng.random() < 0.5:
            start = date(start.year, start.month,
                         calendar.monthrange(start.year, start.month)[1])
        if end <= start:
            continue
        tenor = str(rng.choice(["1M", "2M", "3M", "6M", "1Y"]))
        conv = str(rng.choice(list(_BDC)))
        tconv = [None, "U", "MF"][int(rng.integers(0, 3))]
        back, eom = bool(rng.random() < 0.7), bool(rng.random() < 0.8)
        mine = schedule(start, end, tenor, conv, hol, backward=back, end_convention=tconv,
                        eom=eom)
        s = ql.Schedule(_q(start), _q(end), ql.Period(tenor), qcal,
                        getattr(ql, _BDC[conv]), getattr(ql, _BDC[tconv or conv]),
                        ql.DateGeneration.Backward if back else ql.DateGeneration.Forward, eom)
        assert mine == [_py(d) for d in s], (start, end, tenor, conv, tconv, back, eom)
        n += 1
    assert n > 3500


def test_end_of_month_helpers_and_payment_lag():
    from aadrisk.market.dates import add_business_days, end_of_month, is_end_of_month
    cal = ql.WeekendsOnly()
    rng = np.random.default_rng(5)
    for d in _rand_dates(rng, 500):
        assert is_end_of_month(d) == cal.isEndOfMonth(_q(d))
        assert end_of_month(d) == _py(cal.endOfMonth(_q(d)))
        for lag in (1, 2, 5):
            assert add_business_days(d, lag) == _py(cal.advance(_q(d), lag, ql.Days))
        assert add_business_days(d, 0) == d
    with pytest.raises(ValueError, match=">= 0"):
        add_business_days(date(2024, 1, 1), -1)

"""The compiled glue of the surface-vol equity engines and of greek_arrays against the
generic NumPy path: bit-identical inputs, rows, tables and order."""
from __future__ import annotations

import datetime as dt
import json
import pathlib

import numpy as np
import pytest

from aadrisk.market.snapshot import MarketData
from aadrisk.risk import _kernels as K
from aadrisk.risk import _vet_columns as V
from aadrisk.risk.columns import BookColumns, factorize, vet_book
from aadrisk.risk.greeks import GREEK_PRODUCTS, greek_arrays
from aadrisk.risk.products import _equity_fast, equity

ROOT = pathlib.Path(__file__).resolve().parents[2]
RAW = json.loads((ROOT / "portfolios" / "market_full.json").read_text())
FLAT = json.loads((ROOT / "portfolios" / "demo_market.json").read_text())
SPOTS = {"SPX": 5460.48, "AAPL": 210.62, "SX5E": 4894.02}
#: on, between and beyond the SPX surface's nodes and slices, the curves' pillars
STRIKES = [4500, 5000, 5500.0, 6500, 4499.99, 6500.01, 4000, 7000, 5250.5]
EXPIRIES = ["2024-06-29", "2024-09-20", "2024-09-21", "2024-12-20", "2025-06-20",
            "2025-12-19", "2025-12-20", "2026-06-30", "2034-06-28"]


def _book(product):
    out = []
    for u, f in ((u, s / SPOTS["SPX"]) for u, s in SPOTS.items()):
        for k in STRIKES:
            for e in EXPIRIES:
                i = len(out)
                t = {"trade_id": f"E{i}", "product": product, "underlying": u,
                     "option_type": "call" if i % 2 else "put", "expiry": e,
                     "strike": k if u == "SPX" else round(k * f, 2), "quantity": i % 7 - 3}
                if product == "digital_option":
                    t["payoff"] = "asset" if i % 3 else "cash"
                if product == "barrier_option":
                    t["barrier"] = t["strike"] * (1.2 if i % 2 else 0.8)
                    t["barrier_type"] = "up_out" if i % 2 else "down_in"
                if product == "geometric_asian":
                    t["n_fixings"] = 12 * (i % 2)
                out.append(t)
    return out


def _same(a, b):
    """GreekArrays ``a`` and ``b`` equal bit for bit (NaN payloads included)."""
    assert (a.labels, a.kinds, a.valuation_date) == (b.labels, b.kinds, b.valuation_date)
    assert [str(e) for e in a.errors] == [str(e) for e in b.errors]
    for x, y in ((a.prices, b.prices), (a.greeks, b.greeks), (a.zero_greeks, b.zero_greeks)):
        assert list(x) == list(y)
        for c in x:
            u, v = np.asarray(x[c]), np.asarray(y[c])
            assert u.dtype == v.dtype and u.shape == v.shape, c
            if u.dtype == object:
                assert u.tolist() == v.tolist(), c
            else:
                assert u.tobytes() == v.tobytes(), c


@pytest.mark.parametrize("product", sorted(equity._USES_VOL))
@pytest.mark.parametrize("raw", [RAW, FLAT], ids=["curves", "flat"])
def test_kernels_equal_generic_rows(product, raw, monkeypatch):
    book = _book(product)
    fast = greek_arrays(BookColumns.from_mappings(book), MarketData.from_mapping(raw))
    assert fast.evaluated and len(fast.greeks["value"]) > 0
    monkeypatch.setattr(_equity_fast, "inputs", lambda *a: None)
    slow = greek_arrays(BookColumns.from_mappings(book), MarketData.from_mapping(raw))
    _same(fast, slow)


def test_repeated_labels_take_the_generic_path():
    raw = json.loads(json.dumps(RAW))
    raw["vol_surfaces"]["SPX"]["strikes"] = [4500, 5000, 5460.481, 5460.482, 6500]
    m = MarketData.from_mapping(raw)
    assert not _equity_fast.distinct_labels(m.vols["SPX"].labels)
    got = greek_arrays(_book("european_option"), m)
    assert got.evaluated and "vol/SPX/2024-09-20/5460.48" in got.labels


def test_snapshot_memo_is_per_source():
    m = MarketData.from_mapping(RAW)
    a = greek_arrays(_book("european_option"), m)
    assert m.derived()                               # per-date coefficients kept
    _same(a, greek_arrays(_book("european_option"), m))
    m.derived().clear()
    _same(a, greek_arrays(_book("european_option"), m))


def test_factorized_follows_take():
    book = [{"trade_id": f"T{i}", "underlying": u, "option_type": "call", "strike": 100,
             "expiry": e, "quantity": 1}
            for i, (u, e) in enumerate([("B", "2025-01-02"), ("A", "2025-01-03"),
                                        ("B", " 2025-01-02"), ("C", "2025-01-02")])]
    fast, slow = vet_book(book, GREEK_PRODUCTS, {"european_option"})
    cols = fast["european_option"][1]
    assert not slow and cols.codes
    for name in ("underlying", "expiry", "option_type"):
        codes, uniq = cols.factorized(name)
        ref = factorize(cols[name])
        assert codes.tolist() == ref[0].tolist() and uniq == ref[1]
        for idx in ([1, 3], np.array([False, True, True, True]), [3, 0]):
            sub = cols.take(idx)
            codes, uniq = sub.factorized(name)
            ref = factorize(sub[name])
            assert codes.tolist() == ref[0].tolist() and uniq == ref[1]
    assert cols.factorized("expiry")[1] == [dt.date(2025, 1, 2), dt.date(2025, 1, 3)]


def _coded(col):
    distinct = list(dict.fromkeys(col))
    codes = np.array([distinct.index(a) for a in col], dtype=np.int64)
    return V.CodedList(col, codes, distinct)


@pytest.mark.parametrize("name,col", [
    ("underlying", ["SPX", "AAPL", "SPX", "SX5E", "AAPL"]),
    ("underlying", [" spx", "SPX", "spx ", "AAPL"]),           # distinct texts, one value?
    ("expiry", ["2025-01-02", " 2025-01-02", "2025-01-03", "2025-01-02"]),
    ("expiry", ["2025-01-02", "not a date", "2025-01-02"]),     # one fails: the usual path
    ("option_type", ["call", "put", "put", "call"]),
    ("option_type", ["call", "CALL", "straddle"])])
def test_by_value_of_a_coded_list_is_the_list_s(name, col):
    """A column that knows its codes (service.bodycodes) is vetted to the same result."""
    conv = GREEK_PRODUCTS["european_option"].validators[name]
    got, want = V._by_value(_coded(col), conv, frozenset({str})), \
        V._by_value(list(col), conv, frozenset({str}))
    assert got[0].tolist() == want[0].tolist() and list(got[1]) == list(want[1])
    plain = (lambda t: None if t is None else
             [x.tolist() if isinstance(x, np.ndarray) else x for x in t])
    assert plain(got[2]) == plain(want[2])


def test_a_coded_list_is_its_list():
    col = _coded(["a", "b", "a"])
    assert col == ["a", "b", "a"] and col[1:] == ["b", "a"] and type(col[1:]) is list
    assert col.codes.tolist() == [0, 1, 0] and col.distinct == ["a", "b"]


@pytest.mark.parametrize("col", [
    [1, 2, -3], [2 ** 53, -2 ** 53, 2 ** 53 + 1, 5], [2 ** 70, 1], [0, 1, 2],
    [1, 2.5], [True, 1], [1.0, float("inf")]])
def test_int_numbers_match_scalar_rule(col):
    ok, x = V._numbers(col, 0.0, True)
    want_ok = [(type(a) is float or (type(a) is int and abs(a) <= 2 ** 53)) and
               np.isfinite(float(a)) and float(a) >= 0.0 for a in col]
    assert ok.tolist() == want_ok
    assert [float(a) for a, g in zip(col, want_ok) if g] == x[ok].tolist()


def test_small_kernels():
    rng = np.random.default_rng(3)
    for _ in range(300):
        a = np.unique(rng.integers(0, 40, rng.integers(0, 20))).astype(np.int64)
        v = np.sort(rng.integers(-3, 45, rng.integers(0, 30))).astype(np.int64)
        if rng.random() < 0.3:
            v = v[::-1].copy()
        assert K.rows_of(a, v).tolist() == np.searchsorted(a, v).tolist()
    codes = np.array([3, 1, 3, 0, 1], dtype=np.int64)
    new, order = K.first_seen(codes, 5)
    assert new.tolist() == [0, 1, 0, 2, 1] and order.tolist() == [3, 1, 0]
    idx = np.array([0, 0, 2, 1], dtype=np.int64)
    pos, qty = np.array([4, 7, 9], dtype=np.int64), np.array([2.0, -3.0, 0.5])
    val, err = rng.normal(size=4), np.full(4, np.nan)
    got = K.scaled_rows(idx, pos, qty, val, err)
    want = (pos[idx], val * qty[idx], err * np.abs(qty[idx]))
    assert all(g.tobytes() == w.tobytes() for g, w in zip(got, want))


def test_small_evaluation_runs_on_the_calling_thread_with_the_same_results():
    prog = equity.program("european_option")
    n = 700
    rng = np.random.default_rng(0)
    m = MarketData.from_mapping(RAW)
    book = [{"trade_id": f"T{i}", "underlying": "SPX", "option_type": "call",
             "strike": float(rng.uniform(4000, 7000)), "expiry": "2025-06-20",
             "quantity": 1} for i in range(n)]
    fast, _ = vet_book(book, GREEK_PRODUCTS, {"european_option"})
    inp, _ = _equity_fast.inputs(fast["european_option"][1], m, lambda c: {})
    assert n * prog._work_per_element <= 2 ** 17
    one = prog.hvp(inp, {"spot": 1.0}, wrt=equity._ACTIVE)
    two = prog.hvp(inp, {"spot": 1.0}, wrt=equity._ACTIVE, threads=2)
    shared = prog.hvp({**inp, "div": 0.01}, {"spot": 1.0}, wrt=equity._ACTIVE)
    shared2 = prog.hvp({**inp, "div": 0.01}, {"spot": 1.0}, wrt=equity._ACTIVE, threads=2)
    assert one.value.tobytes() == two.value.tobytes()
    for k in one.grad:
        assert one.grad[k].tobytes() == two.grad[k].tobytes()
        assert one.hvp[k].tobytes() == two.hvp[k].tobytes()
    assert shared.grad["div"] == shared2.grad["div"] and shared.hvp["div"] == shared2.hvp["div"]

"""Aggregates of the answers: prices by currency per book."""
from __future__ import annotations

import math
import random

import numpy as np
import orjson
import pytest

from service.aggregates import SUM_COLS, by_label, price_totals


def _naive_totals(codes, table, price, bounds):
    out = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        d: dict = {}
        for i in range(a, b):
            d[table[codes[i]]] = d.get(table[codes[i]], 0.0) + price[i]
        out.append(d)
    return out


@pytest.mark.parametrize("seed", range(12))
def test_price_totals_by_book_in_order_of_first_appearance(seed):
    rng = random.Random(seed)
    table = ["USD", "EUR", "", "JPY", "GBP"][:rng.randint(1, 5)]
    n = rng.randint(0, 40)
    codes = np.array([rng.randrange(len(table)) for _ in range(n)], dtype=np.int64)
    price = np.array([rng.choice([0.1, -0.0, 1e17, -3.3, rng.random()]) for _ in range(n)])
    bounds = [0] + sorted(rng.randint(0, n) for _ in range(rng.randint(0, 4))) + [n]
    got = price_totals(codes, table, price, bounds)
    want = _naive_totals(codes.tolist(), table, price.tolist(), bounds)
    assert [list(d.items()) for d in got] == [list(d.items()) for d in want]
    for g, w in zip(got, want):                       # same sums, bit for bit (signs too)
        assert [math.copysign(1.0, v) for v in g.values()] == \
            [math.copysign(1.0, v) for v in w.values()]


def test_price_totals_of_nothing():
    assert price_totals(np.zeros(0, np.int64), [], np.zeros(0), [0, 0, 0]) == [{}, {}]


def _naive_by_label(rows, book_bounds, labels, kinds, units_of, trade_cur, currencies):
    out = []
    for a, b in zip(book_bounds[:-1], book_bounds[1:]):
        groups: dict = {}
        for r in range(a, b):
            key = (labels[rows["label_code"][r]], kinds[rows["greek_code"][r]],
                   currencies[trade_cur[rows["row"][r]]])
            acc = groups.setdefault(key, [[0.0, 0] for _ in SUM_COLS])
            for j, c in enumerate(SUM_COLS):
                x = float(rows[c][r])
                if x == x:
                    acc[j][0] += x
                    acc[j][1] += 1
        keys = sorted(groups)
        units = dict(zip(kinds, units_of))
        doc = {"label": [k[0] for k in keys], "greek": [k[1] for k in keys],
               "currency": [k[2] for k in keys], "unit": [units[k[1]] for k in keys]}
        for j, c in enumerate(SUM_COLS):
            doc[c] = [s if m else math.nan for s, m in (groups[k][j] for k in keys)]
        out.append(doc)
    return out


@pytest.mark.parametrize("seed, n_labels", [(0, 3), (1, 5), (2, 40), (3, 400), (4, 1)])
def test_by_label_sums_by_book_label_greek_currency(seed, n_labels):
    """Sums in row order from 0.0, NaN rows left out (a group of only NaN rows: NaN), keys
    sorted; many labels take the sparse path (cells by np.unique)."""
    rng = np.random.default_rng(seed)
    n_trades, n = 30, 200
    labels = tuple(f"L{k:03d}" for k in rng.permutation(n_labels))
    kinds = ("vega", "delta", "gamma")
    currencies = ["USD", "", "EUR"]
    trade_cur = rng.integers(0, 3, n_trades)
    row = np.sort(rng.integers(0, n_trades, n))
    vals = {c: rng.normal(size=n) for c in SUM_COLS}
    for c in SUM_COLS:
        vals[c][rng.random(n) < 0.3] = math.nan
    rows = {"row": row, "label_code": rng.integers(0, n_labels, n),
            "greek_code": rng.integers(0, 3, n), **vals}
    book_bounds = [0, 0] + sorted(rng.integers(0, n, 3).tolist()) + [n]
    n_books = len(book_bounds) - 1
    got = by_label(rows, book_bounds, labels, kinds, ["s", "1/s", None], trade_cur, currencies,
                   n_books)
    want = _naive_by_label(rows, book_bounds, labels, kinds, ["s", "1/s", None], trade_cur,
                           currencies)
    assert len(got) == n_books
    for g, w in zip(got, want):
        assert list(g) == list(w)
        assert orjson.dumps(g, option=orjson.OPT_SERIALIZE_NUMPY) == orjson.dumps(w)

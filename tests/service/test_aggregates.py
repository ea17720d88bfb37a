"""Aggregates of the answers: prices by currency per book."""
from __future__ import annotations

import math
import random

import numpy as np
import pytest

from service.aggregates import price_totals


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

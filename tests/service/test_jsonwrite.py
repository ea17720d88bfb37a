"""service.jsonwrite writes exactly the bytes orjson writes for the same nested lists and
dicts; the ``trades`` layout built with it equals the dict-built document byte for byte."""
from __future__ import annotations

import math
import random

import numpy as np
import orjson
import pytest

from aadrisk.market.snapshot import MarketData
from aadrisk.risk.greeks import greek_arrays, scaled_columns
from service.compute import Job, encode, tag_trades
from service.jsonwrite import Records, float_spans, value_spans
from service.layout import PRICE_COLS, documents, owner

from _svc_helpers import vanilla

_FLOATS = [0.0, -0.0, 1.0, -1.5, 1e-300, 5e-324, 1.7976931348623157e308, 1e22, 1e21,
           123456789.123, 0.1, 1 / 3, math.nan, math.inf, -math.inf, 2.0 ** 60]
_STRINGS = ["", "a", 'quo"te', "back\\slash", "com,ma", "[]{}", "é ü 中", "tab\t",
            "nl\n", "\x01ctl", "ℏ/𝔸", "vol/SPX/2025-06-20/5000"]


def _random_floats(rng: random.Random, n: int) -> np.ndarray:
    return np.array([rng.choice(_FLOATS) if rng.random() < 0.3 else
                     rng.uniform(-1e6, 1e6) * 10.0 ** rng.randint(-12, 12)
                     for _ in range(n)])


@pytest.mark.parametrize("seed", range(8))
def test_records_equal_orjson(seed):
    rng = random.Random(seed)
    n = rng.randint(0, 12)
    ids = [f"id{k}" if rng.random() < 0.8 else rng.choice(_STRINGS) for k in range(n)]
    y = _random_floats(rng, n)
    groups, want = {}, [{"id": ids[t], "y": float(y[t])} for t in range(n)]
    for g in ("g1", "g2")[:rng.randint(0, 2)]:
        sizes = [rng.choice([0, 1, 2, rng.randint(0, 30)]) for _ in range(n)]
        bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        x = _random_floats(rng, int(bounds[-1]))
        s = [rng.choice(_STRINGS + [None]) for _ in range(int(bounds[-1]))]
        groups[g] = ({"x": float_spans(x), "s": value_spans(s)}, bounds)
        for t in range(n):
            a, b = bounds[t], bounds[t + 1]
            want[t][g] = {"x": [float(v) for v in x[a:b]], "s": s[a:b]}
    rec = Records({"id": value_spans(ids), "y": float_spans(y)}, groups)
    for a, b in ((0, n), (0, n // 2), (n // 2, n), (n, n)):
        assert rec.array(a, b) == orjson.dumps(want[a:b])


def test_value_spans_keep_types():
    vals = [1, 1.0, True, None, "1", 2 ** 40, "1", "1", "1", "1"]
    rec = Records({"v": value_spans(vals)})
    assert rec.array(0, len(vals)) == orjson.dumps([{"v": v} for v in vals])


def _reference(ga, jobs, offsets) -> list[dict]:
    """The ``trades`` documents built as dicts and lists, row by row (no spans)."""
    docs = documents(ga, jobs, offsets)
    pr = ga.prices
    out = []
    for i, (doc, job) in enumerate(zip(docs, jobs)):
        trades = []
        for k in range(len(pr["_pos"])):
            book, _ = owner(str(pr["trade"][k]), offsets) if offsets else (0, None)
            if book != i:
                continue
            row = {c: pr[c][k] for c in PRICE_COLS}
            row = {c: (v.item() if hasattr(v, "item") else v) for c, v in row.items()}
            if offsets:
                row["trade"] = owner(row["trade"], offsets)[1]
            for key, g in (("greeks", ga.greeks), ("zero_greeks", ga.zero_greeks)):
                if key == "zero_greeks" and not job.include_zero_greeks:
                    continue
                sel = np.flatnonzero(g["row"] == k)
                kinds = [g["greek"][r] for r in sel]
                units = [scaled_columns([kd])[0][0] for kd in kinds]
                vals = [float(g["value"][r]) for r in sel]
                row[key] = {"label": [g["label"][r] for r in sel], "greek": kinds,
                            "value": vals, "unit": units,
                            "value_per_bp": [v * scaled_columns([kd])[1][0]
                                             for v, kd in zip(vals, kinds)],
                            "value_per_vol_point": [v * scaled_columns([kd])[2][0]
                                                    for v, kd in zip(vals, kinds)],
                            "stderr": [float(g["stderr"][r]) for r in sel]}
            trades.append(row)
        out.append({**doc, "trades": trades})
    return out


def test_trades_layout_byte_identical(market_full, book_full):
    m = MarketData.from_mapping(market_full)
    bad = {"trade_id": "bad", "underlying": "SPX", "option_type": "call", "strike": -1,
           "expiry": "2025-06-20", "quantity": 1}
    jobs = [Job(book_full["trades"] + vanilla(5, prefix="V") + [bad], {"portfolio": "a"},
                include_zero_greeks=True),
            Job(vanilla(9), {"portfolio": "b"}),
            Job([bad], {"portfolio": "c"}),
            Job(vanilla(4, prefix="W"), {"portfolio": "d"}, include_zero_greeks=True)]
    for batch in (jobs, jobs[:1], jobs[1:2]):
        trades, offsets = tag_trades(batch)
        ga = greek_arrays(trades, m)
        got = [encode(d) for d in documents(ga, batch, offsets)]
        want = [encode(d) for d in _reference(ga, batch, offsets)]
        assert len(ga.greeks["value"]) > 0
        assert got == want


@pytest.mark.parametrize("ids", [[f"T{k}" for k in range(50)], ["a", "b,c", "d"],
                                 ["x", "é", "y"], ['q"', 'back\\slash', 's'], ["", "u", "v"]])
def test_distinct_strings_spanned_from_one_encoding(ids):
    spans = value_spans(ids)
    assert [spans.bytes(i) for i in range(len(ids))] == [orjson.dumps(s) for s in ids]

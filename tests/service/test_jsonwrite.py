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
from service.compute import Job, tag_trades
from service.jsonkernels import write
from service.jsonwrite import Coded, Group, Text, encoded_table, write_records
from service.layout import PRICE_COLS, _strings, answers, owner

from _svc_helpers import vanilla

_FLOATS = [0.0, -0.0, 1.0, -1.5, 1e-300, 5e-324, 1.7976931348623157e308, 1e22, 1e21,
           123456789.123, 0.1, 1 / 3, math.nan, math.inf, -math.inf, 2.0 ** 60]
_STRINGS = ["", "a", 'quo"te', "back\\slash", "com,ma", "[]{}", "é ü 中", "tab\t",
            "nl\n", "\x01ctl", "ℏ/𝔸", "vol/SPX/2025-06-20/5000"]


def _random_floats(rng: random.Random, n: int) -> np.ndarray:
    return np.array([rng.choice(_FLOATS) if rng.random() < 0.3 else
                     rng.uniform(-1e6, 1e6) * 10.0 ** rng.randint(-12, 12)
                     for _ in range(n)])


_VALUES = [None, True, 0, -3, 2 ** 40, 1.5, "s", 'q"', "a,b]", ["x", [1, "]"]],
           {"k": [1, {"c": "}"}]}, "\\", ""]


def _column(rng: random.Random, n: int, kind: str):
    """(the column as write_records takes it, its values as orjson writes them)."""
    if kind == "floats":
        x = _random_floats(rng, n)
        if rng.random() < 0.3:                        # long runs of NaN / finite values
            x[rng.randint(0, n):rng.randint(0, n)] = math.nan
        if rng.random() < 0.1:
            x[:] = math.nan
        return Text.floats(x), [float(v) for v in x]
    if kind == "coded":
        table = tuple(rng.sample(_STRINGS + [None], rng.randint(1, 6)))
        codes = np.array([rng.randrange(len(table)) for _ in range(n)], dtype=np.int64)
        return Coded(codes, encoded_table(table)), [table[k] for k in codes]
    vals = [rng.choice(_VALUES + _STRINGS) for _ in range(n)]
    return Text.values(vals), vals


@pytest.mark.parametrize("seed", range(16))
def test_records_equal_orjson(seed):
    rng = random.Random(seed)
    n = rng.randint(0, 12)
    ids = [f"id{k}" if rng.random() < 0.8 else rng.choice(_STRINGS) for k in range(n)]
    y, yv = _column(rng, n, "floats")
    fields = [("id", Text.values(ids)), ("y", y)]
    want = [{"id": ids[t], "y": yv[t]} for t in range(n)]
    if rng.random() < 0.5:
        z, zv = _column(rng, n, "coded")
        fields.append(("z", z))
        for t in range(n):
            want[t]["z"] = zv[t]
    groups = []
    for g in ("g1", "g2")[:rng.randint(0, 2)]:
        sizes = [rng.choice([0, 1, 2, rng.randint(0, 30)]) for _ in range(n)]
        rows = np.repeat(np.arange(n), sizes)
        cols = [(c, *_column(rng, len(rows), kind)) for c, kind in
                (("x", "floats"), ("s", "values"), ("c", "coded"), ("v", "floats"))]
        if rng.random() < 0.5:      # codes repeated by whole records (the memo's case)
            table = tuple(_STRINGS)
            pattern = [rng.randrange(len(table)) for _ in range(3)]
            codes = np.array([pattern[k % 3] for t, m in enumerate(sizes) for k in range(m)],
                             dtype=np.int64)
            cols.append(("r", Coded(codes, encoded_table(table)), [table[k] for k in codes]))
        groups.append(Group(g, rows, [(c, col) for c, col, _ in cols]))
        start = 0
        for t in range(n):
            want[t][g] = {c: v[start:start + sizes[t]] for c, _, v in cols}
            start += sizes[t]
    cuts = sorted(rng.randint(0, n) for _ in range(rng.randint(0, 3)))
    bounds = [0] + cuts + [n]
    got = write_records(fields, groups, bounds)
    assert got == [orjson.dumps(want[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]


def test_long_runs_of_nulls():
    """Long runs of NaN and infinities (``null`` in the text), alone and between numbers."""
    lists = [[math.nan] * m for m in (1, 63, 64, 65, 128, 129, 200)]
    lists += [[1.0] + [math.nan] * 130 + [2.5] * 3 + [math.inf] * 64 + [-0.0],
              [math.nan] * 70 + [3.0], [4.0] + [math.nan] * 64]
    rows = np.repeat(np.arange(len(lists)), [len(x) for x in lists])
    grp = Group("g", rows, [("x", Text.floats(np.array([v for x in lists for v in x])))])
    got = write_records([("i", Text.values(list(range(len(lists)))))], [grp],
                        [0, len(lists)])
    assert got == [orjson.dumps([{"i": i, "g": {"x": [v if math.isfinite(v) else None
                                                      for v in x]}}
                                 for i, x in enumerate(lists)])]


def test_values_keep_types():
    vals = [1, 1.0, True, None, "1", 2 ** 40, "1", "1", "1", "1", [1, ","], {"a": "]"}]
    got = write_records([("v", Text.values(vals))], [], [0, len(vals)])
    assert got == [orjson.dumps([{"v": v} for v in vals])]


def test_memo_tells_equal_hashes_apart():
    """Record code lists are copied from an earlier equal list only when the codes match."""
    table = tuple(f"L{k}" for k in range(50))
    lists = [[1, 2, 3], [1, 2, 3], [3, 2, 1], [1, 2], [1, 2, 3, 4], [], [1, 2, 3]]
    lists += [[k % 50, (7 * k) % 50] for k in range(3000)]
    rows = np.repeat(np.arange(len(lists)), [len(x) for x in lists])
    codes = np.array([c for x in lists for c in x], dtype=np.int64)
    grp = Group("g", rows, [("c", Coded(codes, encoded_table(table)))])
    got = write_records([("i", Text.floats(np.arange(len(lists), dtype=float)))], [grp],
                        [0, len(lists)])
    assert got == [orjson.dumps([{"i": float(i), "g": {"c": [table[c] for c in x]}}
                                 for i, x in enumerate(lists)])]


def test_memo_checks_codes_on_a_hash_collision():
    """[0, K] and [1, 0] have the same hash (K = 1000003, the hash's multiplier): the second
    list must not be copied from the first."""
    k = 1000003
    table = [""] * (k + 1)
    table[0], table[1], table[k] = "a", "b", "c"
    codes = np.array([0, k, 1, 0, 0, k], dtype=np.int64)
    grp = Group("g", np.array([0, 0, 1, 1, 2, 2]),
                [("c", Coded(codes, encoded_table(tuple(table))))])
    got = write_records([("i", Text.values([0, 1, 2]))], [grp], [0, 3])
    assert got == [b'[{"i":0,"g":{"c":["a","c"]}},{"i":1,"g":{"c":["b","a"]}},'
                   b'{"i":2,"g":{"c":["a","c"]}}]']


def test_memo_of_each_coded_column_apart():
    """Each coded row column has its own memo: equal code lists in two columns of other
    tables are each written from their own table."""
    lists = [[0, 1], [1, 0], [0, 1], [1, 0], [0, 1]]
    rows = np.repeat(np.arange(len(lists)), [len(x) for x in lists])
    codes = np.array([c for x in lists for c in x], dtype=np.int64)
    grp = Group("g", rows, [("c", Coded(codes, encoded_table(("a", "b")))),
                            ("d", Coded(codes[::-1].copy(), encoded_table(("x", "y")))),
                            ("e", Coded(codes, encoded_table(("p", "q"))))])
    got = write_records([("i", Text.values(list(range(len(lists)))))], [grp],
                        [0, len(lists)])
    back = [c for x in lists for c in x][::-1]
    d = [back[2 * i:2 * i + 2] for i in range(len(lists))]
    assert got == [orjson.dumps([{"i": i, "g": {"c": ["ab"[c] for c in x],
                                                "d": ["xy"[c] for c in d[i]],
                                                "e": ["pq"[c] for c in x]}}
                                 for i, x in enumerate(lists)])]


def test_kernel_has_no_reference_counts():
    """The writing kernel is compiled without Numba's reference counting (atomic
    operations per inlined helper call: see aadrisk._numba)."""
    assert write.targetoptions.get("_nrt") is False


def test_write_records_checks_its_inputs():
    with pytest.raises(ValueError):
        write_records([("a", Text.floats(np.zeros(3)))], [], [0, 2])
    with pytest.raises(ValueError):
        write_records([("a", Coded(np.array([0, 5]), encoded_table(("x",))))], [], [0, 2])
    with pytest.raises(ValueError):
        write_records([("a", Coded(np.array([0, -1]), encoded_table(("x", "y"))))], [], [0, 2])
    codes = np.array([1, 0])                  # in the first table, not in the second
    grp = Group("g", np.array([0, 1]), [("c", Coded(codes, encoded_table(("x", "y")))),
                                        ("d", Coded(codes, encoded_table(("z",))))])
    with pytest.raises(ValueError):
        write_records([("a", Text.values([1, 2]))], [grp], [0, 2])


def test_write_records_wraps_each_book():
    ids = Text.values(["a", "b", "c"])
    got = write_records([("id", ids)], [], [0, 1, 1, 3],
                        wrap=[(b'{"x":', b"}"), (b"<", b">"), (b"", b"!")])
    assert got == [b'{"x":[{"id":"a"}]}', b"<[]>", b'[{"id":"b"},{"id":"c"}]!']
    assert write_records([("id", ids)], [], [0, 3]) == [b'[{"id":"a"},{"id":"b"},{"id":"c"}]']
    with pytest.raises(ValueError):
        write_records([("id", ids)], [], [0, 3], wrap=[(b"", b""), (b"", b"")])


def test_answers_keep_the_document_key_order(market_full):
    m = MarketData.from_mapping(market_full)
    meta = {"trades": "client", "portfolio": "p", "errors": 1}
    jobs = [Job(vanilla(3), meta), Job(vanilla(2), {"portfolio": "q"}, layout="columnar")]
    trades, offsets = tag_trades(jobs)
    docs = [orjson.loads(x) for x in answers(greek_arrays(trades, m), jobs, offsets)]
    assert list(docs[0]) == ["trades", "portfolio", "errors", "valuation_date", "n_trades",
                             "n_priced", "aggregates"]
    assert [t["trade"] for t in docs[0]["trades"]] == ["T0", "T1", "T2"]
    assert docs[0]["errors"] == [] and docs[1]["layout"] == "columnar"


@pytest.mark.parametrize("values, table", [
    (["a", "a", "a"], ("a",)), (["a", "b", "a", None], ("a", "b", None)),
    ([None, "a"], (None, "a")), (["a", "a", 1], None), ([1, 1], None),
    (["a", "a", "b"], ("a", "b")), ([], ()), (["a", "b", "a"], ("a", "b")), (["x"], ("x",)),
    ([None], (None,)), ([["a"], "a"], None), ([f"s{k % 300}" for k in range(700)],
                                              tuple(f"s{k}" for k in range(300)))])
def test_strings_of_an_object_column(values, table):
    column = np.empty(len(values), dtype=object)
    column[:] = values
    got = _strings(column)
    if table is None:
        assert got is None
    else:
        assert got[1] == table and got[0].tolist() == [table.index(v) for v in values]


def _reference(ga, jobs, offsets) -> list[dict]:
    """The ``trades`` documents built as dicts and lists, row by row (no spans); the rest
    of each document as its answer has it."""
    docs = [orjson.loads(x) for x in answers(ga, jobs, offsets)]
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
    odd = vanilla(9)
    for k, tid in enumerate(['q"', "é/中", "back\\slash", "a,b]", "T0"]):   # T0: a duplicate
        odd[k + 1] = {**odd[k + 1], "trade_id": tid}
    jobs = [Job(book_full["trades"] + vanilla(5, prefix="V") + [bad], {"portfolio": "a"},
                include_zero_greeks=True),
            Job(odd, {"portfolio": "b"}),
            Job([bad], {"portfolio": "c"}),
            Job(vanilla(4, prefix="W"), {"portfolio": "d"}, include_zero_greeks=True)]
    for batch in (jobs, jobs[:1], jobs[1:2], jobs[2:3], jobs[::-1]):
        trades, offsets = tag_trades(batch)
        ga = greek_arrays(trades, m)
        got = answers(ga, batch, offsets)
        want = [orjson.dumps(d, option=orjson.OPT_SERIALIZE_NUMPY)
                for d in _reference(ga, batch, offsets)]
        assert len(ga.greeks["value"]) > 0 or batch == jobs[2:3]
        assert got == want


@pytest.mark.parametrize("ids", [[f"T{k}" for k in range(50)], ["a", "b,c", "d"],
                                 ["x", "é", "y"], ['q"', 'back\\slash', 's'], ["", "u", "v"],
                                 ["a]", "[b", "{c}", '\\"', "\\"]])
def test_trade_ids_scanned_from_one_encoding(ids):
    got = write_records([("trade", Text.values(ids))], [], [0, len(ids)])
    assert got == [orjson.dumps([{"trade": s} for s in ids])]


def test_cached_programs_follow_the_tables_and_code_sharing():
    """Calls with the same keys but other tables, or codes shared or not, each write their
    own records (the program of a call is cached by its structure)."""
    codes = np.array([0, 1, 1])
    for table in (("a", "b"), ("xx", "y"), ("a", "b")):
        grp = Group("g", np.array([0, 0, 1]), [("c", Coded(codes, encoded_table(table))),
                                               ("d", Coded(codes.copy(), encoded_table(table)))])
        got = write_records([("i", Coded(np.array([1, 0]), encoded_table(table)))], [grp],
                            [0, 2])
        want = [{"i": table[1], "g": {"c": [table[0], table[1]], "d": [table[0], table[1]]}},
                {"i": table[0], "g": {"c": [table[1]], "d": [table[1]]}}]
        assert got == [orjson.dumps(want)]
    shared = Group("g", np.array([0, 0, 1]), [("c", Coded(codes, encoded_table(("a", "b")))),
                                              ("d", Coded(codes, encoded_table(("p", "q"))))])
    got = write_records([("i", Text.values([0, 1]))], [shared], [0, 2])
    assert got == [b'[{"i":0,"g":{"c":["a","b"],"d":["p","q"]}},{"i":1,"g":{"c":["b"],"d":["q"]}}]']

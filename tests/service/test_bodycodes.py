"""service.bodycodes: string columns decoded once per distinct text equal orjson's."""
from __future__ import annotations

import numpy as np
import orjson
import pytest

from aadrisk.risk._vet_columns import CodedList
from service.bodycodes import string_columns


def _pairs(columns: list[list[str]]):
    """The scan's pairs of a body whose trades hold ``columns`` (key k: ``columns[k]``),
    trade by trade."""
    parts, key, start, end, at = [], [], [], [], 0
    for row in zip(*columns):
        for k, v in enumerate(row):
            text = orjson.dumps(v)
            parts.append(text + b",")
            key.append(k)
            start.append(at)
            end.append(at + len(text))
            at += len(text) + 1
    b = np.frombuffer(b"".join(parts) or b" ", dtype=np.uint8)
    return b, *(np.array(x, dtype=np.int64) for x in (key, start, end)), len(key)


@pytest.mark.parametrize("n", [1, 2, 7, 1000])
def test_columns_equal_orjson_s(n):
    few = [["SPX", "AAPL", "é", "SX5E"][i % 4] for i in range(n)]
    dates = [f"2025-0{1 + (i * 7) % 9}-01" for i in range(n)]
    ids = [f"T{i}" for i in range(n)]                     # more distinct than one in four
    cols = string_columns(_pairs([ids, few, dates]), [0, 1, 2], 3, n)
    if n > 3:
        assert cols[0] is None
    for col, want in zip(cols, [ids, few, dates]):
        if col is None:
            continue
        assert type(col) is CodedList and col == want
        assert [col.distinct[c] for c in col.codes.tolist()] == want
        assert col.distinct == list(dict.fromkeys(want))


def test_many_distinct_texts_probe_the_table():
    n = 4000
    vals = [f"v{(i * 37) % 1001}" for i in range(n)]       # 1001 distinct, limit 1001
    (col,) = string_columns(_pairs([vals]), [0], 1, n)
    assert col == vals and len(col.distinct) == 1001
    (col,) = string_columns(_pairs([[f"w{i % 1002}" for i in range(n)]]), [0], 1, n)
    assert col is None


def test_a_bad_text_is_refused():
    b, key, start, end, npairs = _pairs([["ab"] * 8])
    bad = bytearray(b.tobytes())
    bad[int(start[5]) + 1] = 0x01                          # a control character
    b = np.frombuffer(bytes(bad), dtype=np.uint8)
    with pytest.raises(orjson.JSONDecodeError):
        string_columns((b, key, start, end, npairs), [0], 1, 8)

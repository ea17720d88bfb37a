"""String columns of a scanned body decoded once per distinct value, with their codes.

:func:`service.bodyscan.scan_body` cuts the trades array into one JSON array per
field, which ``orjson`` decodes into a list of fresh ``str`` objects: 1,000
objects for ``underlying`` although the book names three. The library then
groups each such column by value (``dict.fromkeys``: a hash of every string and a
comparison of its bytes). :func:`string_columns` instead groups the values' texts
by their bytes in one compiled pass, has ``orjson`` decode each distinct text
once, and returns each column as a
:class:`aadrisk.risk.columns.CodedList`: references to those objects, with
the codes (the library then converts each distinct value once and keeps the
codes).

Two JSON strings without a backslash decode to equal strings exactly when their
bytes are equal (UTF-8 has one encoding per character), and a text ``orjson``
refuses is refused among the distinct texts, which hold every text's bytes; so
each column equals the one ``orjson`` decodes from the whole array.

Examples
--------
>>> body = b'["ab","c","ab","ab"]'
>>> b = np.frombuffer(body, dtype=np.uint8)
>>> pairs = (b, np.zeros(4, np.int64), np.array([1, 6, 10, 15]), np.array([5, 9, 14, 19]), 4)
>>> col = string_columns(pairs, [0], 1, 4)[0]
>>> col, col.codes.tolist(), col.distinct
(['ab', 'c', 'ab', 'ab'], [0, 1, 0, 0], ['ab', 'c'])
"""
from __future__ import annotations

from operator import itemgetter

import numpy as np
import orjson

from aadrisk._numba import jit
from aadrisk.risk.columns import CodedList

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


@jit(refcount=False, inline="always")
def _same_text(b, s, e, a):
    """Whether ``b[s:e]`` equals the bytes of ``b`` from ``a``."""
    for j in range(e - s):
        if b[a + j] != b[s + j]:
            return False
    return True


@jit(refcount=False)
def _span_codes(b, pair_key, pair_start, pair_end, npairs, slot_of, limit, table, codes,
                firsts, count, distinct):
    """Per wanted key (``slot_of[key]`` >= 0: its row in the outputs), the codes of its
    values' texts in pair order (``codes[row]``), numbering the distinct texts by first
    appearance (``firsts[row, d]``: the pair of distinct text ``d``; ``distinct[row]``:
    how many, -1 once past ``limit``); ``table[row]``: open-addressing slots, -1 (a power
    of two, more than ``limit``); ``count``: zeros."""
    mask = table.shape[1] - 1
    for p in range(npairs):
        w = slot_of[pair_key[p]]
        if w < 0 or distinct[w] < 0:
            continue
        s, e = pair_start[p], pair_end[p]
        h = _FNV_OFFSET
        for j in range(s, e):
            h = (h ^ np.uint64(b[j])) * _FNV_PRIME
        slot = np.int64(h & np.uint64(mask))
        while True:
            d = table[w, slot]
            if d < 0:
                nd = distinct[w]
                if nd >= limit:
                    distinct[w] = -1
                    break
                table[w, slot] = nd
                firsts[w, nd] = p
                codes[w, count[w]] = nd
                distinct[w] = nd + 1
                break
            q = firsts[w, d]
            if pair_end[q] - pair_start[q] == e - s and _same_text(b, s, e, pair_start[q]):
                codes[w, count[w]] = d
                break
            slot = (slot + 1) & mask
        count[w] += 1


def string_columns(pairs: tuple, keys: list, n_keys: int, n: int) -> list:
    """The columns of ``keys`` (each ``n`` JSON strings without a backslash; ``pairs``: the
    scan's ``(bytes, pair_key, pair_start, pair_end, npairs)``, ``n_keys`` keys in all):
    per key a :class:`CodedList`, or None if it has more than one distinct value per four
    trades (the caller decodes it as usual).

    Raises
    ------
    orjson.JSONDecodeError
        If a text is not a valid JSON string.
    """
    b, pair_key, pair_start, pair_end, npairs = pairs
    limit = n // 4 + 1
    slot_of = np.full(n_keys, -1, dtype=np.int64)
    slot_of[keys] = np.arange(len(keys))
    size = 1 << (2 * limit).bit_length()
    codes = np.empty((len(keys), n), dtype=np.int64)
    firsts = np.empty((len(keys), limit), dtype=np.int64)
    distinct = np.zeros(len(keys), dtype=np.int64)
    _span_codes(b, pair_key, pair_start, pair_end, npairs, slot_of, limit,
                np.full((len(keys), size), -1, dtype=np.int64), codes, firsts,
                np.zeros(len(keys), dtype=np.int64), distinct)
    nds = distinct.tolist()
    at = [firsts[w, :nd] for w, nd in enumerate(nds) if nd > 0]
    if not at:
        return [None] * len(keys)
    first = np.concatenate(at)
    data = b.data
    texts = [data[s:e] for s, e in zip(pair_start[first].tolist(), pair_end[first].tolist())]
    values = orjson.loads(b"[" + b",".join(texts) + b"]")
    out, k = [], 0
    for w, nd in enumerate(nds):
        if nd <= 0:
            out.append(None)
            continue
        distinct_w = values[k:k + nd]
        k += nd
        c = codes[w]
        col = [distinct_w[c[0]]] if n == 1 else itemgetter(*c.tolist())(distinct_w)
        out.append(CodedList(col, c, distinct_w))
    return out

"""A compiled scan of a risk request body: the trades array cut into JSON columns.

Parsing a 1,000-trade body with ``orjson.loads`` builds 1,000 dicts and 6,000
values, which the fast path (:mod:`service.fastpath`) then reads back into
columns, and which are freed again: about 2-3 ms of server CPU per request,
holding the GIL. :func:`scan_body` instead runs one Numba pass over the raw
bytes that finds ``portfolio.trades`` and, in it, every trade's known keys and
the text of their values, and writes each field's values, verbatim, as one JSON
array. ``orjson`` then decodes each of those arrays (a list per field, no dict
per trade) and the rest of the body with the trades array replaced by ``[]``
(the *skeleton*).

Every value is decoded by the same parser from the same text as in the whole
body, so the columns are exactly those of ``orjson.loads(body)``; and the scan
vouches for a body only when that holds without doubt. It gives up (``None``:
the caller parses the whole body as before) on anything outside a plain shape:

* a key with a backslash at the top level, in ``portfolio`` or in a trade (its
  decoded name could differ from its bytes); ``portfolio`` or ``trades`` given
  twice; ``trades`` not an array;
* a trade that is not an object, a trade key that is not a declared trade field
  (``service.schemas.trade_field_kinds``) or that repeats, a value that is an
  object or an array, trades with different sets of keys;
* any byte where JSON allows none (the structure of the trades array is checked
  here: commas, colons, brackets, literals; the texts of strings and numbers by
  orjson when it decodes the columns, the skeleton by orjson as a whole).

Examples
--------
>>> cols = scan_body(b'{"portfolio": {"trades": [{"trade_id": "A", "strike": 1e2},'
...                  b' {"trade_id": "B", "strike": 5}]}, "market_id": "m"}',
...                  ("trade_id", "strike"))
>>> cols.skeleton, cols.keys, cols.columns
(b'{"portfolio": {"trades": []}, "market_id": "m"}', ('trade_id', 'strike'), [['A', 'B'], [100.0, 5]])
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import orjson

from aadrisk._numba import jit

from .bodybytes import key_index as _key_index
from .bodybytes import same as _same
from .bodybytes import skip as _skip
from .bodybytes import string_end as _string_end
from .bodybytes import value_end as _value_end
from .bodybytes import ws as _ws

from .bodycodes import string_columns

#: a scan gives up on more declared fields than fit a 63-bit key mask
MAX_KEYS = 63
_QUOTE, _COLON, _COMMA = 34, 58, 44
#: the set of the types orjson decodes a column to, by the kinds of its values' texts
#: (bit ``1 << kind`` of :func:`_value_end`): only strings (numbers decode to int or
#: float, which the text alone does not tell for every literal)
_TYPES = {1 << 1: frozenset({str}), 1 << 4: frozenset({str}),
          1 << 1 | 1 << 4: frozenset({str})}
_LBRACE, _RBRACE, _LBRACKET, _RBRACKET = 123, 125, 91, 93


@dataclasses.dataclass(frozen=True)
class ScannedBody:
    """A body the scan vouches for: ``skeleton`` is the body with ``portfolio.trades``
    replaced by ``[]``; ``columns[j]`` the values of ``keys[j]`` for every trade, in
    order, as ``orjson`` decodes them (every trade has exactly these keys, in the order
    of the first trade); ``types[j]``: the set of the Python types of the values of
    ``columns[j]`` when their JSON texts tell it (all strings), else None."""

    skeleton: bytes
    n: int
    keys: tuple
    columns: list
    types: tuple


@jit(refcount=False)
def _trades(b, i, kblob, kstart, klen, pair_key, pair_start, pair_end, order, kinds):
    """Scan the trades array at ``b[i] == '['``: every (key, value span) pair in order
    (``pair_*``), the key order of the first trade (``order``), per key the kinds of its
    values (``kinds``: bit ``1 << kind`` of :func:`_value_end`). Returns (position after
    the array, trades, pairs, key mask of every trade), or (-1, ...) to give up."""
    n = b.shape[0]
    i = _ws(b, i + 1)
    t = 0
    p = 0
    first_mask = np.int64(0)
    if i < n and b[i] == _RBRACKET:
        return i + 1, 0, 0, first_mask
    while True:
        if i >= n or b[i] != _LBRACE:
            return -1, 0, 0, first_mask
        i = _ws(b, i + 1)
        mask = np.int64(0)
        slot = 0
        if i < n and b[i] == _RBRACE:
            i += 1
        else:
            while True:
                if i >= n or b[i] != _QUOTE:
                    return -1, 0, 0, first_mask
                e, escaped = _string_end(b, i)
                if e < 0 or escaped:
                    return -1, 0, 0, first_mask
                guess = order[slot] if slot < order.shape[0] else -1
                k = _key_index(b, i + 1, e - 1, kblob, kstart, klen, guess)
                bit = np.int64(1) << np.int64(max(k, 0))
                if k < 0 or (mask & bit) != 0:
                    return -1, 0, 0, first_mask
                mask |= bit
                if t == 0:
                    order[slot] = k
                slot += 1
                i = _ws(b, e)
                if i >= n or b[i] != _COLON:
                    return -1, 0, 0, first_mask
                i = _ws(b, i + 1)
                if i >= n:
                    return -1, 0, 0, first_mask
                e, kind = _value_end(b, i)
                if e < 0:
                    return -1, 0, 0, first_mask
                if p >= pair_key.shape[0]:
                    return -1, 0, 0, first_mask
                kinds[k] |= np.int64(1) << np.int64(kind)
                pair_key[p] = k
                pair_start[p] = i
                pair_end[p] = e
                p += 1
                i = _ws(b, e)
                if i < n and b[i] == _COMMA:
                    i = _ws(b, i + 1)
                    continue
                if i < n and b[i] == _RBRACE:
                    i += 1
                    break
                return -1, 0, 0, first_mask
        if t == 0:
            first_mask = mask
        elif mask != first_mask:
            return -1, 0, 0, first_mask
        t += 1
        i = _ws(b, i)
        if i < n and b[i] == _COMMA:
            i = _ws(b, i + 1)
            continue
        if i < n and b[i] == _RBRACKET:
            return i + 1, t, p, first_mask
        return -1, 0, 0, first_mask


@jit(refcount=False)
def _member(b, i, word, found):
    """Scan the object at ``b[i] == '{'`` key by key, skipping values, up to its key
    ``word``: returns the position of that key's value (the object's remaining keys are
    scanned by :func:`_rest`), or -1 if it is absent or to give up (a key with a
    backslash). ``found`` counts the occurrences of ``word``."""
    n = b.shape[0]
    i = _ws(b, i + 1)
    if i < n and b[i] == _RBRACE:
        return -1
    while True:
        if i >= n or b[i] != _QUOTE:
            return -1
        e, escaped = _string_end(b, i)
        if e < 0 or escaped:
            return -1
        hit = _same(b, i + 1, e - 1, word)
        i = _ws(b, e)
        if i >= n or b[i] != _COLON:
            return -1
        i = _ws(b, i + 1)
        if hit:
            found[0] += 1
            return i
        i = _skip(b, i)
        if i < 0:
            return -1
        i = _ws(b, i)
        if i < n and b[i] == _COMMA:
            i = _ws(b, i + 1)
            continue
        return -1


@jit(refcount=False)
def _rest(b, i, word, found):
    """After a value at ``i`` inside an object, scan the object's remaining keys
    (skipping values) to its end: position after it, or -1 to give up (``word`` again,
    a key with a backslash, a bad delimiter)."""
    n = b.shape[0]
    while True:
        i = _ws(b, i)
        if i < n and b[i] == _RBRACE:
            return i + 1
        if i >= n or b[i] != _COMMA:
            return -1
        i = _ws(b, i + 1)
        if i >= n or b[i] != _QUOTE:
            return -1
        e, escaped = _string_end(b, i)
        if e < 0 or escaped or _same(b, i + 1, e - 1, word):
            return -1
        i = _ws(b, e)
        if i >= n or b[i] != _COLON:
            return -1
        i = _skip(b, _ws(b, i + 1))
        if i < 0:
            return -1


@jit(refcount=False)
def _scan(b, kblob, kstart, klen, portfolio, trades, pair_key, pair_start, pair_end,
          order, kinds, found, out):
    """The trades array of ``b`` (``out``: its start, its end, trades, pairs, key mask),
    in one pass; False to give up (``found``: one zero, scratch space)."""
    n = b.shape[0]
    i = _ws(b, 0)
    if i >= n or b[i] != _LBRACE:
        return False
    pf = _member(b, i, portfolio, found)
    if pf < 0 or b[pf] != _LBRACE:
        return False
    tr = _member(b, pf, trades, found)
    if tr < 0 or b[tr] != _LBRACKET:
        return False
    stop, nt, npairs, mask = _trades(b, tr, kblob, kstart, klen, pair_key, pair_start,
                                     pair_end, order, kinds)
    if stop < 0:
        return False
    end = _rest(b, stop, trades, found)            # the rest of the portfolio
    if end < 0:
        return False
    end = _rest(b, end, portfolio, found)          # the rest of the body's object
    if end < 0 or _ws(b, end) != n:
        return False
    out[0], out[1], out[2], out[3], out[4] = tr, stop, nt, npairs, mask
    return True


@jit(refcount=False)
def _columns(b, pair_key, pair_start, pair_end, npairs, n_keys, col_start, col_end, buf):
    """Each key's values, in order, as one JSON array in ``buf``
    (``buf[col_start[k]:col_end[k]]``); ``col_start`` holds the arrays' offsets
    (``col_end`` is where each array's next value goes meanwhile)."""
    for k in range(n_keys):
        buf[col_start[k]] = _LBRACKET
        col_end[k] = col_start[k] + 1
    for p in range(npairs):
        k = pair_key[p]
        q = col_end[k]
        if q > col_start[k] + 1:
            buf[q] = _COMMA
            q += 1
        for j in range(pair_start[p], pair_end[p]):
            buf[q] = b[j]
            q += 1
        col_end[k] = q
    for k in range(n_keys):
        buf[col_end[k]] = _RBRACKET
        col_end[k] += 1


class _Keys:
    """The declared trade keys as one byte table (for the kernels)."""

    def __init__(self, keys: Sequence[str]):
        enc = [k.encode() for k in keys]
        self.names = tuple(keys)
        self.klen = np.fromiter(map(len, enc), dtype=np.int64, count=len(enc))
        self.kstart = np.cumsum(self.klen) - self.klen
        self.kblob = np.frombuffer(b"".join(enc) or b"\0", dtype=np.uint8)


_TABLES: dict[tuple, _Keys] = {}
_PORTFOLIO = np.frombuffer(b"portfolio", dtype=np.uint8)
_TRADES = np.frombuffer(b"trades", dtype=np.uint8)


def scan_body(body: bytes, keys: Sequence[str]) -> ScannedBody | None:
    """The body's trades as JSON-decoded columns, or ``None`` if the scan cannot vouch for
    it (see the module docstring) or a column is not valid JSON.

    Parameters
    ----------
    body : bytes
        A request body: a JSON object with ``portfolio.trades``.
    keys : sequence of str
        The declared trade fields (at most :data:`MAX_KEYS`); any other key gives up.
    """
    keys = tuple(keys)
    if len(keys) > MAX_KEYS:
        return None
    table = _TABLES.get(keys)
    if table is None:
        table = _TABLES[keys] = _Keys(keys)
    b = np.frombuffer(body, dtype=np.uint8)
    cap = int(np.count_nonzero(b == _COLON))          # every pair has a colon
    pair_key = np.empty(cap, dtype=np.int64)
    pair_start = np.empty(cap, dtype=np.int64)
    pair_end = np.empty(cap, dtype=np.int64)
    order = np.full(len(keys), -1, dtype=np.int64)
    kinds = np.zeros(len(keys), dtype=np.int64)
    out = np.zeros(5, dtype=np.int64)
    if not _scan(b, table.kblob, table.kstart, table.klen, _PORTFOLIO, _TRADES, pair_key,
                 pair_start, pair_end, order, kinds, np.zeros(1, dtype=np.int64), out):
        return None
    start, stop, n, npairs = (int(x) for x in out[:4])
    present = [int(k) for k in order if k >= 0] if n else []
    skeleton = body[:start] + b"[]" + body[stop:]
    if not present:
        return ScannedBody(skeleton, n, (), [], ())
    # column k's array: its values, a comma between, brackets
    lengths = np.bincount(pair_key[:npairs], weights=pair_end[:npairs] - pair_start[:npairs],
                          minlength=len(keys)).astype(np.int64) + n + 1
    col_start = np.cumsum(lengths) - lengths
    col_end = np.empty(len(keys), dtype=np.int64)
    buf = np.empty(int(lengths.sum()), dtype=np.uint8)
    _columns(b, pair_key, pair_start, pair_end, npairs, len(keys), col_start, col_end, buf)
    data = buf.tobytes()
    plain = [k for k in present if kinds[k] == 1 << 1]   # strings without a backslash
    try:
        coded = dict(zip(plain, string_columns((b, pair_key, pair_start, pair_end, npairs),
                                               plain, len(keys), n))) if plain else {}
        columns = [coded.get(k) or orjson.loads(data[col_start[k]:col_end[k]])
                   for k in present]
    except orjson.JSONDecodeError:
        return None
    return ScannedBody(skeleton, n, tuple(table.names[k] for k in present), columns,
                       tuple(_TYPES.get(int(kinds[k])) for k in present))

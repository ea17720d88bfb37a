"""JSON arrays and objects assembled from byte spans by compiled kernels.

A 1,000-trade answer in the ``trades`` layout holds about 21,000 Greek rows in
1,000 nested objects (2.4 MB). Building one Python dict and seven lists or
array slices per trade, then encoding them, cost more server CPU than pricing
the book. Here every column is encoded ONCE, as a whole:

* a float column by ``orjson.dumps`` of the NumPy array (the same shortest
  round-trip text, NaN as ``null``, as orjson writes for the Python floats);
  its elements are the spans between the commas;
* a column of strings (or any JSON values) by encoding each distinct value once
  and pointing every element at its encoding;

and one Numba kernel copies the spans, in one pass, into the array of records
(:class:`Records`): per record its own fields, then per nested group an object
of lists of the record's rows. The bytes are exactly those ``orjson.dumps``
writes for the same nested lists and dicts (tests/service/test_jsonwrite.py
compares them).

A :class:`Spans` is ``(buf, start, length)``: element ``i`` is the JSON text
``buf[start[i]:start[i] + length[i]]``.

Examples
--------
>>> import numpy as np
>>> rows = {"x": value_spans(["a", "b", "a"]), "v": float_spans([1.5, np.nan, -0.0])}
>>> rec = Records({"id": value_spans(["t1", "t2"])}, {"g": (rows, np.array([0, 2, 3]))})
>>> rec.array(0, 2)
b'[{"id":"t1","g":{"x":["a","b"],"v":[1.5,null]}},{"id":"t2","g":{"x":["a"],"v":[-0.0]}}]'
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np
import orjson

from aadrisk._numba import jit

_NUMPY = orjson.OPT_SERIALIZE_NUMPY


@dataclasses.dataclass(frozen=True)
class Spans:
    """Elements of JSON text: element ``i`` is ``buf[start[i]:start[i] + length[i]]``."""

    buf: np.ndarray       # uint8
    start: np.ndarray     # int64
    length: np.ndarray    # int64

    def __len__(self) -> int:
        return self.start.shape[0]

    def bytes(self, i: int) -> bytes:
        """The JSON text of element ``i``."""
        a = int(self.start[i])
        return self.buf[a:a + int(self.length[i])].tobytes()


_EMPTY = np.zeros(0, dtype=np.int64)


@jit
def _split(buf, start, length):
    """Spans of the elements of a JSON array of numbers (no element holds a comma)."""
    k = 0
    a = 1
    for i in range(1, buf.shape[0]):
        c = buf[i]
        if c == 44 or c == 93:
            start[k] = a
            length[k] = i - a
            k += 1
            a = i + 1
    return k


def float_spans(values) -> Spans:
    """Each float of ``values`` as orjson writes it (NaN and infinities as ``null``)."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    buf = np.frombuffer(orjson.dumps(values, option=_NUMPY), dtype=np.uint8)
    n = values.shape[0]
    if n == 0:
        return Spans(buf, _EMPTY, _EMPTY)
    start = np.empty(n, dtype=np.int64)
    length = np.empty(n, dtype=np.int64)
    if _split(buf, start, length) != n:                 # pragma: no cover - orjson changed
        raise AssertionError("float column: unexpected JSON array")
    return Spans(buf, start, length)


def coded_spans(codes: np.ndarray, table: Sequence) -> Spans:
    """Element ``i`` is ``table[codes[i]]`` (any JSON values), each distinct value encoded
    once."""
    encoded = [orjson.dumps(v, option=_NUMPY) for v in table]
    lens = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    offsets = np.cumsum(lens) - lens
    buf = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    codes = np.asarray(codes, dtype=np.int64)
    return Spans(buf, offsets[codes], lens[codes])


def _plain_strings(values: list) -> Spans | None:
    """Strings as JSON text from ONE encoding of the list, when orjson escaped nothing
    (every element is then its characters between quotes: the list's encoded length
    is the sum of the strings' lengths plus quotes and commas, and any escape or
    non-ASCII character would make it longer); else None."""
    buf = orjson.dumps(values)
    lens = np.fromiter(map(len, values), dtype=np.int64, count=len(values)) + 2
    if len(buf) != int(lens.sum()) + len(values) + 1:
        return None
    start = np.cumsum(lens + 1) - lens                # after "[" and each comma
    return Spans(np.frombuffer(buf, dtype=np.uint8), start, lens)


def value_spans(values: Sequence) -> Spans:
    """Each of ``values`` (JSON values: strings, None, numbers, ...) as JSON text; when
    they are strings or None, each distinct one is encoded once (mostly distinct
    strings: the whole list at once)."""
    values = list(values)
    n = len(values)
    types = set(map(type, values))
    if types <= {str, type(None)}:
        table = list(dict.fromkeys(values))
        if len(table) < n // 2:
            where = {v: k for k, v in enumerate(table)}
            return coded_spans(np.fromiter(map(where.__getitem__, values), dtype=np.int64,
                                           count=n), table)
        if types == {str}:
            plain = _plain_strings(values)
            if plain is not None:
                return plain
    return coded_spans(np.arange(n, dtype=np.int64), values)


def _concat(parts: Sequence[Spans]) -> Spans:
    """The elements of several Spans, one after the other."""
    if len(parts) == 1:
        return parts[0]
    base = np.cumsum([0] + [p.buf.shape[0] for p in parts[:-1]])
    return Spans(np.concatenate([p.buf for p in parts]),
                 np.concatenate([p.start + b for p, b in zip(parts, base)]),
                 np.concatenate([p.length for p in parts]))


def _packed(columns: Sequence[Spans]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The columns' texts in one buffer: (buffer, start (columns x n), length)."""
    n = len(columns[0]) if columns else 0
    base = np.cumsum([0] + [c.buf.shape[0] for c in columns])
    src = np.concatenate([c.buf for c in columns] + [np.zeros(0, np.uint8)])
    start = np.empty((len(columns), n), dtype=np.int64)
    length = np.empty((len(columns), n), dtype=np.int64)
    for j, c in enumerate(columns):
        if len(c) != n:
            raise ValueError(f"column {j} has {len(c)} elements, not {n}")
        start[j] = c.start + base[j]
        length[j] = c.length
    return src, start, length


@jit
def _copy(out, p, src, s, m):
    """Copy ``m`` bytes of ``src`` from ``s`` to ``out`` at ``p``; new p.

    Unsigned indexes: no negative-index wrap-around test per byte."""
    pu, su = np.uint64(p), np.uint64(s)
    for k in range(np.uint64(m)):
        out[pu + k] = src[su + k]
    return p + m


@jit
def _records(out, a, b, tsrc, tstart, tlen, rsrc, rstart, rlen, rbounds, n_cols,
             lit, lstart, llen):
    """Records ``a:b`` as a JSON array into ``out`` (of the length :meth:`Records._length`
    gives). Literal pieces, in order: the record fields' prefixes (``{"k":`` then
    ``,"k":``), per group its columns' prefixes (``,"g":{"c":[`` then ``],"c":[``) and
    its closing ``]}``, then ``}``."""
    n_fields = tstart.shape[0]
    n_groups = rbounds.shape[0]
    out[0] = 91
    p = 1
    for t in range(a, b):
        if t > a:
            out[p] = 44
            p += 1
        q = 0
        for j in range(n_fields):
            p = _copy(out, p, lit, lstart[q], llen[q])
            q += 1
            p = _copy(out, p, tsrc, tstart[j, t], tlen[j, t])
        for g in range(n_groups):
            for c in range(n_cols):
                p = _copy(out, p, lit, lstart[q], llen[q])
                q += 1
                for r in range(rbounds[g, t], rbounds[g, t + 1]):
                    if r > rbounds[g, t]:
                        out[p] = 44
                        p += 1
                    p = _copy(out, p, rsrc, rstart[c, r], rlen[c, r])
            p = _copy(out, p, lit, lstart[q], llen[q])
            q += 1
        p = _copy(out, p, lit, lstart[q], llen[q])
    out[p] = 93
    return p + 1


class Records:
    """An array of JSON records, each with its own fields and nested groups of rows.

    Parameters
    ----------
    fields : mapping of str to Spans
        One element per record, written as ``"key": text`` in the mapping's order.
    groups : mapping of str to (mapping of str to Spans, bounds)
        Per group: its row columns (all groups with the same column names, each column
        one element per row) and ``bounds`` (records + 1): record ``t`` owns rows
        ``bounds[t]:bounds[t + 1]``. Written after the fields as
        ``"group": {"col": [rows...], ...}``.
    """

    def __init__(self, fields: Mapping[str, Spans], groups: Mapping[str, tuple] | None = None):
        groups = groups or {}
        if not fields:
            raise ValueError("records need at least one field")
        self.n = len(next(iter(fields.values())))
        names = [list(columns) for columns, _ in groups.values()]
        if any(not c or c != names[0] for c in names):
            raise ValueError("every group needs the same, non-empty columns")
        self.n_cols = len(names[0]) if names else 0
        self.tsrc, self.tstart, self.tlen = _packed(list(fields.values()))
        # the groups' rows end to end: one column of Spans per column name
        bounds, offset = [], 0
        for columns, b in groups.values():
            bounds.append(np.asarray(b, dtype=np.int64) + offset)
            offset += len(next(iter(columns.values())))
        merged = [_concat([columns[name] for columns, _ in groups.values()])
                  for name in (names[0] if names else [])]
        self.rsrc, self.rstart, self.rlen = _packed(merged)
        self.rbounds = np.array(bounds, dtype=np.int64).reshape(len(bounds), self.n + 1)
        pieces = [(b"{" if j == 0 else b",") + orjson.dumps(k) + b":"
                  for j, k in enumerate(fields)]
        for g, (columns, _) in groups.items():
            pieces += [(b"," + orjson.dumps(g) + b":{" if c == 0 else b"],")
                       + orjson.dumps(name) + b":[" for c, name in enumerate(columns)]
            pieces.append(b"]}")
        pieces.append(b"}")
        self.llen = np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces))
        self.lstart = np.cumsum(self.llen) - self.llen
        self.lit = np.frombuffer(b"".join(pieces), dtype=np.uint8)

    def _length(self, a: int, b: int) -> int:
        """Bytes of :meth:`array` ``(a, b)``: brackets and commas between records, every
        literal piece and field text once per record, the rows' texts and the commas
        between the rows of a record's list."""
        n = b - a
        size = 2 + max(n - 1, 0) + n * int(self.llen.sum()) + int(self.tlen[:, a:b].sum())
        for bounds in self.rbounds:
            lo, hi = int(bounds[a]), int(bounds[b])
            filled = int(np.count_nonzero(np.diff(bounds[a:b + 1])))
            size += int(self.rlen[:, lo:hi].sum()) + self.n_cols * (hi - lo - filled)
        return size

    def array(self, a: int, b: int) -> bytes:
        """Records ``a:b`` as one JSON array."""
        out = np.empty(self._length(a, b), dtype=np.uint8)
        end = _records(out, a, b, self.tsrc, self.tstart, self.tlen, self.rsrc, self.rstart,
                       self.rlen, self.rbounds, self.n_cols, self.lit, self.lstart, self.llen)
        if end != out.shape[0]:                       # pragma: no cover - a length bug
            raise AssertionError(f"records wrote {end} bytes, {out.shape[0]} expected")
        return out.tobytes()

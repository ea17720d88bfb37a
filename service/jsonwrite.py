"""JSON arrays of records written by one compiled pass over pre-encoded columns.

A 1,000-trade answer in the ``trades`` layout holds about 21,000 Greek rows in
1,000 nested objects (2.4 MB). Building one Python dict and seven lists or
array slices per trade, then encoding them, cost more server CPU than pricing
the book. Here every column is encoded ONCE, as a whole, and one Numba kernel
assembles the records:

* a column of numbers (or of any JSON values) is :class:`Text`: the JSON array
  ``orjson.dumps`` writes for the whole column (for floats, of the NumPy array:
  shortest round-trip text, NaN and infinities as ``null``). The kernel walks
  it with a cursor -- the records take the column's elements in order, so a
  record's list of ``k`` rows is the next ``k`` elements, commas included, up
  to the next separator -- with no per-element start and length arrays;
  A float column's NaN and infinities are left out of the text and marked
  (``Text.nulls``): the kernel writes ``null`` for them;
* a column of strings from a small table is :class:`Coded`: each distinct value
  encoded once (cached by the table's content, see :func:`encoded_table`) and an
  integer code per element.

The kernels are in :mod:`service.jsonkernels`.

:func:`write_records` writes, per book (a range of records), the JSON array of
its records: per record its own fields, then per nested group an object of
lists of the record's rows. The bytes are exactly those ``orjson.dumps`` writes
for the same nested lists and dicts (tests/service/test_jsonwrite.py compares
them).

Examples
--------
>>> import numpy as np
>>> rows = np.array([0, 0, 1])
>>> grp = Group("g", rows, [("x", Coded(np.array([0, 1, 0]), encoded_table(("a", "b")))),
...                         ("v", Text.floats(np.array([1.5, np.nan, -0.0])))])
>>> write_records([("id", Text.values(["t1", "t2"]))], [grp], [0, 2])
[b'[{"id":"t1","g":{"x":["a","b"],"v":[1.5,null]}},{"id":"t2","g":{"x":["a"],"v":[-0.0]}}]']
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import orjson

from .jsonkernels import CODE, GCODE, GTEXT, LIT, TEXT, write

_NUMPY = orjson.OPT_SERIALIZE_NUMPY
_TABLES: dict = {}
_TABLES_MAX = 64


@dataclasses.dataclass(frozen=True)
class Table:
    """JSON texts of a table's values: entry ``k`` is ``buf[start[k]:start[k] + length[k]]``."""

    buf: bytes
    start: np.ndarray     # int64
    length: np.ndarray    # int64


def _table(texts: Sequence[bytes]) -> Table:
    lens = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    return Table(b"".join(texts), np.cumsum(lens) - lens, lens)


def encoded_table(values: tuple, raw: bool = False) -> Table:
    """The JSON text of each of ``values`` (JSON values), cached by content (a small
    bounded dict: the tables of labels, greek kinds, units and products repeat across
    requests). ``raw``: the values are already JSON texts (bytes), kept as they are."""
    key = (raw, values)
    hit = _TABLES.get(key)
    if hit is None:
        hit = _table(list(values) if raw else [orjson.dumps(v, option=_NUMPY) for v in values])
        if len(_TABLES) >= _TABLES_MAX:
            _TABLES.pop(next(iter(_TABLES)))
        _TABLES[key] = hit
    return hit


@dataclasses.dataclass(frozen=True)
class Text:
    """A column of ``n`` elements as the JSON array text of its elements (``generic``:
    elements may be strings or nested values, scanned as JSON; else numbers or ``null``
    only). ``nulls`` (bool per element, or None): these elements are ``null`` and not in
    the text, which holds the others."""

    buf: bytes
    n: int
    generic: bool
    nulls: np.ndarray | None = None

    @classmethod
    def floats(cls, values) -> "Text":
        """A float column (as float64): orjson's text, NaN and infinities as ``null`` (the
        text holds the finite values only)."""
        values = np.ascontiguousarray(values, dtype=np.float64)
        finite = np.isfinite(values)
        if finite.all():
            return cls(orjson.dumps(values, option=_NUMPY), values.shape[0], False)
        return cls(orjson.dumps(values[finite], option=_NUMPY), values.shape[0], False,
                   ~finite)

    @classmethod
    def values(cls, values: list) -> "Text":
        """A list of any JSON values (strings, None, numbers, lists, ...)."""
        return cls(orjson.dumps(values, option=_NUMPY), len(values), True)


@dataclasses.dataclass(frozen=True)
class Coded:
    """Element ``i`` is entry ``codes[i]`` of ``table``."""

    codes: np.ndarray     # int64, one per element
    table: Table


@dataclasses.dataclass(frozen=True)
class Group:
    """Rows nested in the records: ``rows[i]`` is the record of row ``i`` (non-decreasing);
    written as ``"name": {"col": [the record's rows], ...}``."""

    name: str
    rows: np.ndarray
    columns: list         # of (key, Text | Coded), one element per row


def _join(parts: list) -> np.ndarray:
    """One int64 array of the parts (no copy for a single part)."""
    if not parts:
        return np.zeros(0, dtype=np.int64)
    if len(parts) == 1:
        return np.ascontiguousarray(parts[0], dtype=np.int64)
    return np.concatenate([np.asarray(x, dtype=np.int64) for x in parts] +
                          [np.zeros(0, np.int64)])


def _offsets(lens: list) -> np.ndarray:
    """Start of each of consecutive pieces of lengths ``lens``."""
    return np.cumsum([0] + lens[:-1]).astype(np.int64) if lens else np.zeros(0, np.int64)


class _Program:
    """The operations of a record and the inputs they refer to, as the kernel takes them."""

    def __init__(self, n_records: int):
        self.n_records = n_records
        self.ops: list[tuple] = []
        self.lits: list[bytes] = []
        self.pending = b""
        self.texts: list[Text] = []
        self.tables: list[Table] = []
        self.rec_codes: list[np.ndarray] = []
        self.row_codes: dict[int, tuple] = {}     # id(codes) -> (index, codes)
        self.size = 0           # bytes per record beyond the texts (an upper bound)
        self.extra = 0          # bytes of the coded row columns (an upper bound)
        self.n_memo = 0         # GCODE operations so far

    def literal(self, b: bytes) -> None:
        self.pending += b

    def _op(self, o: int, a: int, b: int = 0, c: int = 0) -> None:
        if self.pending:
            self.ops.append((LIT, len(self.lits), 0, 0, 0))
            self.lits.append(self.pending)
            self.size += len(self.pending)
            self.pending = b""
        self.ops.append((o, a, b, c, self.n_memo))
        self.n_memo += o == GCODE

    def _table(self, codes: np.ndarray, table: Table, n: int) -> tuple[np.ndarray, int]:
        codes = np.ascontiguousarray(codes, dtype=np.int64)
        if codes.shape != (n,):
            raise ValueError(f"{codes.shape[0]} codes, {n} expected")
        if n and (int(codes.min()) < 0 or int(codes.max()) >= len(table.length)):
            raise ValueError("code outside its table")
        self.tables.append(table)
        return codes, len(self.tables) - 1

    def column(self, col, n: int, group: int | None = None) -> None:
        """Add a record field (``group`` None) or a group's row column of ``n`` elements."""
        if isinstance(col, Text):
            if col.n != n:
                raise ValueError(f"text column of {col.n} elements, {n} expected")
            self.texts.append(col)
            if col.nulls is not None:
                self.extra += 5 * int(np.count_nonzero(col.nulls))
            if group is None:
                self._op(TEXT, len(self.texts) - 1)
            else:
                self._op(GTEXT, len(self.texts) - 1, 0, group)
            return
        codes, tab = self._table(col.codes, col.table, n)
        width = int(col.table.length.max(initial=0))
        if group is None:
            self.rec_codes.append(codes)
            self._op(CODE, len(self.rec_codes) - 1, tab)
            self.size += width
        else:
            j = self.row_codes.setdefault(id(col.codes), (len(self.row_codes), codes))[0]
            self._op(GCODE, j, tab, group)
            self.extra += (width + 1) * n

    def close(self) -> None:
        """Flush the pending literal."""
        if self.pending:
            self.ops.append((LIT, len(self.lits), 0, 0, 0))
            self.lits.append(self.pending)
            self.size += len(self.pending)
            self.pending = b""


def write_records(fields: Sequence[tuple], groups: Sequence[Group], book_bounds,
                  wrap: Sequence[tuple[bytes, bytes]] | None = None) -> list[bytes]:
    """Per book, the JSON array of its records (between the book's head and tail).

    Parameters
    ----------
    fields : sequence of (key, Text or Coded)
        One element per record, written as ``"key":text`` in order; a key of None writes
        the element's text as it is (a :class:`Coded` whose table holds pieces such as
        ``,"a":1,"b":2``; not the first field).
    groups : sequence of Group
        Written after the fields, in order.
    book_bounds : sequence of int
        Book ``i`` is the records ``book_bounds[i]:book_bounds[i + 1]``; the last bound is
        the number of records.
    wrap : sequence of (bytes, bytes), optional
        Per book, the text written before and after its array (its answer's JSON
        around the records: one buffer, one copy out); None: nothing.
    """
    bounds = np.asarray(book_bounds, dtype=np.int64)
    n = int(bounds[-1])
    if not fields or fields[0][0] is None:
        raise ValueError("records need a first field with a key")
    prog = _Program(n)
    for j, (key, col) in enumerate(fields):
        if key is not None:
            prog.literal((b"{" if j == 0 else b",") + orjson.dumps(key) + b":")
        prog.column(col, n)
    for g, grp in enumerate(groups):
        for c, (key, col) in enumerate(grp.columns):
            prog.literal((b"," + orjson.dumps(grp.name) + b":{" if c == 0 else b"],")
                         + orjson.dumps(key) + b":[")
            prog.column(col, len(grp.rows), g)
        prog.literal(b"]}")
    prog.literal(b"}")
    prog.close()
    lens = [len(t.buf) for t in prog.texts]
    cursor = _offsets(lens) + 1
    text = np.empty(-(-(sum(lens) + 8) // 8) * 8, dtype=np.uint8)   # 8-byte words, padded
    for t, a in zip(prog.texts, cursor.tolist()):
        text[a - 1:a - 1 + len(t.buf)] = np.frombuffer(t.buf, dtype=np.uint8)
    generic = np.array([t.generic for t in prog.texts], dtype=np.bool_)
    masks = [t.nulls for t in prog.texts if t.nulls is not None]
    null_base = np.full(len(prog.texts), -1, dtype=np.int64)
    null_base[[t.nulls is not None for t in prog.texts]] = _offsets([len(x) for x in masks])
    nulls = np.concatenate(masks).view(np.uint8) if masks else np.zeros(0, np.uint8)
    tab = b"".join(t.buf for t in prog.tables)
    tab_base = _offsets([len(t.length) for t in prog.tables])
    bases = _offsets([len(t.buf) for t in prog.tables])
    tstart = _join([t.start + b for t, b in zip(prog.tables, bases)])
    tlen = _join([t.length for t in prog.tables])
    rec_codes = np.stack(prog.rec_codes) if prog.rec_codes else np.zeros((0, n), np.int64)
    row_codes = [c for _, c in prog.row_codes.values()]
    code_base = _offsets([len(c) for c in row_codes])
    group_n = np.array([len(g.rows) for g in groups], dtype=np.int64)
    group_base = _offsets(group_n.tolist())
    rows = _join([g.rows for g in groups])
    lit = np.frombuffer(b"".join(prog.lits) or b" ", dtype=np.uint8)
    llen = np.fromiter(map(len, prog.lits), dtype=np.int64, count=len(prog.lits))
    n_books = len(bounds) - 1
    pieces = [x for pair in wrap for x in pair] if wrap is not None else [b""] * 2 * n_books
    if len(pieces) != 2 * n_books:
        raise ValueError(f"{len(pieces) // 2} heads and tails, {n_books} books")
    wlen = np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces))
    size = 2 * n_books + n + n * prog.size + prog.extra + sum(lens) + int(wlen.sum())
    out = np.empty(size, dtype=np.uint8)
    ends = np.zeros(n_books, dtype=np.int64)
    end = write(out, bounds, ends, np.frombuffer(b"".join(pieces) or b" ", dtype=np.uint8),
                np.cumsum(wlen) - wlen, wlen, np.array(prog.ops, dtype=np.int64).reshape(-1, 5),
                lit, np.cumsum(llen) - llen, llen, text, text.view(np.uint64), cursor, generic,
                nulls, null_base, rec_codes, _join(row_codes), code_base,
                np.frombuffer(tab or b" ", dtype=np.uint8), tstart, tlen, tab_base, rows,
                group_base, group_n, 1 << min(max(2 * n, 16), 1023).bit_length())
    if end > size:                                    # pragma: no cover - a size bug
        raise AssertionError(f"records wrote {end} bytes, at most {size} expected")
    starts = [0] + ends[:-1].tolist()
    return [out[a:b].tobytes() for a, b in zip(starts, ends.tolist())]

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
  to the next separator -- with no per-element start and length arrays (a
  float column's NaN and infinities are in the text as ``null``: a mask of
  them, written by the kernel in runs, cost more than scanning the nulls' text);
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
import itertools
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
    only)."""

    buf: bytes
    n: int
    generic: bool

    @classmethod
    def floats(cls, values) -> "Text":
        """A float column (as float64): orjson's text, NaN and infinities as ``null``."""
        values = np.ascontiguousarray(values, dtype=np.float64)
        return cls(orjson.dumps(values, option=_NUMPY), values.shape[0], False)

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
    """Start of each of consecutive pieces of lengths ``lens`` (a few: summed in Python).

    Examples
    --------
    >>> _offsets([3, 1, 2]).tolist(), _offsets([]).tolist()
    ([0, 3, 4], [])
    """
    return np.array(list(itertools.accumulate(lens[:-1], initial=0)) if lens else [],
                    dtype=np.int64)


@dataclasses.dataclass(frozen=True)
class _Plan:
    """What a record's program needs beyond its columns' data, the same for every call with
    the same fields, groups and tables (cached, see :func:`_plan`)."""

    ops: np.ndarray       # (operation, a, b, c, memo) rows
    lit: np.ndarray
    lstart: np.ndarray
    llen: np.ndarray
    size: int             # bytes per record beyond the texts and coded row lists
    widths: list          # (group, width + 1) of each coded row column
    tab: np.ndarray       # the tables' entries, one buffer
    tstart: np.ndarray
    tlen: np.ndarray
    tab_base: np.ndarray
    tables: tuple         # the tables (held: the cache key has their ids)
    n_memo: int           # GCODE operations (each has a memo table)


def _lit_ops(parts: list) -> tuple[list, list]:
    """(ops, literals) of a program given as literals (bytes) and operations (tuples
    (o, a, b, c)); adjacent literals merged, GCODE operations numbered."""
    ops, lits, pending, n_memo = [], [], b"", 0
    for x in parts + [None]:
        if isinstance(x, bytes):
            pending += x
            continue
        if pending:
            ops.append((LIT, len(lits), 0, 0, 0))
            lits.append(pending)
            pending = b""
        if x is not None:
            ops.append((*x, n_memo))
            n_memo += x[0] == GCODE
    return ops, lits


def _build_plan(fields: Sequence[tuple], groups: Sequence[Group], row_index: list,
                tables: list) -> _Plan:
    """The :class:`_Plan` of records with these fields and groups (``row_index``: the coded
    row list of each group column, in order, or None; ``tables``: every coded column's
    table, fields first)."""
    parts: list = []
    n_text = n_rec = n_tab = 0
    widths, size = [], 0
    for j, (key, col) in enumerate(fields):
        if key is not None:
            parts.append((b"{" if j == 0 else b",") + orjson.dumps(key) + b":")
        if isinstance(col, Text):
            parts.append((TEXT, n_text, 0, 0))
            n_text += 1
        else:
            parts.append((CODE, n_rec, n_tab, 0))
            size += int(tables[n_tab].length.max(initial=0))
            n_rec += 1
            n_tab += 1
    k = 0
    for g, grp in enumerate(groups):
        for c, (key, col) in enumerate(grp.columns):
            parts.append((b"," + orjson.dumps(grp.name) + b":{" if c == 0 else b"],")
                         + orjson.dumps(key) + b":[")
            if isinstance(col, Text):
                parts.append((GTEXT, n_text, 0, g))
                n_text += 1
            else:
                parts.append((GCODE, row_index[k], n_tab, g))
                widths.append((g, int(tables[n_tab].length.max(initial=0)) + 1))
                n_tab += 1
            k += 1
        parts.append(b"]}")
    parts.append(b"}")
    ops, lits = _lit_ops(parts)
    llen = np.fromiter(map(len, lits), dtype=np.int64, count=len(lits))
    tlen = _join([t.length for t in tables])
    return _Plan(np.array(ops, dtype=np.int64).reshape(-1, 5),
                 np.frombuffer(b"".join(lits) or b" ", dtype=np.uint8), np.cumsum(llen) - llen,
                 llen, size + sum(len(x) for x in lits), widths,
                 np.frombuffer(b"".join(t.buf for t in tables) or b" ", dtype=np.uint8),
                 _join([t.start + b for t, b in
                        zip(tables, _offsets([len(t.buf) for t in tables]).tolist())]),
                 tlen, _offsets([len(t.length) for t in tables]), tuple(tables),
                 sum(op[0] == GCODE for op in ops))


_PLANS: dict = {}


def _plan(fields, groups, row_index: list, tables: list) -> _Plan:
    """:func:`_build_plan`, cached by the keys, column kinds, code sharing and table ids (a
    small dict, emptied when full: an answer's fields and tables repeat across requests;
    a plan holds its tables, so their ids are not reused while it is cached)."""
    key = (tuple((k, type(c)) for k, c in fields),
           tuple((g.name, tuple((k, type(c)) for k, c in g.columns)) for g in groups),
           tuple(row_index), tuple(map(id, tables)))
    hit = _PLANS.get(key)
    if hit is None:
        hit = _build_plan(fields, groups, row_index, tables)
        if len(_PLANS) >= _TABLES_MAX:
            _PLANS.clear()              # one C call: safe beside other worker threads
        _PLANS[key] = hit
    return hit


def _codes(col: Coded, n: int) -> np.ndarray:
    """``col``'s codes as int64 (``n`` of them; their range is checked by :func:`_check`)."""
    codes = np.ascontiguousarray(col.codes, dtype=np.int64)
    if codes.shape != (n,):
        raise ValueError(f"{codes.shape[0]} codes, {n} expected")
    return codes


def _check(codes: list, sizes: list) -> None:
    """Raise unless each of ``codes`` (int64 arrays) indexes a table of its ``sizes`` (one
    reduction each: as unsigned, a negative code is above any size; the kernel does not
    check its indexes)."""
    for c, size in zip(codes, sizes):
        if c.shape[0] and int(c.view(np.uint64).max()) >= size:
            raise ValueError("code outside its table")


def _columns(fields: Sequence[tuple], groups: Sequence[Group], n: int) -> tuple:
    """(texts, record codes, row code lists, row list of each group column (or None),
    tables) of the fields and groups, in program order, checked."""
    texts, rec_codes, tables = [], [], []
    row_codes: dict[int, tuple] = {}     # id(codes) -> (index, codes)
    row_index: list = []
    checks: dict[tuple, np.ndarray] = {}  # (id(codes), table size) -> codes
    for _, col in fields:
        if isinstance(col, Text):
            if col.n != n:
                raise ValueError(f"text column of {col.n} elements, {n} expected")
            texts.append(col)
        else:
            rec_codes.append(_codes(col, n))
            checks[id(col.codes), len(col.table.length)] = rec_codes[-1]
            tables.append(col.table)
    for grp in groups:
        m = len(grp.rows)
        for _, col in grp.columns:
            if isinstance(col, Text):
                if col.n != m:
                    raise ValueError(f"text column of {col.n} elements, {m} expected")
                texts.append(col)
                row_index.append(None)
            else:
                codes = _codes(col, m)
                checks[id(col.codes), len(col.table.length)] = codes
                row_index.append(row_codes.setdefault(id(col.codes),
                                                      (len(row_codes), codes))[0])
                tables.append(col.table)
    _check(list(checks.values()), [size for _, size in checks])
    return texts, rec_codes, [c for _, c in row_codes.values()], row_index, tables


def _scratch(n_groups: int, n_memo: int, n: int) -> tuple:
    """The write kernel's scratch space, zeros: (first, count, memo) for ``n_groups``
    groups, ``n_memo`` coded row lists and ``n`` records (a memo table of a power of two
    rows, more than twice as many as records up to 512, 32 to 1,024)."""
    slots = 1 << min(max(2 * n, 16), 1023).bit_length()
    return (np.zeros(n_groups, dtype=np.int64), np.zeros(n_groups, dtype=np.int64),
            np.zeros((n_memo, slots, 6), dtype=np.int64))


def _text(texts: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bytes, the same as 8-byte words, cursor of each text past its ``[``) of the texts
    one after the other, padded with at least 8 bytes to whole words."""
    lens = [len(t.buf) for t in texts]
    total = sum(lens)
    buf = b"".join([*(t.buf for t in texts), bytes(8 + (-total) % 8)])
    text = np.frombuffer(buf, dtype=np.uint8)
    if not text.flags.aligned:                       # pragma: no cover - bytes are aligned
        text = text.copy()
        text.flags.writeable = False
    return text, text.view(np.uint64), _offsets(lens) + 1


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
        around the records: one buffer, one copy out; bytes or memoryviews); None:
        nothing.
    """
    bounds = np.asarray(book_bounds, dtype=np.int64)
    n = int(bounds[-1])
    if not fields or fields[0][0] is None:
        raise ValueError("records need a first field with a key")
    texts, rec_codes, row_codes, row_index, tables = _columns(fields, groups, n)
    plan = _plan(fields, groups, row_index, tables)
    text, words, cursor = _text(texts)
    generic = np.array([t.generic for t in texts], dtype=np.bool_)
    group_n = [len(g.rows) for g in groups]
    n_books = len(bounds) - 1
    pieces = [x for pair in wrap for x in pair] if wrap is not None else [b""] * 2 * n_books
    if len(pieces) != 2 * n_books:
        raise ValueError(f"{len(pieces) // 2} heads and tails, {n_books} books")
    wlen = np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces))
    size = (2 * n_books + n + n * plan.size + sum(w * group_n[g] for g, w in plan.widths)
            + len(text) + int(wlen.sum()))
    out = np.empty(size, dtype=np.uint8)
    ends = np.zeros(n_books, dtype=np.int64)
    end = write(out, bounds, ends, np.frombuffer(b"".join(pieces) or b" ", dtype=np.uint8),
                np.cumsum(wlen) - wlen, wlen, plan.ops, plan.lit, plan.lstart, plan.llen, text,
                words, cursor, generic,
                np.stack(rec_codes) if rec_codes else np.zeros((0, n), np.int64),
                _join(row_codes), _offsets([len(c) for c in row_codes]), plan.tab,
                plan.tstart, plan.tlen, plan.tab_base, _join([g.rows for g in groups]),
                _offsets(group_n), np.array(group_n, dtype=np.int64),
                *_scratch(len(groups), plan.n_memo, n))
    if end > size:                                    # pragma: no cover - a size bug
        raise AssertionError(f"records wrote {end} bytes, at most {size} expected")
    starts = [0] + ends[:-1].tolist()
    return [out[a:b].tobytes() for a, b in zip(starts, ends.tolist())]

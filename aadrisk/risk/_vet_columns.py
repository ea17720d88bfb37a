"""Column validators of :func:`aadrisk.risk.columns.vet_book`: one column of a book's
mappings at a time, vouching only for the values ``parse_trade``'s scalar validators
would accept unchanged (numbers by one NumPy test, other fields through the field's
validator once per distinct value)."""
from __future__ import annotations

from collections.abc import Callable
from operator import itemgetter

import numpy as np

#: integers beyond this magnitude are left to the scalar validator (exact float conversion)
_EXACT_INT = 2 ** 53
_FAILED = object()


def _numbers(col: list, lower, closed: bool, types=None) -> tuple[np.ndarray, np.ndarray]:
    """(ok mask, float values) of a number column (ints up to 2**53, finite, bounded);
    ``types``: the set of the column's value types, if known."""
    types = set(map(type, col)) if types is None else types
    ints = None
    if types == {int}:
        try:
            ints = np.array(col, dtype=np.int64)
        except OverflowError:
            pass
    if types == {float}:
        x = np.array(col, dtype=float)
        ok = None                                   # every value a float: finite below
    elif ints is not None:                          # exact below 2**53, as float(a) is
        ok = (ints >= -_EXACT_INT) & (ints <= _EXACT_INT)
        x = np.where(ok, ints.astype(float), np.nan)
    else:
        good = [type(a) is float or (type(a) is int and -_EXACT_INT <= a <= _EXACT_INT)
                for a in col]
        ok = np.array(good, dtype=bool)
        x = np.array([a if g else np.nan for a, g in zip(col, good)], dtype=float)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(x) if ok is None else ok & np.isfinite(x)
        if lower is not None:
            ok &= (x >= lower) if closed else (x > lower)
    return ok, x


_BYTE = [bytes([c]) for c in range(256)]


class CodedList(list):
    """A column (a list) that also holds its values as codes: ``self[i]`` is
    ``distinct[codes[i]]``, ``distinct`` the distinct values in order of first appearance
    (as a reader that grouped the values' texts knows them). :func:`_by_value` then
    converts each distinct value without grouping the column again; everything else
    takes it as the list it is (a slice or a copy is a plain list)."""

    __slots__ = ("codes", "distinct")

    def __init__(self, values, codes: np.ndarray, distinct: list):
        super().__init__(values)
        self.codes = codes
        self.distinct = distinct


def _codes(table: dict, col: list, size: int) -> np.ndarray:
    """``table[a]`` (codes below ``size``) for every ``a`` of ``col``, as int64: one
    C call looking them up, and for fewer than 257 codes one byte each, joined."""
    if len(col) < 2:
        return np.fromiter(map(table.__getitem__, col), dtype=np.int64, count=len(col))
    if size > 256:
        return np.fromiter(itemgetter(*col)(table), dtype=np.int64, count=len(col))
    as_byte = {a: _BYTE[c] for a, c in table.items()}
    return np.frombuffer(b"".join(itemgetter(*col)(as_byte)), dtype=np.uint8).astype(np.int64)


def _by_value(col: list, conv: Callable, types=None) -> tuple[np.ndarray, list, tuple | None]:
    """(ok mask, converted values, (codes, table) or None) of a column through its scalar
    validator, called once per distinct (type, value); strings only: the values as codes
    into an object array of the distinct converted values (and ``_FAILED`` last), or,
    when every value converted, ``(codes, distinct values, True)``: what
    :meth:`TradeColumns.factorized` keeps (codes in order of first appearance).
    ``types``: the set of the column's value types, if known."""
    if type(col) is CodedList:
        got = _by_code(col, conv)
        if got is not None:
            return got
    if (set(map(type, col)) if types is None else types) == {str}:   # the usual case
        raw = dict.fromkeys(col)
        table: dict = {}
        failed = False
        for a in raw:
            try:
                x = conv(a)
            except (ValueError, TypeError, OverflowError):
                raw[a] = -1
                failed = True
                continue
            try:
                raw[a] = table.setdefault(x, len(table))
            except TypeError:                       # an unhashable value: no codes
                return _by_typed_value(col, conv) + (None,)
        k = len(table)
        if failed:
            for a, c in raw.items():
                if c < 0:
                    raw[a] = k
        codes = _codes(raw, col, k + 1)
        uniq = list(table)
        objs = np.empty(k + 1, dtype=object)
        objs[:k] = uniq
        objs[k] = _FAILED
        out = objs[codes]
        if failed:
            return codes != k, out, (codes, objs)
        # every value converted: the codes number the distinct values in order of first
        # appearance (``raw`` and ``table`` fill in that order), as ``factorize`` does
        return np.ones(len(col), dtype=bool), out, (codes, uniq, True)
    return _by_typed_value(col, conv) + (None,)


def _by_code(col: CodedList, conv: Callable) -> tuple | None:
    """:func:`_by_value` of a column of strings that knows its codes, when every distinct
    value converts (else None): the same codes, merged where two values convert to one."""
    if not all(type(a) is str for a in col.distinct):
        return None
    table: dict = {}
    try:
        new = [table.setdefault(conv(a), len(table)) for a in col.distinct]
    except (ValueError, TypeError, OverflowError):
        return None
    codes = np.asarray(col.codes, dtype=np.int64)
    if new != list(range(len(new))):
        codes = np.array(new, dtype=np.int64)[codes]
    uniq = list(table)
    objs = np.empty(len(uniq), dtype=object)
    objs[:] = uniq
    return np.ones(len(col), dtype=bool), objs[codes], (codes, uniq, True)


def _by_typed_value(col: list, conv: Callable) -> tuple[np.ndarray, list]:
    """:func:`_by_value` for a column of mixed types (cached by (type, value))."""
    cache: dict = {}
    ok = np.ones(len(col), dtype=bool)
    out = []
    for i, a in enumerate(col):
        try:
            key = (type(a), a)
            got = cache.get(key, cache)
        except TypeError:               # unhashable: left to the parser
            key, got = None, _FAILED
        if got is cache:
            try:
                got = conv(a)
            except (ValueError, TypeError, OverflowError):
                got = _FAILED
            cache[key] = got
        if got is _FAILED:
            ok[i] = False
        out.append(got)
    return ok, out


def _trade_ids(col: list, types=None) -> tuple[np.ndarray, list]:
    """(ok mask, ids) as ``parse_trade`` derives them (strings stripped, ints as text);
    ``types``: the set of the column's value types, if known."""
    if (set(map(type, col)) if types is None else types) == {str}:
        out = list(map(str.strip, col))
        if all(out):
            return np.ones(len(col), dtype=bool), out
    ok = np.ones(len(col), dtype=bool)
    out = []
    for i, a in enumerate(col):
        t = type(a)
        s = a.strip() if t is str else str(a) if t is int else ""
        if not s:
            ok[i] = False
        out.append(s)
    return ok, out

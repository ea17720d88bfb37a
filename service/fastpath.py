"""Fast path of ``POST /v1/risk``: the raw body parsed by orjson, the trades checked in one pass.

Pydantic validation of a 1,000-trade book (one model object per trade, then one
mapping per trade for the library) costs more server CPU than the rest of the
request handling together. :func:`parse_risk_body` accepts a body only when it
is certain that the schema (:class:`service.schemas.RiskRequest`, as FastAPI
validates it: ``json.loads`` then Python-mode validation) would accept it, and
then returns exactly what that path hands to the library:

* the request without its trades, validated by Pydantic (small);
* the trades as mappings of the fields the client gave, numbers as ``float``,
  keys in the schema's order (declared fields first, then unknown ones in the
  order given) -- what ``model_dump(mode="json", exclude_unset=True)`` of the
  validated trade models returns -- held as the checked columns
  (:class:`aadrisk.risk.columns.BookColumns`, which the library's
  ``greek_arrays`` vets without a dict per trade), with each column's set of
  value types (found by the checks; the library then does not scan them again).

The body is first offered to a compiled scan (:mod:`service.bodyscan`) that cuts
the trades array into one JSON array per field, decoded by orjson (no dict per
trade); a body it cannot vouch for is parsed whole by orjson. Both give the
same columns (tests/service/test_bodyscan.py compares them on generated and
broken bodies).

Anything else -- invalid JSON, JSON that ``orjson`` and ``json`` read
differently (integers beyond 64 bits, NaN literals, lone surrogates), a wrong
type anywhere -- returns ``None``: the caller then runs the full FastAPI /
Pydantic path, which answers 422 with the path of every bad field. The fast
path never produces an error of its own.
"""
from __future__ import annotations

import datetime as dt
import re

import numpy as np
import orjson
from pydantic import ValidationError

from aadrisk.risk.columns import BookColumns

from .bodyscan import ScannedBody, scan_body
from .schemas import RiskRequest, trade_field_kinds

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_GOOD_DATES: set[str] = set()
_MAX_DATES = 10_000
_ORDERS: dict[tuple, tuple] = {}
_MAX_ORDERS = 1_000
#: orjson reads an integer literal beyond 64 bits as a float (json.loads: an int); any
#: float this large is therefore refused (integers up to 2**53 convert exactly)
_BIG = 2.0 ** 63
#: bodies at least this large go through the compiled scan; smaller ones are parsed
#: whole (the scan's fixed cost, ~0.1 ms, is more than it saves below ~300 trades:
#: 10 trades 126 vs 61 us, 1,000 trades 1.12 vs 2.08 ms, 2026-11-27)
SCAN_MIN_BYTES = 49_152
_EXACT_INT = 2 ** 53
#: number columns shorter than this are checked in Python, longer ones by NumPy
_SMALL = 32
_NONE = type(None)


class _Reject(Exception):
    """The fast path cannot vouch for this input (the full path decides)."""


def _plain(x) -> None:
    """Raise ``_Reject`` if ``x`` (JSON as orjson parsed it) holds a float orjson may have
    read from a literal ``json.loads`` reads as an int, or a non-finite one."""
    t = type(x)
    if t is float:
        if not -_BIG < x < _BIG:
            raise _Reject
    elif t is list:
        for v in x:
            _plain(v)
    elif t is dict:
        for v in x.values():
            _plain(v)


def _numbers(col: list, types=None) -> tuple[list, frozenset]:
    """A column of a ``Number`` field (finite int or float, or null) as floats, and the
    set of its value types (``types``: the set of the values' types, when known; likewise
    below)."""
    types = set(map(type, col)) if types is None else types
    if not types <= {float, int, _NONE}:
        raise _Reject
    if _NONE in types:
        out = [None if v is None else float(v) for v in col]
        given = [v for v in out if v is not None]
    elif types == {float}:
        out = given = list(col)                 # what float() of each gives: the same objects
    else:
        out = given = list(map(float, col))
    out_types = frozenset(([float] if given else []) + ([_NONE] if _NONE in types else []))
    if len(given) < _SMALL:                     # a short column: NumPy's set-up costs more
        for v in given:
            if not -_BIG < v < _BIG:            # also false for NaN and infinities
                raise _Reject
        exact = all(-_EXACT_INT < v < _EXACT_INT for v in given)
    elif given:
        magnitude = np.abs(np.fromiter(given, dtype=float, count=len(given)))
        if not (magnitude < _BIG).all():
            raise _Reject
        exact = bool((magnitude < _EXACT_INT).all())
    else:
        exact = True
    # an int converts exactly when |v| < 2**53; float() rounds monotonically and 2**53 is
    # a float, so |float(v)| < 2**53 implies it (else check the ints one by one)
    if int in types and not exact and \
            any(type(v) is int and not -_EXACT_INT <= v <= _EXACT_INT for v in col):
        raise _Reject
    return out, out_types


def _dates(col: list, types=None) -> tuple[list, frozenset]:
    """A column of a ``Date`` field: ISO ``YYYY-MM-DD`` strings (or null), unchanged, and
    the set of its value types."""
    types = frozenset(map(type, col)) if types is None else types
    if not types <= {str, _NONE}:
        raise _Reject
    for v in set(col) - _GOOD_DATES:
        if v is None:
            continue
        if not _DATE.fullmatch(v):
            raise _Reject
        try:
            dt.date.fromisoformat(v)
        except ValueError:
            raise _Reject from None
        if len(_GOOD_DATES) < _MAX_DATES:
            _GOOD_DATES.add(v)
    return col, types


def _strings(col: list, types=None) -> tuple[list, frozenset]:
    types = frozenset(map(type, col)) if types is None else types
    if not types <= {str, _NONE}:
        raise _Reject
    return col, types


def _trade_ids(col: list, types=None) -> tuple[list, frozenset]:
    types = frozenset(map(type, col)) if types is None else types
    if not types <= {str, int, _NONE}:
        raise _Reject
    return col, types


def _anys(col: list, types=None) -> tuple[list, frozenset]:
    types = frozenset(map(type, col)) if types is None else types
    if not types <= {str, int, bool, _NONE}:
        for v in col:
            _plain(v)
    return col, types


_CHECKS = {"id": _trade_ids, "number": _numbers, "date": _dates, "string": _strings,
           "any": _anys}


def _order(keys: tuple) -> tuple:
    """((key, column check), ...) for trades with these keys, in the order of the mapping
    the schema path gives: declared fields in schema order, then unknown ones as given."""
    order = _ORDERS.get(keys)
    if order is None:
        kinds = trade_field_kinds()
        given = set(keys)
        order = tuple([(k, _CHECKS[kind]) for k, kind in kinds.items() if k in given] +
                      [(k, _anys) for k in keys if k not in kinds])
        if len(_ORDERS) < _MAX_ORDERS:
            _ORDERS[keys] = order
    return order


def check_trades(trades: list) -> BookColumns:
    """The trades as the schema path's mappings, held as columns; raise ``_Reject`` on
    any doubt.

    Trades with the same keys (in the same order) are checked together, a column per
    field (type sets, one NumPy finiteness test, each distinct date parsed once).

    Parameters
    ----------
    trades : list
        ``portfolio.trades`` as parsed from JSON.

    Returns
    -------
    BookColumns
        Per key set, the checked columns (numbers as float, keys in schema order): its
        mappings are those of the schema path, in order.
    """
    if not set(map(type, trades)) <= {dict}:
        raise _Reject
    key_sets = set(map(tuple, trades))
    if len(key_sets) == 1:                          # the usual book: one key tuple
        groups = {key_sets.pop(): list(range(len(trades)))}
    else:
        groups = {}
        for i, keys in enumerate(map(tuple, trades)):
            groups.setdefault(keys, []).append(i)
    out, types = [], []
    for keys, idx in groups.items():
        members = [trades[i] for i in idx] if len(groups) > 1 else trades
        order = _order(keys)
        checked = [check([t[k] for t in members]) for k, check in order]
        out.append((tuple(k for k, _ in order), idx, [c for c, _ in checked]))
        types.append(tuple(t for _, t in checked))
    return BookColumns(len(trades), out, types)


def _scanned_columns(scanned: ScannedBody) -> BookColumns:
    """The columns of a scanned body (every trade with the same declared keys), checked
    as :func:`check_trades` checks them; raise ``_Reject`` on any doubt."""
    if scanned.n == 0:
        return BookColumns(0, [])
    by_key = dict(zip(scanned.keys, zip(scanned.columns, scanned.types)))
    order = _order(scanned.keys)
    checked = [check(*by_key[k]) for k, check in order]
    return BookColumns(scanned.n, [(tuple(k for k, _ in order), list(range(scanned.n)),
                                    [c for c, _ in checked])],
                       [tuple(t for _, t in checked)])


def _request(doc) -> RiskRequest | None:
    """The request without its trades (``doc["portfolio"]["trades"]`` is ``[]``)."""
    try:
        _plain(doc)
        return RiskRequest.model_validate(doc)
    except (_Reject, ValidationError):
        return None


def parse_risk_body(body: bytes) -> tuple[RiskRequest, BookColumns] | None:
    """(the request without trades, the trades as columns of mappings), or ``None`` to
    use the full validation path.

    The trades of a body of :data:`SCAN_MIN_BYTES` or more are first cut into
    columns by one compiled scan (:func:`service.bodyscan.scan_body`); a smaller
    body, or one the scan cannot vouch for, is parsed whole by orjson.

    Parameters
    ----------
    body : bytes
        The raw request body (``Content-Type: application/json``).

    Returns
    -------
    (RiskRequest, BookColumns) or None
        ``request.portfolio.trades`` is empty; the trades are the second item.
    """
    scanned = scan_body(body, trade_field_kinds()) if len(body) >= SCAN_MIN_BYTES else None
    if scanned is None:
        return _parse_whole(body)
    try:
        doc = orjson.loads(scanned.skeleton)
    except orjson.JSONDecodeError:
        return None
    try:
        trades = _scanned_columns(scanned)
    except _Reject:
        return None
    req = _request(doc)
    return None if req is None else (req, trades)


def _parse_whole(body: bytes) -> tuple[RiskRequest, BookColumns] | None:
    """:func:`parse_risk_body` by ``orjson.loads`` of the whole body."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if type(doc) is not dict:
        return None
    portfolio = doc.get("portfolio")
    if type(portfolio) is not dict or type(portfolio.get("trades")) is not list:
        return None
    try:
        trades = check_trades(portfolio["trades"])
    except _Reject:
        return None
    req = _request({**doc, "portfolio": {**portfolio, "trades": []}})
    return None if req is None else (req, trades)

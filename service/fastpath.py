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
  validated trade models returns.

Anything else -- invalid JSON, JSON that ``orjson`` and ``json`` read
differently (integers beyond 64 bits, NaN literals, lone surrogates), a wrong
type anywhere -- returns ``None``: the caller then runs the full FastAPI /
Pydantic path, which answers 422 with the path of every bad field. The fast
path never produces an error of its own.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

import orjson
from pydantic import ValidationError

from .schemas import RiskRequest, trade_field_kinds

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
#: an integer literal orjson would turn into a float (json.loads keeps it an int)
_LONG_INT = re.compile(rb"[0-9]{20}")
_GOOD_DATES: set[str] = set()
_MAX_DATES = 10_000
_PLANS: dict[tuple, tuple | None] = {}
_MAX_PLANS = 1_000
_EXACT_INT = 2 ** 53


class _Reject(Exception):
    """The fast path cannot vouch for this input (the full path decides)."""


def _number(v):
    t = type(v)
    if t is float:
        if math.isfinite(v):
            return v
    elif t is int and -_EXACT_INT <= v <= _EXACT_INT:
        return float(v)
    elif v is None:
        return None
    raise _Reject


def _date(v):
    if type(v) is str:
        if v in _GOOD_DATES:
            return v
        if _DATE.fullmatch(v):
            try:
                dt.date.fromisoformat(v)
            except ValueError:
                raise _Reject from None
            if len(_GOOD_DATES) < _MAX_DATES:
                _GOOD_DATES.add(v)
            return v
    elif v is None:
        return None
    raise _Reject


def _string(v):
    if type(v) is str or v is None:
        return v
    raise _Reject


def _trade_id(v):
    t = type(v)
    if t is str or t is int or v is None:
        return v
    raise _Reject


def _any(v):
    return v


_CHECKS = {"id": _trade_id, "number": _number, "date": _date, "string": _string,
           "any": _any}


def _plan(keys: tuple) -> tuple:
    """((key, check), ...) for a trade with these keys, in the order of the mapping the
    schema path gives: declared fields in schema order, then unknown ones as given."""
    plan = _PLANS.get(keys)
    if plan is None:
        kinds = trade_field_kinds()
        given = set(keys)
        declared = [(k, _CHECKS[kind]) for k, kind in kinds.items() if k in given]
        extra = [(k, _any) for k in keys if k not in kinds]
        plan = tuple(declared + extra)
        if len(_PLANS) < _MAX_PLANS:
            _PLANS[keys] = plan
    return plan


def check_trades(trades: list) -> list[dict]:
    """The trades as the schema path's mappings; raise ``_Reject`` on any doubt.

    Parameters
    ----------
    trades : list
        ``portfolio.trades`` as parsed from JSON.

    Returns
    -------
    list of dict
        One mapping per trade (numbers as float, keys in schema order).
    """
    out = []
    append = out.append
    for t in trades:
        if type(t) is not dict:
            raise _Reject
        append({k: check(t[k]) for k, check in _plan(tuple(t))})
    return out


def parse_risk_body(body: bytes) -> tuple[RiskRequest, list[dict]] | None:
    """(the request without trades, the trades as mappings), or ``None`` to use the
    full validation path.

    Parameters
    ----------
    body : bytes
        The raw request body (``Content-Type: application/json``).

    Returns
    -------
    (RiskRequest, list of dict) or None
        ``request.portfolio.trades`` is empty; the trades are the second item.
    """
    if _LONG_INT.search(body):
        return None
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
    skeleton: dict[str, Any] = {**doc, "portfolio": {**portfolio, "trades": []}}
    try:
        req = RiskRequest.model_validate(skeleton)
    except ValidationError:
        return None
    return req, trades

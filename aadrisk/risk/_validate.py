"""Small validators shared by instruments and market parsing.

Each returns the converted value or raises ``ValueError`` with a short reason;
callers wrap the reason into a :class:`~aadrisk.risk.errors.TradeError` or
:class:`~aadrisk.risk.errors.MarketError` that names the field.
"""
from __future__ import annotations

import datetime as _dt
import math
import numbers


def number(value: object) -> float:
    """A finite real number (bool and numeric strings are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"must be a number, got {type(value).__name__}")
    x = float(value)
    if not math.isfinite(x):
        raise ValueError("must be a finite number")
    return x


def positive(value: object) -> float:
    """A finite number > 0."""
    x = number(value)
    if x <= 0.0:
        raise ValueError("must be a positive number")
    return x


def non_negative(value: object) -> float:
    """A finite number >= 0."""
    x = number(value)
    if x < 0.0:
        raise ValueError("must be a number >= 0")
    return x


def date(value: object) -> _dt.date:
    """A calendar date: a :class:`datetime.date` or an ISO string ``YYYY-MM-DD``."""
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, str):
        try:
            return _dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError("must be a date YYYY-MM-DD")


def text(value: object) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    return value.strip()

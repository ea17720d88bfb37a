"""Reading books and market snapshots from JSON files (format: docs/formats.md).

Examples
--------
>>> import json, os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "book.json")
>>> with open(path, "w") as fh:
...     json.dump({"market": {"valuation_date": "2024-06-28", "rate": 0.05,
...                           "underlyings": {"XYZ": {"spot": 100.0, "vol": 0.2}}},
...                "trades": [{"trade_id": "T1", "underlying": "XYZ", "option_type": "call",
...                            "strike": 100.0, "expiry": "2025-06-28", "quantity": 10}]}, fh)
>>> book = load_book(path)
>>> book.name, len(book.trades), book.market.valuation_date
('book.json', 1, datetime.date(2024, 6, 28))
"""
from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping

from .errors import BookError
from .market import MarketSnapshot


@dataclasses.dataclass(frozen=True)
class Book:
    """A book as read from a file.

    Attributes
    ----------
    name : str
        The book's ``name`` field, or the file name.
    trades : tuple of dict
        Raw trade records, validated later by :func:`aadrisk.risk.compute_risk`
        (so that one bad trade does not stop the others).
    market : MarketSnapshot or None
        The embedded ``market`` section, if any.
    """

    name: str
    trades: tuple
    market: MarketSnapshot | None = None


def _read_json(path: str | os.PathLike, what: str) -> object:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise BookError(f"{what} file not found: {path}") from None
    except json.JSONDecodeError as exc:
        raise BookError(f"{what} file {path} is not valid JSON: {exc}") from None
    except OSError as exc:
        raise BookError(f"cannot read {what} file {path}: {exc}") from None


def load_market(path: str | os.PathLike) -> MarketSnapshot:
    """Read a market JSON file (the market object, or ``{"market": {...}}``).

    Raises :class:`BookError` if unreadable, :class:`MarketError` if malformed.
    """
    return MarketSnapshot.from_mapping(_read_json(path, "market"))


def load_book(path: str | os.PathLike) -> Book:
    """Read a book JSON file ``{"name"?, "market"?, "trades": [...]}``.

    Trades are returned raw; the embedded market (if present) is parsed.
    Raises :class:`BookError` if the file is unreadable or not a book, and
    :class:`~aadrisk.risk.errors.MarketError` if its market section is malformed.
    """
    doc = _read_json(path, "book")
    if not isinstance(doc, Mapping):
        raise BookError(f"book file {path} must hold a JSON object with a 'trades' list")
    trades = doc.get("trades")
    if not isinstance(trades, list):
        raise BookError(f"book file {path}: 'trades' must be a list of trade objects")
    unknown = sorted(set(doc) - {"name", "description", "market", "trades"})
    if unknown:
        raise BookError(f"book file {path}: unknown top-level field(s) {unknown}; "
                        "expected name, description, market, trades")
    market = MarketSnapshot.from_mapping(doc["market"]) if "market" in doc else None
    name = doc.get("name") or os.path.basename(os.fspath(path))
    return Book(name=str(name), trades=tuple(trades), market=market)

"""Reading portfolios (JSON for every product, CSV for vanilla products) and market files.

A portfolio is read whole; its trades are *not* validated here one by one (the
workers do that inside :func:`aadrisk.risk.greeks.greek_vectors`, in parallel),
only what must be decided over the whole book: every trade is a JSON object
and trade ids are unique (a later duplicate is rejected, the first kept).
Every problem is a :class:`BookProblem` naming the file, the trade id, its
position in the file, the field and the value; a file that cannot be used at
all raises :class:`PortfolioError` naming the file.

Formats (docs/batch.md, JSON Schema docs/schemas/portfolio.schema.json):

* JSON: ``{"name": ..., "description": ..., "market": {...}?, "trades": [...]}``
  or a bare list of trades;
* CSV: one trade per row, a header row of field names (``trade_id``, ``product``,
  ``underlying``, ``option_type``, ``strike``, ``expiry``, ``quantity`` and the
  product's own fields such as ``barrier``, ``barrier_type``, ``rebate``,
  ``payoff``, ``cash``, ``n_fixings``); an empty cell means "field absent";
  cells that read as numbers become numbers, except in the text columns
  :data:`TEXT_COLUMNS`.  Lines starting with ``#`` are comments.

Examples
--------
>>> import os, tempfile
>>> p = os.path.join(tempfile.mkdtemp(), "book.csv")
>>> _ = open(p, "w").write("trade_id,underlying,option_type,strike,expiry,quantity\\n"
...                        "A,SPX,call,5000,2025-06-20,10\\nA,SPX,put,5000,2025-06-20,1\\n")
>>> pf = load_portfolio(p)
>>> pf.trades[0]["strike"], len(pf.trades), [(e.trade_id, e.field, e.position) for e in pf.problems]
(5000.0, 2, [('A', 'trade_id', 1)])
"""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["Portfolio", "PortfolioError", "BookProblem", "load_portfolio", "load_market_file",
           "file_sha256", "canonical_hash", "TEXT_COLUMNS", "PROBLEM_COLUMNS"]

#: CSV columns always read as text (never converted to numbers)
TEXT_COLUMNS = frozenset({"trade_id", "product", "underlying", "option_type", "expiry",
                          "payoff", "barrier_type", "currency", "model", "payoff_type",
                          "start", "end", "maturity", "tenor", "curve", "index", "frequency",
                          "day_count", "direction", "side", "pay_receive", "cap_floor",
                          "exercise", "swap_tenor", "start_date", "end_date", "fixing_date",
                          "payment_date", "issue_date"})
#: columns of the errors file
PROBLEM_COLUMNS = ["position", "trade_id", "field", "value", "message", "file"]


class PortfolioError(ValueError):
    """A portfolio or market file cannot be used at all (names the file)."""


@dataclasses.dataclass(frozen=True)
class BookProblem:
    """One rejected trade: file, position in the file (0-based), trade id, field, value, why."""

    file: str
    position: int
    trade_id: str
    field: str
    value: object
    reason: str

    def __str__(self) -> str:
        return (f"{self.file}: trade {self.trade_id!r} (#{self.position}): field "
                f"{self.field!r} = {self.value!r}: {self.reason}")

    def record(self) -> dict:
        return {"position": int(self.position), "trade_id": str(self.trade_id),
                "field": str(self.field), "value": repr(self.value),
                "message": str(self), "file": self.file}


@dataclasses.dataclass(frozen=True)
class Portfolio:
    """A portfolio as read: raw trade mappings in file order, problems, file hash."""

    name: str
    path: str
    sha256: str
    trades: list
    problems: list
    market: Mapping | None = None
    description: str = ""

    @property
    def valid_positions(self) -> list:
        """Positions of the trades passed on to pricing (not rejected here)."""
        bad = {p.position for p in self.problems}
        return [i for i in range(len(self.trades)) if i not in bad]


def file_sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def canonical_hash(obj) -> str:
    """sha256 of the canonical JSON of ``obj`` (sorted keys, no spaces)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":"),
                                     default=str).encode()).hexdigest()


def _read_json(path: Path, what: str):
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise PortfolioError(f"{what} file not found: {path}") from None
    except json.JSONDecodeError as exc:
        raise PortfolioError(f"{what} file {path} is not valid JSON: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PortfolioError(f"cannot read {what} file {path}: {exc}") from None


def _cell(column: str, text: str):
    s = text.strip()
    if column in TEXT_COLUMNS:
        return s
    try:
        x = float(s)
    except ValueError:
        return s
    return x if math.isfinite(x) else s


def _read_csv(path: Path) -> list:
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            lines = [ln for ln in fh if not ln.lstrip().startswith("#")]
    except FileNotFoundError:
        raise PortfolioError(f"portfolio file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PortfolioError(f"cannot read portfolio file {path}: {exc}") from None
    reader = csv.reader(lines)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise PortfolioError(f"portfolio file {path} is empty (no header row)") from None
    if "trade_id" not in header:
        raise PortfolioError(f"portfolio file {path}: the header row {header} has no "
                             "'trade_id' column")
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup or "" in header:
        raise PortfolioError(f"portfolio file {path}: header columns must be named and "
                             f"unique, got {header}")
    trades = []
    for row in reader:
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(header):
            # keep the row so that the problem names it (position, trade id)
            trades.append({"__row__": row, "trade_id": row[0].strip() if row else ""})
            continue
        trades.append({h: _cell(h, c) for h, c in zip(header, row) if c.strip() != ""})
    return trades


def load_market_file(path) -> tuple[Mapping, str]:
    """A market JSON file (``{...}`` or ``{"market": {...}}``) and its sha256."""
    path = Path(path)
    raw = _read_json(path, "market")
    if isinstance(raw, Mapping) and "market" in raw and "underlyings" not in raw:
        raw = raw["market"]
    if not isinstance(raw, Mapping):
        raise PortfolioError(f"market file {path} must hold a JSON object")
    return raw, file_sha256(path)


def load_portfolio(path) -> Portfolio:
    """Read a portfolio file (``.json`` or ``.csv``); see the module notes."""
    path = Path(path)
    fname = str(path)
    name, description, market = path.stem, "", None
    if path.suffix.lower() == ".csv":
        trades = _read_csv(path)
    else:
        doc = _read_json(path, "portfolio")
        if isinstance(doc, list):
            trades = doc
        elif isinstance(doc, Mapping) and isinstance(doc.get("trades"), list):
            trades = doc["trades"]
            unknown = sorted(set(doc) - {"name", "description", "market", "trades"})
            if unknown:
                raise PortfolioError(f"portfolio file {path}: unknown field(s) {unknown}; "
                                     "expected name, description, market, trades")
            name = str(doc.get("name") or name)
            description = str(doc.get("description") or "")
            market = doc.get("market")
            if market is not None and not isinstance(market, Mapping):
                raise PortfolioError(f"portfolio file {path}: 'market' must be an object")
        else:
            raise PortfolioError(f"portfolio file {path} must hold a JSON object with a "
                                 "'trades' list (or a list of trades)")
    problems, seen = [], {}
    for pos, t in enumerate(trades):
        if not isinstance(t, Mapping):
            problems.append(BookProblem(fname, pos, f"#{pos}", "trade", t,
                                        "must be a JSON object (a mapping)"))
            continue
        if "__row__" in t:
            problems.append(BookProblem(fname, pos, t["trade_id"] or f"#{pos}", "row",
                                        ",".join(t["__row__"]), "wrong number of cells for "
                                        "the header row"))
            continue
        tid = t.get("trade_id")
        if isinstance(tid, (str, int)) and not isinstance(tid, bool) and str(tid).strip():
            key = str(tid).strip()
            if key in seen:
                problems.append(BookProblem(fname, pos, key, "trade_id", tid,
                                            f"duplicate trade id (first at #{seen[key]})"))
            else:
                seen[key] = pos
    return Portfolio(name, fname, file_sha256(path), list(trades), problems, market,
                     description)


def problem_from_trade_error(file: str, position: int, err) -> BookProblem:
    """A :class:`~aadrisk.risk.errors.TradeError` of a trade at ``position`` of ``file``."""
    return BookProblem(file, int(position), err.trade_id, err.field, err.value, err.reason)


def env_int(name: str, default: int | None = None) -> int | None:
    v = os.environ.get(name)
    return default if v in (None, "") else int(v)

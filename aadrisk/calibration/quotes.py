"""Quote files for calibration: reading and validation (format: docs/calibration.md).

Two kinds of file:

* ``"kind": "vol_surface"`` -- Black (lognormal) implied vols of an equity/FX
  underlying by expiry and strike, as a grid (``expiries``, ``strikes``,
  ``vols[i][j]``, optional ``weights[i][j]``; ``null`` = no quote) or as a list
  ``quotes: [{expiry, strike, vol, weight?}]``.  Labels
  ``vol/<U>/<EXPIRY>/<STRIKE>`` as in the market snapshot.  Used by ``heston``,
  ``sabr`` and ``local-vol``.
* ``"kind": "swaption"`` / ``"cap"`` -- ATM (or fixed-strike) swaption or cap
  vols of a currency for ``hull-white``; ``quotes: [{expiry, tenor, vol}]``
  (swaptions, tenors like ``1Y``) or ``[{maturity, vol, strike?}]`` (caps);
  ``vol_type`` ``normal`` (Bachelier, rate units) or ``lognormal`` (Black).
  Labels ``swaption/<CCY>/<EXPIRY>/<TENOR>`` and ``cap/<CCY>/<MATURITY>``.

Every validation error is a :class:`QuoteError` whose message names the quote
(its label, expiry, strike and value).
"""
from __future__ import annotations

import datetime as dt
import json
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["QuoteError", "VolQuote", "SurfaceQuotes", "RateQuote", "RateQuotes", "load_quotes",
           "parse_quotes"]

DAYS_PER_YEAR = 365.0


class QuoteError(ValueError):
    """A quote (or the quote file) is unusable; the message names the quote."""


def _fmt(x: float) -> str:
    return f"{x:g}"


def _date(where, value) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise QuoteError(f"{where} = {value!r}: must be a date YYYY-MM-DD") from None


def _vol(where, value) -> float:
    if value is None:
        raise QuoteError(f"{where}: missing vol (null)")
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or \
            not math.isfinite(float(value)):
        raise QuoteError(f"{where}: vol {value!r} is not a finite number")
    if float(value) <= 0.0:
        raise QuoteError(f"{where}: vol {value!r} must be positive")
    return float(value)


def _pos(where, value, what="value") -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or \
            not math.isfinite(float(value)) or float(value) <= 0:
        raise QuoteError(f"{where}: {what} {value!r} must be a positive finite number")
    return float(value)


def _weight(where, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or \
            not math.isfinite(float(value)) or float(value) < 0:
        raise QuoteError(f"{where}: weight {value!r} must be a finite number >= 0")
    return float(value)


@dataclass(frozen=True)
class VolQuote:
    """One implied-vol quote: expiry (date and years), strike, Black vol, weight, label."""

    expiry: dt.date
    t: float
    strike: float
    vol: float
    weight: float
    label: str


@dataclass
class SurfaceQuotes:
    """Validated implied-vol quotes of one underlying (sorted by expiry, then strike)."""

    underlying: str
    valuation_date: dt.date
    quotes: list
    forwards: dict = field(default_factory=dict)   # expiry -> forward (optional overrides)
    description: str = ""

    @property
    def expiries(self) -> list:
        return sorted({q.expiry for q in self.quotes})

    def by_expiry(self) -> dict:
        out = {}
        for q in self.quotes:
            out.setdefault(q.expiry, []).append(q)
        return out

    @property
    def labels(self) -> list:
        return [q.label for q in self.quotes]

    def arrays(self) -> dict:
        """``t``, ``strike``, ``vol``, ``weight`` as arrays in quote order."""
        return {k: np.array([getattr(q, k) for q in self.quotes], dtype=float)
                for k in ("t", "strike", "vol", "weight")}

    def require_strikes(self, n: int, why: str) -> None:
        """Every expiry has at least ``n`` quotes with positive weight (else QuoteError)."""
        for e, qs in self.by_expiry().items():
            used = [q for q in qs if q.weight > 0]
            if len(used) < n:
                raise QuoteError(
                    f"{self.underlying} expiry {e.isoformat()}: {len(used)} strike(s) "
                    f"({', '.join(_fmt(q.strike) for q in qs) or 'none'}); {why} needs at least "
                    f"{n} per expiry")


@dataclass(frozen=True)
class RateQuote:
    """A swaption (``expiry``, ``tenor``) or cap (``maturity``) vol quote."""

    kind: str
    expiry: str          # swaption expiry tenor; cap: "" (caps start at spot)
    tenor: str           # swaption tenor; cap maturity
    vol: float
    strike: float | None  # None = ATM
    weight: float
    label: str


@dataclass
class RateQuotes:
    kind: str            # "swaption" or "cap"
    currency: str
    vol_type: str        # "normal" or "lognormal"
    quotes: list
    valuation_date: dt.date | None = None
    fixed_tenor: str = "1Y"
    frequency: str = "6M"
    description: str = ""

    @property
    def labels(self) -> list:
        return [q.label for q in self.quotes]


def load_quotes(path) -> "SurfaceQuotes | RateQuotes":
    """Read and validate a quote file (JSON)."""
    p = Path(path)
    try:
        raw = json.loads(p.read_text())
    except FileNotFoundError:
        raise QuoteError(f"quote file {str(p)!r} not found") from None
    except json.JSONDecodeError as exc:
        raise QuoteError(f"quote file {str(p)!r} is not valid JSON: {exc}") from None
    return parse_quotes(raw)


_SURF_FIELDS = {"kind", "underlying", "valuation_date", "expiries", "strikes", "vols", "weights",
                "quotes", "forwards", "description", "vol_type"}
_RATE_FIELDS = {"kind", "currency", "valuation_date", "vol_type", "quotes", "fixed_tenor",
                "frequency", "description"}


def parse_quotes(raw, valuation_date: dt.date | None = None):
    """Validate a quote document (dict); ``valuation_date`` is the market's (optional)."""
    if not isinstance(raw, Mapping):
        raise QuoteError(f"quote file must be a JSON object, got {type(raw).__name__}")
    kind = raw.get("kind", "vol_surface")
    if kind == "vol_surface":
        return _surface(raw, valuation_date)
    if kind in ("swaption", "cap"):
        return _rates(raw, kind, valuation_date)
    raise QuoteError(f"quote file: kind {kind!r} unknown; expected 'vol_surface', 'swaption' "
                     "or 'cap'")


def _val_date(raw, valuation_date):
    if "valuation_date" in raw:
        d = _date("quotes: valuation_date", raw["valuation_date"])
        if valuation_date is not None and d != valuation_date:
            raise QuoteError(f"quotes: valuation_date {d.isoformat()} differs from the market's "
                             f"{valuation_date.isoformat()}")
        return d
    if valuation_date is None:
        raise QuoteError("quotes: missing 'valuation_date' (and no market given)")
    return valuation_date


def _surface(raw, valuation_date) -> SurfaceQuotes:
    bad = sorted(set(raw) - _SURF_FIELDS)
    if bad:
        raise QuoteError(f"quote file: unknown field(s) {bad}; expected {sorted(_SURF_FIELDS)}")
    if raw.get("vol_type", "lognormal") != "lognormal":
        raise QuoteError(f"vol_surface quotes: vol_type {raw['vol_type']!r}; only 'lognormal' "
                         "(Black) vols are supported")
    und = raw.get("underlying")
    if not isinstance(und, str) or not und:
        raise QuoteError("quote file: 'underlying' (a name, e.g. 'SPX') is required")
    val = _val_date(raw, valuation_date)
    items = []   # (expiry_raw, strike_raw, vol_raw, weight_raw, where)
    if "quotes" in raw:
        if any(k in raw for k in ("expiries", "strikes", "vols", "weights")):
            raise QuoteError("quote file: give either 'quotes' or the grid "
                             "'expiries'/'strikes'/'vols', not both")
        if not isinstance(raw["quotes"], list) or not raw["quotes"]:
            raise QuoteError("quote file: 'quotes' must be a non-empty list")
        for n, q in enumerate(raw["quotes"]):
            if not isinstance(q, Mapping):
                raise QuoteError(f"quotes[{n}] must be an object {{expiry, strike, vol}}")
            extra = sorted(set(q) - {"expiry", "strike", "vol", "weight"})
            if extra:
                raise QuoteError(f"quotes[{n}]: unknown field(s) {extra}")
            for k in ("expiry", "strike"):
                if k not in q:
                    raise QuoteError(f"quotes[{n}] ({q!r}): missing {k!r}")
            items.append((q["expiry"], q["strike"], q.get("vol"), q.get("weight", 1.0),
                          f"quotes[{n}]"))
    else:
        for k in ("expiries", "strikes", "vols"):
            if not isinstance(raw.get(k), list) or not raw[k]:
                raise QuoteError(f"quote file: {k!r} must be a non-empty list (or give 'quotes')")
        E, K, V = raw["expiries"], raw["strikes"], raw["vols"]
        W = raw.get("weights")
        if len(V) != len(E):
            raise QuoteError(f"quote file: {len(V)} rows of vols for {len(E)} expiries")
        for i, row in enumerate(V):
            if not isinstance(row, list) or len(row) != len(K):
                raise QuoteError(f"quote file: vols[{i}] (expiry {E[i]}) must list {len(K)} vols, "
                                 f"one per strike; got {row!r}")
            for j, v in enumerate(row):
                w = 1.0 if W is None else W[i][j]
                items.append((E[i], K[j], v, w, f"vols[{i}][{j}]"))
    quotes, seen = [], {}
    for e_raw, k_raw, v_raw, w_raw, where in items:
        e = _date(f"{where} expiry", e_raw)
        k = _pos(f"{where} (expiry {e.isoformat()})", k_raw, "strike")
        label = f"vol/{und}/{e.isoformat()}/{_fmt(k)}"
        desc = f"quote {label} (expiry {e.isoformat()}, strike {_fmt(k)}, vol {v_raw!r})"
        if e <= val:
            raise QuoteError(f"{desc}: expiry is not after the valuation date {val.isoformat()}")
        v = _vol(desc, v_raw)
        w = _weight(desc, w_raw)
        if label in seen:
            raise QuoteError(f"{desc}: duplicate of {seen[label]}")
        seen[label] = where
        quotes.append(VolQuote(e, (e - val).days / DAYS_PER_YEAR, k, v, w, label))
    quotes.sort(key=lambda q: (q.expiry, q.strike))
    fwd = {}
    for e_raw, f in (raw.get("forwards") or {}).items():
        e = _date("forwards", e_raw)
        fwd[e] = _pos(f"forwards.{e.isoformat()}", f, "forward")
    return SurfaceQuotes(und, val, quotes, fwd, str(raw.get("description", "")))


def _tenor(where, s):
    from ..market.dates import parse_tenor
    try:
        parse_tenor(str(s))
    except (ValueError, KeyError):
        raise QuoteError(f"{where}: tenor {s!r} is not like '6M', '1Y', '10Y'") from None
    return str(s).strip().upper()


def _rates(raw, kind, valuation_date) -> RateQuotes:
    bad = sorted(set(raw) - _RATE_FIELDS)
    if bad:
        raise QuoteError(f"quote file: unknown field(s) {bad}; expected {sorted(_RATE_FIELDS)}")
    ccy = raw.get("currency")
    if not isinstance(ccy, str) or not ccy:
        raise QuoteError("quote file: 'currency' is required for swaption / cap quotes")
    vt = raw.get("vol_type", "normal")
    if vt not in ("normal", "lognormal"):
        raise QuoteError(f"quote file: vol_type {vt!r}; expected 'normal' or 'lognormal'")
    val = _val_date(raw, valuation_date) if ("valuation_date" in raw or valuation_date) else None
    if not isinstance(raw.get("quotes"), list) or not raw["quotes"]:
        raise QuoteError("quote file: 'quotes' must be a non-empty list")
    out, seen = [], set()
    for n, q in enumerate(raw["quotes"]):
        if not isinstance(q, Mapping):
            raise QuoteError(f"quotes[{n}] must be an object")
        if kind == "swaption":
            extra = sorted(set(q) - {"expiry", "tenor", "vol", "strike", "weight"})
            if extra or "expiry" not in q or "tenor" not in q:
                raise QuoteError(f"quotes[{n}] ({q!r}): swaption quotes are "
                                 "{expiry, tenor, vol, strike?, weight?}")
            e, t = _tenor(f"quotes[{n}] expiry", q["expiry"]), _tenor(f"quotes[{n}]", q["tenor"])
            label = f"swaption/{ccy}/{e}/{t}"
        else:
            extra = sorted(set(q) - {"maturity", "vol", "strike", "weight"})
            if extra or "maturity" not in q:
                raise QuoteError(f"quotes[{n}] ({q!r}): cap quotes are "
                                 "{maturity, vol, strike?, weight?}")
            e, t = "", _tenor(f"quotes[{n}] maturity", q["maturity"])
            label = f"cap/{ccy}/{t}"
        k = q.get("strike", "ATM")
        desc = f"quote {label} (vol {q.get('vol')!r}, strike {k!r})"
        strike = None if (isinstance(k, str) and k.upper() == "ATM") else None
        if not (isinstance(k, str) and k.upper() == "ATM"):
            if isinstance(k, bool) or not isinstance(k, numbers.Real) or not math.isfinite(k):
                raise QuoteError(f"{desc}: strike must be a number or 'ATM'")
            strike = float(k)
        if label in seen:
            raise QuoteError(f"{desc}: duplicate quote")
        seen.add(label)
        out.append(RateQuote(kind, e, t, _vol(desc, q.get("vol")), strike,
                             _weight(desc, q.get("weight", 1.0)), label))
    return RateQuotes(kind, ccy, vt, out, val, _tenor("fixed_tenor", raw.get("fixed_tenor", "1Y")),
                      _tenor("frequency", raw.get("frequency", "6M")),
                      str(raw.get("description", "")))

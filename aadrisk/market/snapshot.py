"""Full market snapshot: spots, dividend yields, bootstrapped curves, vol surfaces, model parameters.

Every scalar market input carries a label (grammar: docs/labels.md):

=========================================  =========================================
label                                      input
=========================================  =========================================
``spot/<UND>``                             spot price (ccy per unit)
``div/<UND>``                              flat continuously compounded dividend yield
``vol/<UND>``                              flat Black vol (legacy flat market)
``vol/<UND>/<EXPIRY>/<STRIKE>``            vol surface node
``rate/<CCY>``                             flat continuously compounded rate (legacy)
``rate/*``                                 the single legacy ``rate`` (currencies without one)
``curve/<CURVE>/<kind>/<tenor>``           par quote of a bootstrapped curve
``zero/<CURVE>/<tenor>``                   pillar zero rate (derived, not an input)
``model/<MODEL>/<UND>/<PARAM>``            model parameter (e.g. Heston kappa)
``model/<MODEL>/<UND>/<EXPIRY>/<PARAM>``   model parameter of one expiry slice (SABR)
``vol/<NAME>/<EXPIRY>/<TENOR>``            ATM swaption vol node (``rate_vols``)
``vol/<NAME>/<EXPIRY>``                    caplet vol node (``rate_vols``)
=========================================  =========================================

:meth:`MarketData.from_mapping` parses the JSON format of docs/formats.md
(a superset of the flat demo market) and takes optional ``bumps``
(label -> additive shift), so a bumped market -- e.g. a par quote moved by
1 bp and the curves re-bootstrapped -- is one call.

Bad data that only concerns part of the market (a curve that does not
bootstrap, a surface with a negative vol or calendar arbitrage, a negative
spot) does not stop the parse: it is kept in :attr:`MarketData.problems`
under the component's key (``'curve/USD-SOFR'``, ``'vol/SPX'``,
``'spot/SPX'`` ...), and only the trades that need that component fail.
A document that is not a market at all raises :class:`MarketDataError`.

Examples
--------
>>> m = MarketData.from_mapping({"valuation_date": "2024-06-28", "rate": 0.05,
...     "underlyings": {"XYZ": {"spot": 100.0, "vol": 0.2, "currency": "USD"}}})
>>> m.discount_for("USD").labels, m.vols["XYZ"].labels
(['rate/*'], ['vol/XYZ'])
>>> MarketData.from_mapping({"valuation_date": "2024-06-28", "rate": 0.05,
...     "underlyings": {"XYZ": {"spot": 100.0, "vol": 0.2}}}, bumps={"spot/XYZ": 1.0}).spots["XYZ"]
101.0
"""
from __future__ import annotations

import datetime as dt
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from .bootstrap import BootstrapError, Conventions, CurveSpec, Quote, bootstrap
from .curves import interp_coeffs, interp_coeffs_dt
from .rate_vols import parse_rate_vols
from .vol_surface import VolSurface, VolSurfaceError

__all__ = ["MarketDataError", "MarketData", "DiscountSource", "VolSource"]

DAYS_PER_YEAR = 365.0


class MarketDataError(ValueError):
    """The market document cannot be used at all (names the field and the value)."""


def _num(where, value, *, positive=False, non_negative=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or \
            not math.isfinite(float(value)):
        raise ValueError(f"{where} = {value!r}: must be a finite number")
    x = float(value)
    if positive and x <= 0:
        raise ValueError(f"{where} = {value!r}: must be positive")
    if non_negative and x < 0:
        raise ValueError(f"{where} = {value!r}: must be >= 0")
    return x


def _date(where, value):
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError(f"{where} = {value!r}: must be a date YYYY-MM-DD") from None


def _fmt(x: float) -> str:
    return f"{x:g}"


@dataclass
class DiscountSource:
    """Where a currency's discount factors come from: pillar zeros and their quote Jacobian.

    ``-log DF(t) = a z[iL] + b z[iR]`` with :meth:`coeffs`; ``zeros`` (P,), ``dzdq`` (P, Q),
    ``labels`` the Q quote labels (``curve/...`` or ``rate/<CCY>``), ``zero_labels`` the P
    pillar labels.  A flat rate is one pillar whose zero is the rate (``dzdq = [[1]]``).
    """

    name: str
    times: np.ndarray
    method: str
    offset: int
    zeros: np.ndarray
    dzdq: np.ndarray
    labels: list
    zero_labels: list
    #: the quotes / pillars that can move this curve (its curve and the curves it is
    #: discounted on); the other quotes of its curve set have zero sensitivity
    quote_mask: np.ndarray | None = None
    zero_mask: np.ndarray | None = None

    def coeffs(self, t):
        iL, iR, a, b = interp_coeffs(self.times, np.asarray(t, dtype=float), self.method)
        return iL + self.offset, iR + self.offset, a, b

    def coeffs_dt(self, t):
        """:meth:`coeffs` plus the Taylor coefficients ``a1, b1, a2, b2`` of ``a``, ``b`` in
        ``t`` (:func:`~aadrisk.market.curves.interp_coeffs_dt`)."""
        iL, iR, *rest = interp_coeffs_dt(self.times, np.asarray(t, dtype=float), self.method)
        return (iL + self.offset, iR + self.offset, *rest)

    def discount(self, t):
        iL, iR, a, b = self.coeffs(t)
        return np.exp(-(a * self.zeros[iL] + b * self.zeros[iR]))


@dataclass
class VolSource:
    """A vol surface (or a flat vol as a 1x1 surface) and its node labels (expiry-major)."""

    surface: VolSurface
    labels: list


@dataclass
class MarketData:
    """A parsed market snapshot (see the module notes and docs/formats.md).

    Attributes
    ----------
    valuation_date : date
    spots, divs : dict underlying -> float
    currencies : dict underlying -> str or None
    vols : dict underlying -> VolSource
    discounts : dict currency -> DiscountSource (``'*'`` for the single legacy rate)
    models : dict label -> float (``model/<MODEL>/<UND>/<PARAM>``, or
        ``model/<MODEL>/<UND>/<EXPIRY>/<PARAM>`` for per-expiry slices)
    model_slices : dict (model, underlying) -> (expiry labels, expiry times in years) of a
        model given per expiry (``models.<MODEL>.<UND>.expiries``)
    local_vols : dict underlying -> (times, spots, vols) of a calibrated local-vol grid
        (``models.local_vol``; not risk factors: Monte Carlo local vol is built from the
        implied surface so that vega lands on its nodes)
    rate_vols : dict name -> :class:`~aadrisk.market.rate_vols.RateVolSurface`
    rate_vol_meta : dict rate_vols name -> (kind ``'swaption'`` | ``'caplet'``, currency), as
        written (also for entries that failed): how trades find their vols
    curve_discount : dict curve name -> the curve it is discounted on (``curves.<C>.discount``;
        as written, also for curves that failed), e.g. a forecast curve -> its OIS curve
    curve_of : dict currency -> curve name (bootstrapped curves only)
    problems : dict component key -> message (``'curve/<C>'``, ``'vol/<U>'``, ``'spot/<U>'``,
        ``'div/<U>'``, ``'model/...'``, ``'discount/<CCY>'``; ``'vol/<NAME>'`` for a bad
        ``rate_vols`` entry)
    """

    valuation_date: dt.date
    spots: dict = field(default_factory=dict)
    divs: dict = field(default_factory=dict)
    currencies: dict = field(default_factory=dict)
    vols: dict = field(default_factory=dict)
    discounts: dict = field(default_factory=dict)
    models: dict = field(default_factory=dict)
    curve_of: dict = field(default_factory=dict)
    problems: dict = field(default_factory=dict)
    curve_sets: dict = field(default_factory=dict)
    rate_vols: dict = field(default_factory=dict)
    local_vols: dict = field(default_factory=dict)
    model_slices: dict = field(default_factory=dict)
    curve_discount: dict = field(default_factory=dict)
    rate_vol_meta: dict = field(default_factory=dict)

    def derived(self) -> dict:
        """A cache for values the layers above derive from this snapshot (per source and
        expiry date, say): the snapshot is not changed once parsed and priced on, so they
        stay valid.  Its users key entries by the source they read and bound its size."""
        memo = self.__dict__.get("_derived")
        if memo is None:
            memo = self.__dict__["_derived"] = {}
        return memo

    def year_fraction(self, d: dt.date) -> float:
        """Act/365F years from the valuation date to ``d``."""
        return (d - self.valuation_date).days / DAYS_PER_YEAR

    def discount_for(self, currency):
        """DiscountSource of ``currency`` (its curve, its flat rate, or the single rate)."""
        if currency in self.discounts:
            return self.discounts[currency]
        return self.discounts.get("*")

    def discount_problem(self, currency):
        """Problem message of the discount curve of ``currency`` (or None)."""
        name = self.curve_of.get(currency)
        if name is not None:
            return self.problems.get(f"curve/{name}")
        return self.problems.get(f"discount/{currency}")

    @property
    def labels(self) -> list:
        """Every input label of the snapshot (spots, divs, vols, quotes, rates, model params)."""
        out = [f"spot/{u}" for u in self.spots] + [f"div/{u}" for u in self.divs]
        for v in self.vols.values():
            out += v.labels
        for v in self.rate_vols.values():
            out += v.labels
        seen = set()
        for d in self.discounts.values():
            for lab in d.labels:
                if lab not in seen:
                    seen.add(lab)
                    out.append(lab)
        return out + list(self.models)

    # ------------------------------------------------------------------ parsing
    @classmethod
    def from_mapping(cls, raw, bumps: Mapping | None = None) -> "MarketData":
        """Parse a market object (or ``{"market": {...}}``), shifting inputs by ``bumps``.

        ``bumps``: label -> additive shift (e.g. ``{"curve/USD-SOFR/swap/5Y": 1e-4}``);
        an unknown label raises ``KeyError``.
        """
        if isinstance(raw, Mapping) and "market" in raw and "underlyings" not in raw:
            raw = raw["market"]
        if not isinstance(raw, Mapping):
            raise MarketDataError(f"market must be a JSON object, got {type(raw).__name__}")
        known = {"valuation_date", "underlyings", "rates", "rate", "curves", "discount_curves",
                 "vol_surfaces", "models", "rate_vols", "description"}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise MarketDataError(f"market: unknown field(s) {unknown}; expected {sorted(known)}")
        if "valuation_date" not in raw:
            raise MarketDataError("market: missing 'valuation_date'")
        try:
            val = _date("market: valuation_date", raw["valuation_date"])
        except ValueError as exc:
            raise MarketDataError(str(exc)) from None
        bumps = dict(bumps or {})
        used = set()

        def bumped(label, x):
            if label in bumps:
                used.add(label)
                return x + float(bumps[label])
            return x

        m = cls(valuation_date=val)
        und = raw.get("underlyings", {})
        if not isinstance(und, Mapping):
            raise MarketDataError(f"market: 'underlyings' must be an object, got {und!r}")
        ufields = {"spot", "vol", "div_yield", "currency"}
        for name, q in und.items():
            name = str(name)
            if not isinstance(q, Mapping):
                m.problems[f"spot/{name}"] = f"underlying {name!r} must be an object, got {q!r}"
                continue
            bad = sorted(set(q) - ufields)
            if bad:
                m.problems[f"spot/{name}"] = (f"underlying {name!r}: unknown field(s) {bad}; "
                                              f"expected {sorted(ufields)}")
                continue
            cur = q.get("currency")
            m.currencies[name] = str(cur).strip() if cur is not None else None
            try:
                if "spot" not in q:
                    raise ValueError(f"underlyings.{name}.spot is missing")
                m.spots[name] = bumped(f"spot/{name}",
                                       _num(f"underlyings.{name}.spot", q["spot"], positive=True))
            except ValueError as exc:
                m.problems[f"spot/{name}"] = str(exc)
            try:
                m.divs[name] = bumped(f"div/{name}",
                                      _num(f"underlyings.{name}.div_yield",
                                           q.get("div_yield", 0.0)))
            except ValueError as exc:
                m.problems[f"div/{name}"] = str(exc)
            if "vol" in q:
                try:
                    v = bumped(f"vol/{name}", _num(f"underlyings.{name}.vol", q["vol"],
                                                   positive=True))
                    if v <= 0:
                        raise ValueError(f"underlyings.{name}.vol bumped to {v}: must be positive")
                    m.vols[name] = VolSource(VolSurface(name, [1.0], [1.0], [[v]]),
                                             [f"vol/{name}"])
                except (ValueError, VolSurfaceError) as exc:
                    m.problems[f"vol/{name}"] = str(exc)

        # vol surfaces (replace a flat vol of the same underlying)
        surfaces = raw.get("vol_surfaces", {})
        if not isinstance(surfaces, Mapping):
            raise MarketDataError(f"market: 'vol_surfaces' must be an object, got {surfaces!r}")
        for name, s in surfaces.items():
            name = str(name)
            m.vols.pop(name, None)
            m.problems.pop(f"vol/{name}", None)
            try:
                m.vols[name] = _surface(name, s, val, bumped)
            except (ValueError, VolSurfaceError, TypeError) as exc:
                m.problems[f"vol/{name}"] = str(exc)

        # flat rates
        rates = raw.get("rates", {})
        if not isinstance(rates, Mapping):
            raise MarketDataError(f"market: 'rates' must map currency -> rate, got {rates!r}")
        flat = {str(c): r for c, r in rates.items()}
        if raw.get("rate") is not None:
            flat["*"] = raw["rate"]
        for ccy, r in flat.items():
            lab = f"rate/{ccy}"
            try:
                z = bumped(lab, _num("market: rate" if ccy == "*" else f"rates.{ccy}", r))
            except ValueError as exc:
                m.problems[f"discount/{ccy}"] = str(exc)
                continue
            m.discounts[ccy] = DiscountSource(lab, np.array([1.0]), "loglinear_df", 0,
                                              np.array([z]), np.eye(1), [lab], [lab])

        # bootstrapped curves (override a flat rate of the same currency)
        curves = raw.get("curves", {})
        if not isinstance(curves, Mapping):
            raise MarketDataError(f"market: 'curves' must be an object, got {curves!r}")
        _curves(m, curves, raw.get("discount_curves", {}), val, bumped)

        models = raw.get("models", {})
        if not isinstance(models, Mapping):
            raise MarketDataError(f"market: 'models' must be an object, got {models!r}")
        for model, per in models.items():
            if not isinstance(per, Mapping):
                m.problems[f"model/{model}"] = f"models.{model} must map underlying -> params"
                continue
            for u, params in per.items():
                if not isinstance(params, Mapping):
                    m.problems[f"model/{model}/{u}"] = (f"models.{model}.{u} must map "
                                                        "parameter -> number")
                    continue
                if model == "local_vol":
                    try:
                        m.local_vols[u] = _local_vol_grid(u, params)
                    except ValueError as exc:
                        m.problems[f"model/{model}/{u}"] = str(exc)
                    continue
                if "expiries" in params:
                    try:
                        _model_slices(m, model, u, params, val, bumped)
                    except ValueError as exc:
                        m.problems[f"model/{model}/{u}"] = str(exc)
                    continue
                for p, x in params.items():
                    lab = f"model/{model}/{u}/{p}"
                    try:
                        m.models[lab] = bumped(lab, _num(f"models.{model}.{u}.{p}", x))
                    except ValueError as exc:
                        m.problems[lab] = str(exc)

        rvols = raw.get("rate_vols", {})
        if not isinstance(rvols, Mapping):
            raise MarketDataError(f"market: 'rate_vols' must be an object, got {rvols!r}")
        for name, rv in rvols.items():
            name = str(name)
            if isinstance(rv, Mapping):
                cur = rv.get("currency")
                m.rate_vol_meta[name] = ("swaption" if "tenors" in rv else "caplet",
                                         cur.strip() if isinstance(cur, str) else None)
            try:
                if name in m.vols or name in m.spots or f"vol/{name}" in m.problems:
                    raise ValueError(f"rate_vols.{name}: the name is also an underlying's "
                                     "(vol labels would clash)")
                m.rate_vols[name] = parse_rate_vols(name, rv, val, bumped)
            except (ValueError, TypeError) as exc:
                m.problems[f"vol/{name}"] = str(exc)
        missing = sorted(set(bumps) - used)
        if missing:
            raise KeyError(f"bump label(s) not in the market: {missing}")
        return m


def _local_vol_grid(u, g):
    """``models.local_vol.<U> = {times, spots, vols}`` (as ``aadrisk calibrate local-vol``
    writes it) -> ``(times, spots, vols)`` arrays, validated."""
    where = f"models.local_vol.{u}"
    if set(g) != {"times", "spots", "vols"}:
        raise ValueError(f"{where} must have exactly times, spots, vols; got {sorted(g)}")
    try:
        t = np.asarray(g["times"], dtype=float)
        sp = np.asarray(g["spots"], dtype=float)
        v = np.asarray(g["vols"], dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: times, spots and vols must be numbers") from None
    if t.ndim != 1 or sp.ndim != 1 or v.shape != (t.size, sp.size):
        raise ValueError(f"{where}: vols must be len(times) x len(spots) = {t.size} x "
                         f"{sp.size}, got shape {v.shape}")
    for name, a in (("times", t), ("spots", sp)):
        if a.size == 0 or np.any(~np.isfinite(a)) or np.any(a <= 0) or np.any(np.diff(a) <= 0):
            raise ValueError(f"{where}.{name} must be positive and increasing")
    if np.any(~np.isfinite(v)) or np.any(v <= 0):
        i, j = map(int, np.argwhere(~np.isfinite(v) | (v <= 0))[0])
        raise ValueError(f"{where}.vols[{i}][{j}] = {v[i, j]!r} must be a positive number")
    return t, sp, v


def _model_slices(m, model, u, params, val, bumped):
    """``models.<model>.<u> = {"expiries": {DATE: {param: x}}}``: one parameter set per
    expiry slice, labels ``model/<model>/<u>/<DATE>/<param>`` (all slices must have the
    same parameters); records the slices in ``m.model_slices``."""
    where = f"models.{model}.{u}"
    if set(params) != {"expiries"}:
        raise ValueError(f"{where}: a model given per expiry has only 'expiries', got "
                         f"{sorted(params)}")
    ex = params["expiries"]
    if not isinstance(ex, Mapping) or not ex:
        raise ValueError(f"{where}.expiries must map expiry date -> parameters")
    dated = sorted((_date(f"{where}.expiries", e), p) for e, p in ex.items())
    names = None
    values = {}
    for d, p in dated:
        e = d.isoformat()
        if d <= val:
            raise ValueError(f"{where}.expiries: {e} is not after the valuation date "
                             f"{val.isoformat()}")
        if not isinstance(p, Mapping) or not p:
            raise ValueError(f"{where}.expiries.{e} must map parameter -> number, got {p!r}")
        if names is None:
            names = sorted(p)
        elif sorted(p) != names:
            raise ValueError(f"{where}.expiries.{e} has parameters {sorted(p)}, the first "
                             f"slice {names}")
        for k, x in p.items():
            lab = f"model/{model}/{u}/{e}/{k}"
            values[lab] = bumped(lab, _num(lab, x))
    m.models.update(values)
    m.model_slices[(str(model), str(u))] = (
        [d.isoformat() for d, _ in dated],
        np.array([(d - val).days / DAYS_PER_YEAR for d, _ in dated]))


def _surface(name, s, val, bumped) -> VolSource:
    if not isinstance(s, Mapping):
        raise ValueError(f"vol_surfaces.{name} must be an object {{expiries, strikes, vols}}")
    bad = sorted(set(s) - {"expiries", "strikes", "vols"})
    if bad:
        raise ValueError(f"vol_surfaces.{name}: unknown field(s) {bad}; "
                         "expected expiries, strikes, vols")
    for k in ("expiries", "strikes", "vols"):
        if not isinstance(s.get(k), list) or not s[k]:
            raise ValueError(f"vol_surfaces.{name}.{k} must be a non-empty list")
    dates = [_date(f"vol_surfaces.{name}.expiries[{i}]", e) for i, e in enumerate(s["expiries"])]
    for d in dates:
        if d <= val:
            raise ValueError(f"vol_surfaces.{name}.expiries: {d.isoformat()} is not after the "
                             f"valuation date {val.isoformat()}")
    strikes = [_num(f"vol_surfaces.{name}.strikes[{j}]", k) for j, k in enumerate(s["strikes"])]
    labels_e = [d.isoformat() for d in dates]
    rows = []
    for i, row in enumerate(s["vols"]):
        if not isinstance(row, list) or len(row) != len(strikes):
            raise ValueError(f"vol_surfaces.{name}.vols[{i}] must be a list of {len(strikes)} "
                             f"vols (one per strike), got {row!r}")
        rows.append([bumped(f"vol/{name}/{labels_e[i]}/{_fmt(strikes[j])}",
                            _num(f"vol/{name}/{labels_e[i]}/{_fmt(strikes[j])}", x))
                     for j, x in enumerate(row)])
    times = [(d - val).days / DAYS_PER_YEAR for d in dates]
    surf = VolSurface(name, times, strikes, rows, expiry_labels=labels_e)
    return VolSource(surf, surf.labels)


_CONV_FIELDS = {"holidays", "convention", "depo_dc", "fixed_tenor", "fixed_dc", "float_tenor",
                "float_dc"}


def _spec(name, c, bumped) -> CurveSpec:
    if not isinstance(c, Mapping):
        raise ValueError(f"curves.{name} must be an object")
    bad = sorted(set(c) - {"currency", "quotes", "conventions", "discount", "method"})
    if bad:
        raise ValueError(f"curves.{name}: unknown field(s) {bad}; expected currency, quotes, "
                         "conventions, discount, method")
    conv = dict(c.get("conventions") or {})
    bad = sorted(set(conv) - _CONV_FIELDS)
    if bad:
        raise ValueError(f"curves.{name}.conventions: unknown field(s) {bad}; "
                         f"expected {sorted(_CONV_FIELDS)}")
    if "holidays" in conv:
        conv["holidays"] = frozenset(_date(f"curves.{name}.conventions.holidays", h)
                                     for h in conv["holidays"])
    quotes = []
    if not isinstance(c.get("quotes"), list) or not c["quotes"]:
        raise ValueError(f"curves.{name}.quotes must be a non-empty list")
    for i, q in enumerate(c["quotes"]):
        if not isinstance(q, Mapping) or set(q) != {"kind", "tenor", "rate"}:
            raise ValueError(f"curves.{name}.quotes[{i}] must be {{kind, tenor, rate}}, "
                             f"got {q!r}")
        lab = f"curve/{name}/{q['kind']}/{q['tenor']}"
        quotes.append(Quote(str(q["kind"]), str(q["tenor"]),
                            bumped(lab, _num(lab, q["rate"]))))
    return CurveSpec(name, tuple(quotes), Conventions(**conv), c.get("discount"),
                     c.get("method", "loglinear_df"))


def _bootstrap_good_part(m, specs, ordered, val):
    """A group that does not bootstrap: add its curves one by one (discount curves first),
    so that a bad curve -- and the curves discounted on it -- fail alone and the others
    (e.g. the OIS curve under a bad forecast curve) are still built."""
    good, cs = [], None
    for n in ordered:
        d = specs[n].discount
        if d and d != n and f"curve/{d}" in m.problems:
            m.problems[f"curve/{n}"] = f"curve {n}: its discount curve {d} is bad: " \
                                       f"{m.problems[f'curve/{d}']}"
            continue
        try:
            cs = bootstrap([specs[k] for k in good + [n]], val)
            good.append(n)
        except (BootstrapError, ValueError) as exc:
            m.problems[f"curve/{n}"] = str(exc)
    if good and (cs is None or list(cs.curves) != good):
        cs = bootstrap([specs[k] for k in good], val)
    return cs, good


def _curves(m: MarketData, curves, disc_map, val, bumped):
    specs, ccy_of = {}, {}
    for name, c in curves.items():
        name = str(name)
        if isinstance(c, Mapping) and c.get("discount"):
            m.curve_discount[name] = str(c["discount"])
        try:
            specs[name] = _spec(name, c, bumped)
            ccy_of[name] = str(c.get("currency") or "")
        except (ValueError, TypeError) as exc:
            m.problems[f"curve/{name}"] = str(exc)
            ccy_of[name] = str(c.get("currency") or "") if isinstance(c, Mapping) else ""
    # currency -> discount curve name
    if not isinstance(disc_map, Mapping):
        raise MarketDataError(f"market: 'discount_curves' must map currency -> curve name, "
                              f"got {disc_map!r}")
    for ccy in sorted({c for c in ccy_of.values() if c}):
        named = [n for n, c in ccy_of.items() if c == ccy]
        if ccy in disc_map:
            m.curve_of[ccy] = str(disc_map[ccy])
        elif len(named) == 1:
            m.curve_of[ccy] = named[0]
        else:
            m.problems[f"discount/{ccy}"] = (f"currency {ccy} has curves {named}; say which "
                                             "discounts in 'discount_curves'")
            m.discounts.pop(ccy, None)
    for ccy, name in disc_map.items():
        m.curve_of[str(ccy)] = str(name)
        if name not in curves:
            m.problems[f"curve/{name}"] = (f"discount_curves.{ccy} = {name!r}: no such curve "
                                           f"(curves: {sorted(curves)})")
    # connected components by the 'discount' relation, each bootstrapped on its own
    comp = {n: n for n in specs}

    def root(n):
        while comp[n] != n:
            n = comp[n]
        return n
    for n, s in specs.items():
        if s.discount and s.discount in specs:
            comp[root(n)] = root(s.discount)
    groups = {}
    for n in specs:
        groups.setdefault(root(n), []).append(n)
    for members in groups.values():
        ordered = []
        while len(ordered) < len(members):   # discount curves before the curves using them
            progress = False
            for n in members:
                d = specs[n].discount
                if n not in ordered and (not d or d == n or d in ordered or d not in specs):
                    ordered.append(n)
                    progress = True
            if not progress:
                break
        if len(ordered) < len(members):
            for n in members:
                m.problems[f"curve/{n}"] = f"curves {members}: circular 'discount' references"
            continue
        try:
            cs = bootstrap([specs[n] for n in ordered], val)
            good = ordered
        except (BootstrapError, ValueError):
            cs, good = _bootstrap_good_part(m, specs, ordered, val)
        for n in good:
            m.curve_sets[n] = cs
    for ccy, name in m.curve_of.items():
        if name in m.curve_sets:
            cs = m.curve_sets[name]
            curve = cs.curves[name]
            qm, zm = cs.label_masks([name])
            m.discounts[ccy] = DiscountSource(name, curve.times, curve.method,
                                              cs.offsets[name].start, cs.zeros, cs.dzdq,
                                              list(cs.quote_labels), list(cs.pillar_labels),
                                              qm, zm)
        else:
            m.discounts.pop(ccy, None)

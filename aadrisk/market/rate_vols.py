"""Rate-option volatilities of the market: ATM swaption matrices and caplet vol term structures.

A market section ``rate_vols.<NAME>`` (docs/formats.md) is one of

* a **swaption matrix**: ``{"model", "currency", "expiries", "tenors", "vols"}`` with
  ``vols[i][j]`` the vol of the swaption expiring at ``expiries[i]`` into a swap of
  ``tenors[j]``; node labels ``vol/<NAME>/<EXPIRY>/<TENOR>``;
* a **caplet vol term structure**: ``{"model", "currency", "expiries", "vols"}``
  (no ``tenors``) with ``vols[i]`` the vol of a caplet (optionlet, *not* a flat
  cap vol) fixing at ``expiries[i]``; node labels ``vol/<NAME>/<EXPIRY>``.

``model`` is ``black`` (lognormal vols per sqrt(year)) or ``bachelier`` (normal
vols, rate per sqrt(year)).  Expiries are tenors from the valuation date
(``"6M"``, ``"1Y"``; time = Act/365F to the unadjusted date) or ISO dates,
strictly increasing; tenors are swap tenors (``"5Y"``; in years: months / 12).

Interpolation: linear in vol -- in expiry time (caplets), bilinear in (expiry
time, tenor years) (swaptions) -- and flat outside the grid.  A trade's vol is
therefore ``sum_c w_c v[node_c]`` over at most two (four) nodes with weights
that depend only on the trade's dates, so ``dV/dnode = dV/dvol . w``
(:meth:`RateVolSurface.scatter`); bucketed vegas add up to the parallel vega.

Examples
--------
>>> from datetime import date
>>> s = parse_rate_vols("SW", {"model": "black", "expiries": ["1Y", "2Y"],
...                             "tenors": ["1Y", "5Y"], "vols": [[0.3, 0.2], [0.25, 0.2]]},
...                     date(2024, 1, 15), lambda lab, x: x)
>>> s.labels
['vol/SW/1Y/1Y', 'vol/SW/1Y/5Y', 'vol/SW/2Y/1Y', 'vol/SW/2Y/5Y']
>>> nodes, w = s.lookup([1.0], [3.0])
>>> round(float(s.vol(nodes, w)[0]), 12)
0.25
"""
from __future__ import annotations

import datetime as dt
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .dates import add_tenor, parse_tenor

__all__ = ["RateVolSurface", "parse_rate_vols", "RATE_VOL_MODELS", "tenor_years"]

RATE_VOL_MODELS = ("black", "bachelier")
_FIELDS = {"model", "currency", "expiries", "tenors", "vols"}


def tenor_years(tenor: str) -> float:
    """A swap tenor in years (months / 12, weeks / 52, days / 365)."""
    n, unit = parse_tenor(tenor)
    return {"D": n / 365.0, "W": n / 52.0, "M": n / 12.0, "Y": float(n)}[unit]


@dataclass(frozen=True)
class RateVolSurface:
    """Rate vols of one market entry (see the module notes).

    ``times`` (E,) expiry times in years; ``tenors`` (T,) tenor years or ``None``
    for caplet vols; ``vols`` (E, T) or (E,); ``labels`` node labels, expiry-major.
    """

    name: str
    model: str
    currency: str | None
    expiry_labels: tuple
    times: np.ndarray
    tenor_labels: tuple | None
    tenors: np.ndarray | None
    vols: np.ndarray
    labels: list

    @property
    def kind(self) -> str:
        """``'swaption'`` (expiry x tenor matrix) or ``'caplet'`` (term structure)."""
        return "caplet" if self.tenors is None else "swaption"

    @staticmethod
    def _axis(grid, x):
        """Left index and left weight of ``x`` on ``grid`` (linear, flat outside)."""
        x = np.asarray(x, dtype=float)
        if len(grid) == 1:
            z = np.zeros(x.shape, dtype=np.int64)
            return z, z, np.ones(x.shape)
        i = np.clip(np.searchsorted(grid, x, side="right") - 1, 0, len(grid) - 2)
        w = np.clip((grid[i + 1] - x) / (grid[i + 1] - grid[i]), 0.0, 1.0)
        return i, i + 1, w

    def lookup(self, t, tenor=None):
        """Nodes (flat indices into :attr:`labels`) and weights, shape ``t.shape + (C,)``
        with ``C = 2`` (caplets: at expiry times ``t``) or ``4`` (swaptions: at
        ``t`` and ``tenor`` years)."""
        e0, e1, we = self._axis(self.times, t)
        if self.tenors is None:
            return np.stack([e0, e1], -1), np.stack([we, 1.0 - we], -1)
        k0, k1, wk = self._axis(self.tenors, tenor)
        nt = len(self.tenors)
        nodes = np.stack([e0 * nt + k0, e0 * nt + k1, e1 * nt + k0, e1 * nt + k1], -1)
        w = np.stack([we * wk, we * (1 - wk), (1 - we) * wk, (1 - we) * (1 - wk)], -1)
        return nodes, w

    def time_slope(self, t, tenor=None):
        """``d vol / d expiry time`` at ``t`` (tenor held) as ``t`` decreases: the slope of
        the linear interpolation between the neighbouring expiries (on a node: the
        segment to its left), 0 outside the expiry range."""
        t = np.asarray(t, dtype=float)
        if len(self.times) == 1:
            return np.zeros(t.shape)
        # on a node: the segment to its left (the valuation date moving forward)
        e0 = np.clip(np.searchsorted(self.times, t, side="left") - 1, 0, len(self.times) - 2)
        e1 = e0 + 1
        inside = (t > self.times[0]) & (t <= self.times[-1])
        v = self.vols
        if self.tenors is None:
            a, b = v[e0], v[e1]
        else:
            k0, k1, wk = self._axis(self.tenors, tenor)
            a = wk * v[e0, k0] + (1 - wk) * v[e0, k1]
            b = wk * v[e1, k0] + (1 - wk) * v[e1, k1]
        return np.where(inside, (b - a) / (self.times[e1] - self.times[e0]), 0.0)

    def vol(self, nodes, weights):
        """The interpolated vols ``sum_c w_c v[node_c]``."""
        return np.sum(self.vols.ravel()[nodes] * weights, axis=-1)

    def scatter(self, dvdvol, nodes, weights):
        """Node sensitivities (n, n_nodes) of trades from ``dV/dvol`` per lookup point:
        ``dvdvol`` shaped like the lookup's leading axes, first axis the trade."""
        g = np.asarray(dvdvol, dtype=float)
        n = g.shape[0]
        out = np.zeros((n, len(self.labels)))
        rows = np.broadcast_to(np.arange(n).reshape((n,) + (1,) * (nodes.ndim - 1)),
                               nodes.shape)
        np.add.at(out, (rows, nodes), g[..., None] * weights)
        return out


def _num(where, x):
    if isinstance(x, bool) or not isinstance(x, numbers.Real) or not math.isfinite(float(x)):
        raise ValueError(f"{where} = {x!r}: must be a finite number")
    return float(x)


def _expiry(name, i, e, val):
    where = f"rate_vols.{name}.expiries[{i}]"
    if isinstance(e, dt.date):
        d, lab = e, e.isoformat()
    elif isinstance(e, str) and len(e.strip()) == 10 and e.strip()[4] == "-":
        try:
            d = dt.date.fromisoformat(e.strip())
        except ValueError:
            raise ValueError(f"{where} = {e!r}: must be a tenor (6M, 1Y) or a date "
                             "YYYY-MM-DD") from None
        lab = d.isoformat()
    else:
        try:
            n, unit = parse_tenor(e)
        except (ValueError, TypeError):
            raise ValueError(f"{where} = {e!r}: must be a tenor (6M, 1Y) or a date "
                             "YYYY-MM-DD") from None
        lab = f"{n}{unit}"
        d = add_tenor(val, lab)
    if d <= val:
        raise ValueError(f"{where} = {e!r}: must be after the valuation date {val.isoformat()}")
    return lab, (d - val).days / 365.0


def parse_rate_vols(name, raw, val: dt.date, bumped) -> RateVolSurface:
    """Parse one ``rate_vols.<NAME>`` entry; ``bumped(label, x)`` applies bumps.

    Raises ``ValueError`` naming the field (or node label) and the value.
    """
    if not isinstance(raw, Mapping):
        raise ValueError(f"rate_vols.{name} must be an object {{model, currency, expiries, "
                         "[tenors,] vols}}")
    bad = sorted(set(raw) - _FIELDS)
    if bad:
        raise ValueError(f"rate_vols.{name}: unknown field(s) {bad}; expected "
                         f"{sorted(_FIELDS)}")
    model = raw.get("model", "black")
    if model not in RATE_VOL_MODELS:
        raise ValueError(f"rate_vols.{name}.model = {model!r}: must be one of "
                         f"{', '.join(RATE_VOL_MODELS)}")
    cur = raw.get("currency")
    if cur is not None and (not isinstance(cur, str) or not cur.strip()):
        raise ValueError(f"rate_vols.{name}.currency = {cur!r}: must be a currency code")
    for k in ("expiries", "vols"):
        if not isinstance(raw.get(k), list) or not raw[k]:
            raise ValueError(f"rate_vols.{name}.{k} must be a non-empty list")
    ex = [_expiry(name, i, e, val) for i, e in enumerate(raw["expiries"])]
    elab = tuple(e[0] for e in ex)
    times = np.array([e[1] for e in ex])
    if len(set(elab)) != len(elab) or np.any(np.diff(times) <= 0):
        raise ValueError(f"rate_vols.{name}.expiries = {raw['expiries']!r}: must increase "
                         "strictly")
    tl = tenors = None
    if "tenors" in raw:
        if not isinstance(raw["tenors"], list) or not raw["tenors"]:
            raise ValueError(f"rate_vols.{name}.tenors must be a non-empty list")
        tl, ty = [], []
        for j, t in enumerate(raw["tenors"]):
            try:
                n, unit = parse_tenor(t)
            except (ValueError, TypeError):
                raise ValueError(f"rate_vols.{name}.tenors[{j}] = {t!r}: must be a tenor "
                                 "(1Y, 6M)") from None
            tl.append(f"{n}{unit}")
            ty.append(tenor_years(tl[-1]))
        tl, tenors = tuple(tl), np.array(ty)
        if np.any(np.diff(tenors) <= 0):
            raise ValueError(f"rate_vols.{name}.tenors = {raw['tenors']!r}: must increase "
                             "strictly")
    if len(raw["vols"]) != len(elab):
        raise ValueError(f"rate_vols.{name}.vols has {len(raw['vols'])} entries for "
                         f"{len(elab)} expiries")
    rows, labels = [], []
    for i, row in enumerate(raw["vols"]):
        if tl is None:
            lab = f"vol/{name}/{elab[i]}"
            cells = [(lab, row)]
        else:
            if not isinstance(row, list) or len(row) != len(tl):
                raise ValueError(f"rate_vols.{name}.vols[{i}] must be a list of {len(tl)} vols "
                                 f"(one per tenor), got {row!r}")
            cells = [(f"vol/{name}/{elab[i]}/{tl[j]}", x) for j, x in enumerate(row)]
        out = []
        for lab, x in cells:
            v = bumped(lab, _num(lab, x))
            if v <= 0:
                raise ValueError(f"{lab} = {v!r}: vols must be positive")
            out.append(v)
            labels.append(lab)
        rows.append(out if tl is not None else out[0])
    return RateVolSurface(str(name), model, cur.strip() if cur else None, elab, times, tl,
                          tenors, np.array(rows, dtype=float), labels)

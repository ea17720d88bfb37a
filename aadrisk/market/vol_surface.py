"""Implied volatility surfaces: an expiry x strike grid of Black vols.

Interpolation
-------------
* In strike: linear in vol within each expiry slice, flat beyond the first
  and last strikes.
* In expiry: linear in total variance ``w = sigma^2 T`` between the slices,
  flat vol before the first and after the last expiry.

Risk
----
Every node is a labelled risk factor ``vol/<UNDERLYING>/<EXPIRY>/<STRIKE>``
(expiry as an ISO date, strike as written in the surface).  A trade's vol is
a smooth function of at most four nodes.  :meth:`VolSurface.lookup` finds, for
a book of trades and outside the tape, those four nodes and the interpolation
coefficients (which depend only on trade dates and strikes);
:func:`interpolated_vol` then combines the four node vols on the tape, so one
reverse sweep gives each trade's vega per node; :meth:`VolLookup.scatter` puts
them back on node labels.  Bucketed vegas sum to the parallel vega.

Examples
--------
>>> import numpy as np
>>> s = VolSurface("SPX", expiries=[0.5, 1.0], strikes=[90.0, 110.0],
...                vols=[[0.25, 0.21], [0.23, 0.20]])
>>> lk = s.lookup(expiry=np.array([0.75]), strike=np.array([100.0]))
>>> round(float(interpolated_vol(**lk.inputs())[0]), 10)
0.220113607
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import math as am


class VolSurfaceError(ValueError):
    """A vol surface's data is unusable; the message names the node."""


def _fmt(x) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


@dataclass(frozen=True)
class VolSurface:
    """Grid of Black implied vols (per sqrt(year)) by expiry (years) and strike.

    Parameters
    ----------
    underlying : str
        Name used in labels.
    expiries : sequence of float
        Increasing times to expiry in years (Act/365F from valuation).
    strikes : sequence of float
        Increasing strikes, in price units.
    vols : 2-d array (n_expiries, n_strikes)
        Implied vols, e.g. 0.2 for 20 %.
    expiry_labels : sequence of str, optional
        Labels of the expiries (ISO dates); default the year fractions.
    """

    underlying: str
    expiries: tuple
    strikes: tuple
    vols: np.ndarray
    expiry_labels: tuple = ()

    def __init__(self, underlying, expiries, strikes, vols, expiry_labels=None):
        try:
            t = np.asarray(expiries, dtype=float)
            k = np.asarray(strikes, dtype=float)
            v = np.asarray(vols, dtype=float)
        except (TypeError, ValueError) as exc:
            raise VolSurfaceError(f"vol surface {underlying}: expiries, strikes and vols must "
                                  f"be numeric and vols a full grid (bad shape): {exc}") from None
        labels = tuple(expiry_labels) if expiry_labels is not None else tuple(_fmt(x) for x in t)
        object.__setattr__(self, "underlying", str(underlying))
        object.__setattr__(self, "expiries", tuple(t))
        object.__setattr__(self, "strikes", tuple(k))
        object.__setattr__(self, "vols", v)
        object.__setattr__(self, "expiry_labels", labels)
        self._validate(t, k, v)

    def label(self, i: int, j: int) -> str:
        """Risk-factor label of node (expiry i, strike j)."""
        return f"vol/{self.underlying}/{self.expiry_labels[i]}/{_fmt(self.strikes[j])}"

    @property
    def labels(self) -> list[str]:
        """Labels of all nodes, expiry-major."""
        return [self.label(i, j) for i in range(len(self.expiries))
                for j in range(len(self.strikes))]

    def _validate(self, t, k, v):
        name = f"vol surface {self.underlying}"
        if t.ndim != 1 or k.ndim != 1 or len(t) < 1 or len(k) < 1:
            raise VolSurfaceError(f"{name}: expiries and strikes must be non-empty 1-d lists")
        if v.shape != (len(t), len(k)):
            raise VolSurfaceError(f"{name}: vols have shape {v.shape}, expected "
                                  f"({len(t)} expiries, {len(k)} strikes)")
        if len(self.expiry_labels) != len(t):
            raise VolSurfaceError(f"{name}: {len(self.expiry_labels)} expiry labels for "
                                  f"{len(t)} expiries")
        for arr, what in ((t, "expiries"), (k, "strikes")):
            bad = np.flatnonzero(~np.isfinite(arr) | (arr <= 0))
            if bad.size:
                raise VolSurfaceError(f"{name}: {what}[{bad[0]}] = {arr[bad[0]]} must be "
                                      "positive and finite")
            step = np.flatnonzero(np.diff(arr) <= 0)
            if step.size:
                i = step[0]
                raise VolSurfaceError(f"{name}: {what} must increase strictly: "
                                      f"{arr[i]} then {arr[i + 1]}")
        bad = np.argwhere(~np.isfinite(v) | (v <= 0))
        if bad.size:
            i, j = bad[0]
            raise VolSurfaceError(f"{name}: node {self.label(i, j)} has vol {v[i, j]}; vols "
                                  "must be positive and finite")
        w = v * v * t[:, None]
        dec = np.argwhere(np.diff(w, axis=0) < -1e-14)
        if dec.size:
            i, j = dec[0]
            raise VolSurfaceError(
                f"{name}: calendar arbitrage at strike {_fmt(k[j])}: total variance falls from "
                f"{w[i, j]:.6g} ({self.label(i, j)}) to {w[i + 1, j]:.6g} "
                f"({self.label(i + 1, j)})")

    def lookup(self, *, expiry, strike, side: str = "right") -> "VolLookup":
        """Nodes and coefficients of the vols at ``(expiry, strike)`` per trade (numpy).

        ``side='left'``: an expiry exactly on a slice uses the expiry segment to its left
        (same vol; the one-sided time derivative of :meth:`VolLookup.time_derivatives`
        is then the one as the valuation date moves forward, i.e. theta's)."""
        T = np.atleast_1d(np.asarray(expiry, dtype=float))
        K = np.atleast_1d(np.asarray(strike, dtype=float))
        T, K = np.broadcast_arrays(T, K)
        if np.any(~np.isfinite(T) | (T <= 0)):
            i = int(np.flatnonzero(~np.isfinite(T) | (T <= 0))[0])
            raise VolSurfaceError(f"vol surface {self.underlying}: lookup at expiry {T[i]} "
                                  f"(element {i}) needs a positive time")
        t = np.asarray(self.expiries)
        k = np.asarray(self.strikes)
        # strike: index of the left node and weight of the left node (flat outside)
        jk = np.clip(np.searchsorted(k, K, side="right") - 1, 0, max(len(k) - 2, 0))
        if len(k) == 1:
            lam = np.ones_like(K)
            jk1 = jk
        else:
            lam = np.clip((k[jk + 1] - K) / (k[jk + 1] - k[jk]), 0.0, 1.0)
            jk1 = jk + 1
        # expiry: left slice, weight of the left slice in total variance
        ie = np.clip(np.searchsorted(t, T, side=side) - 1, 0, max(len(t) - 2, 0))
        if len(t) == 1:
            ie1 = ie
            alpha = np.ones_like(T)
            t0 = t1 = np.full_like(T, t[0])
            flat = np.ones_like(T, dtype=bool)
        else:
            ie1 = ie + 1
            t0, t1 = t[ie], t[ie1]
            alpha = (t1 - T) / (t1 - t0)
            flat = (T <= t[0]) | (T >= t[-1])
        # flat vol outside the expiry range: use one slice at the trade's own time
        before = T <= t[0]
        after = T >= t[-1] if side == "right" else T > t[-1]
        if len(t) > 1:
            flat = before | after
        alpha = np.where(before, 1.0, np.where(after, 0.0, alpha))
        t0 = np.where(flat, T, t0)
        t1 = np.where(flat, T, t1)
        return VolLookup(self, ie, ie1, jk, jk1, lam, alpha, t0, t1, T)


@dataclass(frozen=True)
class VolLookup:
    """Where a book's vols sit on a surface: four nodes and fixed coefficients per trade."""

    surface: VolSurface
    ie0: np.ndarray
    ie1: np.ndarray
    jk0: np.ndarray
    jk1: np.ndarray
    lam: np.ndarray
    alpha: np.ndarray
    t0: np.ndarray
    t1: np.ndarray
    expiry: np.ndarray

    def node_index(self):
        """Flat node indices (expiry-major) of the four corners, shape (4, n)."""
        nk = len(self.surface.strikes)
        return np.stack([self.ie0 * nk + self.jk0, self.ie0 * nk + self.jk1,
                         self.ie1 * nk + self.jk0, self.ie1 * nk + self.jk1])

    def inputs(self, vols=None) -> dict:
        """Inputs of :func:`interpolated_vol`: corner vols and coefficients per trade."""
        v = np.asarray(self.surface.vols if vols is None else vols, dtype=float).ravel()
        idx = self.node_index()
        return {"v00": v[idx[0]], "v01": v[idx[1]], "v10": v[idx[2]], "v11": v[idx[3]],
                "lam": self.lam, "alpha": self.alpha, "t0": self.t0, "t1": self.t1,
                "expiry": self.expiry}

    def time_derivatives(self):
        """``(dalpha, dt0, dt1)``: derivatives of ``alpha``, ``t0``, ``t1`` in the trade's
        expiry time (node vols and slice times held): ``alpha`` is linear in it between
        two slices; outside the expiry range ``t0 = t1 = expiry`` (flat vol)."""
        t = np.asarray(self.surface.expiries)
        T = self.expiry
        flat = (self.t0 == T) & (self.t1 == T) if len(t) > 1 else np.ones(T.shape, dtype=bool)
        flat = flat & ((T <= t[0]) | (T >= t[-1]))
        gap = np.where(flat, 1.0, self.t1 - self.t0)
        dalpha = np.where(flat, 0.0, -1.0 / gap)
        one = flat.astype(float)
        return dalpha, one, one.copy()

    def scatter(self, grads: dict) -> np.ndarray:
        """Per-trade node sensitivities, shape (n_trades, n_nodes), from corner gradients."""
        idx = self.node_index()
        n = idx.shape[1]
        out = np.zeros((n, len(self.surface.strikes) * len(self.surface.expiries)))
        rows = np.arange(n)
        for c, name in enumerate(("v00", "v01", "v10", "v11")):
            np.add.at(out, (rows, idx[c]), np.broadcast_to(grads[name], (n,)))
        return out


CORNERS = ("v00", "v01", "v10", "v11")


def interpolated_vol(*, v00, v01, v10, v11, lam, alpha, t0, t1, expiry):
    """Vol at a trade's expiry from its four surface nodes (floats or tape values).

    ``v00``/``v01`` are the left/right-strike nodes of the earlier slice (time
    ``t0``), ``v10``/``v11`` those of the later slice (``t1``); ``lam`` weights
    the left strike, ``alpha`` the earlier slice's total variance.  Returns the
    Black vol per sqrt(year).
    """
    s0 = lam * v00 + (1.0 - lam) * v01
    s1 = lam * v10 + (1.0 - lam) * v11
    w = alpha * (s0 * s0 * t0) + (1.0 - alpha) * (s1 * s1 * t1)
    return am.sqrt(w / expiry)

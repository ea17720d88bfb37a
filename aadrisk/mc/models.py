"""Monte Carlo models: one time step of each, written once with :mod:`aadrisk.math`.

A model is a frozen record with

* ``n_assets`` and ``asset_names``;
* ``inputs``: names of the program inputs it reads (spot, div, model parameters);
* ``xs``: names of its per-step inputs (arrays over the steps), besides the
  simulator's own ``_dt`` (step length, years), ``_r`` (continuously compounded
  forward short rate of the step, from the discount curve) and ``_k`` (step index);
* ``init(kw) -> state`` and ``step(state, x, kw) -> state``: the carried state,
  whose first ``n_assets`` entries are the asset prices;
* ``step_vol(a, state, x, kw)``: the instantaneous vol of asset ``a`` over the
  step (for the barrier continuity correction).

Each step draws its normals with :func:`aadrisk.normal`, counter-based, so path
``i`` has the same numbers whatever the batch size, block size or thread count.

Schemes
-------
* :class:`GBM`: exact log-Euler step with piecewise-constant vol (one value per
  step), rate and dividend yield.
* :class:`MultiGBM`: correlated GBM, flat vols, correlation by a Cholesky factor
  computed on the tape from the correlation inputs (so correlation Greeks exist).
* :class:`Heston`: full-truncation Euler (Lord et al. 2010) or Andersen's (2008)
  quadratic-exponential scheme (``scheme="qe"``, gamma1 = gamma2 = 1/2, no
  martingale correction); the QE switch at psi_c = 1.5 makes the variance path
  piecewise smooth in the parameters (pathwise Greeks hold the branch fixed).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import contextlib
import contextvars

from .. import math as am
from ..tape.record import normal as _normal

#: antithetic pairs: the first copy records its normals, the second replays them negated
_DRAWS: contextvars.ContextVar = contextvars.ContextVar("aadrisk_mc_draws", default=None)
#: quasi-random normals of the step (per-step inputs ``_z<d>``), consumed in order
_SOURCE: contextvars.ContextVar = contextvars.ContextVar("aadrisk_mc_source", default=None)


def normal():
    """A standard normal for a model step: pseudo-random (:func:`aadrisk.normal`), or the
    step's quasi-random input inside :func:`quasi_random`, negated on an antithetic replay."""
    st = _DRAWS.get()
    if st is not None and st[0] == "replay":
        if not st[1]:
            raise RuntimeError("antithetic replay: the second copy drew more normals")
        return -st[1].pop(0)
    src = _SOURCE.get()
    if src is not None:
        if not src:
            raise RuntimeError("the model drew more normals per step than its n_draws")
        z = src.pop(0)
    else:
        z = _normal()
    if st is not None:
        st[1].append(z)
    return z


@contextlib.contextmanager
def quasi_random(values: list):
    """Inside: :func:`normal` returns ``values`` in order (a step's Sobol normals)."""
    token = _SOURCE.set(None if values is None else list(values))
    try:
        yield
    finally:
        _SOURCE.reset(token)


@contextlib.contextmanager
def antithetic_copy(copy: int, buffer: list | None):
    """Copy 0 records the step's normals into ``buffer``; copy 1 replays them negated
    (``buffer=None``: no antithetic pairing)."""
    token = _DRAWS.set(None if buffer is None else
                       ("record" if copy == 0 else "replay", buffer))
    try:
        yield
    finally:
        _DRAWS.reset(token)

__all__ = ["GBM", "MultiGBM", "Heston", "HESTON_INPUTS", "LocalVol", "local_vol_time_weights"]


@dataclass(frozen=True)
class GBM:
    """One asset, ``dS/S = (r - q) dt + vol dW`` with one vol per step (input ``_vol``).

    The dividend yield is the flat input ``div``, or with ``div_per_step=True`` the
    per-step input ``_q`` (a piecewise-constant dividend term structure, one value
    per step, with a Greek per step) -- as the rate ``_r`` always is.
    """

    asset_names: tuple = ("S",)
    n_assets: int = 1
    n_draws: int = 1
    div_per_step: bool = False

    @property
    def inputs(self) -> tuple:
        return ("spot",) if self.div_per_step else ("spot", "div")

    @property
    def xs(self) -> tuple:
        return ("_vol", "_q") if self.div_per_step else ("_vol",)

    def init(self, kw):
        return (kw["spot"],)

    def step(self, state, x, kw):
        (s,) = state
        v, dt = x["_vol"], x["_dt"]
        q = x["_q"] if self.div_per_step else kw["div"]
        return (s * am.exp((x["_r"] - q - 0.5 * v * v) * dt + v * am.sqrt(dt) * normal()),)

    def step_vol(self, a, state, x, kw):
        return x["_vol"]


@dataclass(frozen=True)
class MultiGBM:
    """Correlated GBM assets with flat vols; inputs ``spot_k``, ``div_k``, ``vol_k``,
    ``corr_i_j`` (i < j)."""

    asset_names: tuple = ("A", "B")
    xs: tuple = ()

    @property
    def n_assets(self) -> int:
        return len(self.asset_names)

    @property
    def n_draws(self) -> int:
        return len(self.asset_names)

    @property
    def inputs(self) -> tuple:
        n = self.n_assets
        return (tuple(f"spot_{k}" for k in range(n)) + tuple(f"div_{k}" for k in range(n))
                + tuple(f"vol_{k}" for k in range(n))
                + tuple(f"corr_{i}_{j}" for i in range(n) for j in range(i + 1, n)))

    def cholesky(self, kw):
        """Lower Cholesky factor of the correlation matrix, on the tape."""
        n = self.n_assets
        c = [[1.0 if i == j else kw[f"corr_{min(i, j)}_{max(i, j)}"] for j in range(n)]
             for i in range(n)]
        L = [[0.0] * n for _ in range(n)]
        for i in range(n):
            for j in range(i + 1):
                acc = c[i][j]
                for k in range(j):
                    acc = acc - L[i][k] * L[j][k]
                L[i][j] = am.sqrt(acc) if i == j else acc / L[j][j]
        return L

    def prepare(self, kw):
        """Inputs plus the Cholesky factor ``_chol`` (recorded once, before the loop)."""
        return {**kw, "_chol": self.cholesky(kw)}

    def init(self, kw):
        return tuple(kw[f"spot_{k}"] for k in range(self.n_assets))

    def step(self, state, x, kw):
        n = self.n_assets
        L = kw["_chol"]
        z = [normal() for _ in range(n)]
        dt = x["_dt"]
        sq = am.sqrt(dt)
        out = []
        for i in range(n):
            w = 0.0
            for k in range(i + 1):
                w = w + L[i][k] * z[k]
            v = kw[f"vol_{i}"]
            out.append(state[i] * am.exp((x["_r"] - kw[f"div_{i}"] - 0.5 * v * v) * dt
                                         + v * sq * w))
        return tuple(out)

    def step_vol(self, a, state, x, kw):
        return kw[f"vol_{a}"]


#: floor under square roots of variances: sqrt(1e-100) is nil for the value, and its first and
#: second derivatives stay finite (so 0 x derivative is 0, not NaN, where the floor binds)
_TINY = 1e-100

HESTON_INPUTS = ("spot", "div", "v0", "kappa", "theta", "xi", "rho")


@dataclass(frozen=True)
class Heston:
    """Heston stochastic vol: ``dv = kappa (theta - v) dt + xi sqrt(v) dW2``, corr ``rho``."""

    scheme: str = "euler"
    asset_names: tuple = ("S",)
    n_assets: int = 1
    inputs: tuple = HESTON_INPUTS
    xs: tuple = field(default=())
    n_draws: int = 2

    def __post_init__(self):
        if self.scheme not in ("euler", "qe"):
            raise ValueError(f"Heston scheme must be 'euler' or 'qe', got {self.scheme!r}")

    def init(self, kw):
        return (kw["spot"], kw["v0"])

    def step(self, state, x, kw):
        if self.scheme == "qe":
            return self._qe(state, x, kw)
        s, v = state
        dt = x["_dt"]
        k, th, xi, rho = kw["kappa"], kw["theta"], kw["xi"], kw["rho"]
        z1, z2 = normal(), normal()
        vp = am.maximum(v, 0.0)
        sv = am.sqrt(am.maximum(v, _TINY) * dt)   # floored: a finite derivative at v <= 0
        s_new = s * am.exp((x["_r"] - kw["div"] - 0.5 * vp) * dt + sv * z1)
        zv = rho * z1 + am.sqrt(1.0 - rho * rho) * z2
        v_new = v + k * (th - vp) * dt + xi * sv * zv
        return (s_new, v_new)

    def _qe(self, state, x, kw):
        s, v = state
        dt = x["_dt"]
        k, th, xi, rho = kw["kappa"], kw["theta"], kw["xi"], kw["rho"]
        zv, zs = normal(), normal()
        e = am.exp(-k * dt)
        m = th + (v - th) * e
        s2 = v * xi * xi * e / k * (1.0 - e) + th * xi * xi / (2.0 * k) * (1.0 - e) * (1.0 - e)
        psi = s2 / (m * m)
        quad = psi <= 1.5
        # quadratic branch (guarded so that the unused branch stays finite)
        ipsi = 2.0 / am.minimum(psi, 1.5)
        b2 = ipsi - 1.0 + am.sqrt(ipsi) * am.sqrt(am.maximum(ipsi - 1.0, 0.0))
        a = m / (1.0 + b2)
        b = am.sqrt(b2)
        v_quad = a * (b + zv) * (b + zv)
        # exponential branch: uniform from the same normal
        psi_e = am.maximum(psi, 1.5)
        p = (psi_e - 1.0) / (psi_e + 1.0)
        beta = (1.0 - p) / m
        u = am.norm_cdf(zv)
        v_exp = am.where(u <= p, 0.0,
                         am.log((1.0 - p) / am.maximum(1.0 - u, 1e-300)) / beta)
        v_new = am.where(quad, v_quad, v_exp)
        g1 = g2 = 0.5
        k0 = -rho * k * th * dt / xi
        k1 = g1 * dt * (k * rho / xi - 0.5) - rho / xi
        k2 = g2 * dt * (k * rho / xi - 0.5) + rho / xi
        k3 = g1 * dt * (1.0 - rho * rho)
        k4 = g2 * dt * (1.0 - rho * rho)
        ls = ((x["_r"] - kw["div"]) * dt + k0 + k1 * v + k2 * v_new
              + am.sqrt(am.maximum(k3 * v + k4 * v_new, _TINY)) * zs)
        return (s * am.exp(ls), v_new)

    def step_vol(self, a, state, x, kw):
        return am.sqrt(am.maximum(state[1], _TINY))


def feller_ratio(kappa: float, theta: float, xi: float) -> float:
    """``2 kappa theta / xi^2``: the Feller condition holds when it is >= 1."""
    return 2.0 * kappa * theta / (xi * xi) if xi > 0 else math.inf


@dataclass(frozen=True)
class LocalVol:
    """Dupire local vol ``dS/S = (r - q) dt + sigma(t, S) dW`` from a grid of node inputs.

    ``sigma`` is bilinear in (time, spot) on the grid ``times x spots`` (inputs
    ``lv_<i>_<j>`` for time ``i`` and spot ``j``, time-major, read with
    :func:`aadrisk.gather` at the path's own spot bucket), flat outside it.  The
    spot levels must be equally spaced; times are arbitrary (per-step weights
    ``_ti``, ``_tw`` from :func:`local_vol_time_weights`).  The vol of a step is
    taken at its start (Euler in log-spot).
    """

    times: tuple = (1.0,)
    spots: tuple = (100.0,)
    asset_names: tuple = ("S",)
    n_assets: int = 1
    xs: tuple = ("_ti", "_tw")
    n_draws: int = 1
    #: optional ``kw -> grid values`` (time-major) computed on the tape from other inputs
    #: (e.g. Dupire from implied-vol nodes) instead of the node inputs ``lv_<i>_<j>``
    grid_builder: object = field(default=None, compare=False)

    def __post_init__(self):
        sp = list(self.spots)
        if len(sp) < 2 or len(self.times) < 1:
            raise ValueError("a local-vol grid needs >= 2 spot levels and >= 1 time")
        d = [b - a for a, b in zip(sp, sp[1:])]
        if min(d) <= 0 or max(d) - min(d) > 1e-9 * max(abs(x) for x in sp):
            raise ValueError("local-vol spot levels must be increasing and equally spaced")
        if any(b <= a for a, b in zip(self.times, self.times[1:])):
            raise ValueError("local-vol times must be increasing")

    @property
    def node_names(self) -> tuple:
        return tuple(f"lv_{i}_{j}" for i in range(len(self.times))
                     for j in range(len(self.spots)))

    @property
    def inputs(self) -> tuple:
        return ("spot", "div") + (() if self.grid_builder else self.node_names)

    def prepare(self, kw):
        from ..tape.record import table
        vals = (list(self.grid_builder(kw)) if self.grid_builder
                else [kw[n] for n in self.node_names])
        if len(vals) != len(self.times) * len(self.spots):
            raise ValueError(f"local-vol grid has {len(vals)} values, expected "
                             f"{len(self.times)} x {len(self.spots)}")
        return {**kw, "_lv": table(vals)}

    def init(self, kw):
        return (kw["spot"],)

    def _time_row(self, x, kw):
        """The step's row of local vols over the spot levels, interpolated in time
        (``_ti``, ``_tw`` are the same for every path: computed once per step)."""
        from ..tape.record import table
        tab, ns = kw["_lv"], len(self.spots)
        if len(self.times) == 1:
            return tab
        base, tw = x["_ti"] * float(ns), x["_tw"]
        return table([(1.0 - tw) * am.gather(tab, base + float(j))
                      + tw * am.gather(tab, base + float(ns + j)) for j in range(ns)])

    def _sigma(self, s, x, kw):
        """Bilinear local vol: in time first (the step's row, shared by all paths), then
        in spot at the path's bucket (two table reads per path)."""
        ns = len(self.spots)
        s0, ds = self.spots[0], self.spots[1] - self.spots[0]
        u = am.minimum(am.maximum((s - s0) * (1.0 / ds), 0.0), float(ns - 1))
        i = am.minimum(am.floor(u), float(ns - 2))
        w = u - i
        row = self._time_row(x, kw)
        return (1.0 - w) * am.gather(row, i) + w * am.gather(row, i + 1.0)

    def step(self, state, x, kw):
        (s,) = state
        dt = x["_dt"]
        v = self._sigma(s, x, kw)
        return (s * am.exp((x["_r"] - kw["div"] - 0.5 * v * v) * dt
                           + v * am.sqrt(dt) * normal()),)

    def step_vol(self, a, state, x, kw):
        return self._sigma(state[0], x, kw)


def local_vol_time_weights(grid_times, step_starts):
    """Per step: lower time row ``_ti`` and weight ``_tw`` of the step's start time on
    the grid (flat outside: weight 0 before the first time, last row after the last).

    >>> local_vol_time_weights([1.0, 2.0], [0.5, 1.0, 1.25, 3.0])
    {'_ti': array([0., 0., 0., 0.]), '_tw': array([0.  , 0.  , 0.25, 1.  ])}
    """
    import numpy as np
    gt = np.asarray(grid_times, dtype=float)
    t = np.asarray(step_starts, dtype=float)
    if gt.size == 1:
        return {"_ti": np.zeros(t.size), "_tw": np.zeros(t.size)}
    i = np.clip(np.searchsorted(gt, t, side="right") - 1, 0, gt.size - 2)
    w = np.clip((t - gt[i]) / (gt[i + 1] - gt[i]), 0.0, 1.0)
    return {"_ti": i.astype(float), "_tw": w}

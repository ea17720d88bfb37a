"""Hull-White 1F calibration (constant ``a``, ``sigma``) to swaption or cap vols.

Instruments (per unit notional, on the market's discount curve of the quotes' currency;
single-curve: the floating leg is at par on the same curve):

* swaption ``expiry x tenor``: exercise ``T0`` = valuation date + expiry; fixed leg
  every ``fixed_tenor`` to ``T0 + tenor`` (unadjusted dates, accruals Act/365F);
  annuity ``A = sum tau_i P(0, T_i)``, forward ``F = (P(0, T0) - P(0, T_n)) / A``; ATM
  strike ``K = F``.  Market price ``A * Bachelier(F, K, vol, T0)`` (``vol_type`` normal)
  or ``A * Black(F, K, vol, T0)`` (lognormal).  Model price: Jamshidian
  (:func:`aadrisk.models.hull_white.swaption_price`).  **Residual in implied-vol
  space**: ``implied_vol(model price / A) - vol`` (normal or Black, IFT derivatives).
* cap to ``maturity``: caplets every ``frequency`` from the valuation date, the first
  (already fixed) one excluded; ATM strike = the forward swap rate of the caplet
  periods.  Market price = sum of caplets at the flat vol.  Model: HW caplets.
  **Residual price / vega**: ``(model - market) / vega_market`` (vega of the flat vol),
  i.e. the vol error to first order.

All quotes are one batch of one recorded program (fixed legs padded with zero
accruals), with per-element copies of ``a`` and ``sigma`` -> the Jacobian in one sweep.
Output: ``models.hull_white.<CCY> = {a, sigma}``.
"""
from __future__ import annotations

import time

import numpy as np

from ..market.dates import add_tenor
from ..models.black import bachelier_price, black_price
from ..models.hull_white import cap_price, swaption_price
from ..tape.custom import implied_vol_bachelier, implied_vol_black
from ..tape.record import record
from ._common import CalibrationError, free_mask
from .lm import levenberg_marquardt
from .report import CalibrationResult

__all__ = ["PARAMS", "HullWhiteProblem", "calibrate_hull_white"]

PARAMS = ("a", "sigma")
BOUNDS = {"a": (1e-4, 3.0), "sigma": (1e-5, 0.5)}
_PROGS = {}


def _yf(d0, d1):
    return (d1 - d0).days / 365.0


def _program(kind, n, vol_type):
    key = (kind, n, vol_type)
    if key in _PROGS:
        return _PROGS[key]
    if kind == "swaption":
        names = ["a", "sigma", "expiry", "df_expiry", "strike", "annuity", "forward"] + \
            [f"t{i}" for i in range(n)] + [f"d{i}" for i in range(n)] + [f"c{i}" for i in range(n)]

        def fn(**kw):
            p = swaption_price(a=kw["a"], sigma=kw["sigma"], expiry=kw["expiry"],
                               df_expiry=kw["df_expiry"], times=[kw[f"t{i}"] for i in range(n)],
                               dfs=[kw[f"d{i}"] for i in range(n)],
                               accruals=[kw[f"c{i}"] for i in range(n)], strike=kw["strike"],
                               is_payer=1.0)
            iv = implied_vol_bachelier if vol_type == "normal" else implied_vol_black
            return iv(price=p / kw["annuity"], forward=kw["forward"], strike=kw["strike"],
                      expiry=kw["expiry"], is_call=1.0)
    else:
        names = ["a", "sigma", "strike", "market", "vega"] + \
            [f"{k}{i}" for k in ("r", "p", "c", "dr", "dp", "m") for i in range(n)]

        def fn(**kw):
            pr = cap_price(a=kw["a"], sigma=kw["sigma"], resets=[kw[f"r{i}"] for i in range(n)],
                           pays=[kw[f"p{i}"] for i in range(n)],
                           accruals=[kw[f"c{i}"] for i in range(n)],
                           df_resets=[kw[f"dr{i}"] for i in range(n)],
                           df_pays=[kw[f"dp{i}"] for i in range(n)], strike=kw["strike"],
                           counts=[kw[f"m{i}"] for i in range(n)])
            return (pr - kw["market"]) / kw["vega"]
    prog = record(fn, inputs=names, name=f"hw_{kind}_{n}")
    _PROGS[key] = prog
    return prog


class HullWhiteProblem:
    """Per-quote instrument data (padded), market prices, and the residual program."""

    def __init__(self, quotes, market):
        if market is None:
            raise CalibrationError("hull-white: a market snapshot with the discount curve "
                                   f"of {quotes.currency} is needed")
        ccy = quotes.currency
        disc = market.discount_for(ccy)
        if disc is None:
            raise CalibrationError(f"hull-white: no discount curve or rate for {ccy} in the market")
        prob = market.discount_problem(ccy)
        if prob:
            raise CalibrationError(f"hull-white: discount curve of {ccy} unusable: {prob}")
        val = market.valuation_date
        if quotes.valuation_date is not None and quotes.valuation_date != val:
            raise CalibrationError(f"quotes valuation_date {quotes.valuation_date} differs from "
                                   f"the market's {val}")
        self.quotes, self.kind, self.vol_type = quotes, quotes.kind, quotes.vol_type
        D = lambda t: float(disc.discount(np.array([t]))[0])  # noqa: E731
        price_fn = bachelier_price if self.vol_type == "normal" else black_price
        rows = []
        for q in quotes.quotes:
            if self.kind == "swaption":
                start = add_tenor(val, q.expiry)
                end = add_tenor(start, q.tenor)
                dates, k = [], 1
                while True:
                    d = add_tenor(start, quotes.fixed_tenor, k)
                    if d > end or (end - d).days < 7:
                        dates.append(end)
                        break
                    dates.append(d)
                    k += 1
                T0 = _yf(val, start)
                times = [_yf(val, d) for d in dates]
                acc = [_yf(p, d) for p, d in zip([start] + dates[:-1], dates)]
                dfs = [D(t) for t in times]
                A = sum(c * d for c, d in zip(acc, dfs))
                F = (D(T0) - dfs[-1]) / A
                K = F if q.strike is None else q.strike
                if self.vol_type == "lognormal" and K <= 0:
                    raise CalibrationError(f"quote {q.label}: lognormal vol with strike {K:g} <= 0")
                mkt = A * float(price_fn(forward=F, strike=K, expiry=T0, vol=q.vol, discount=1.0,
                                         is_call=1.0))
                rows.append(dict(T0=T0, dfT0=D(T0), times=times, dfs=dfs, acc=acc, K=K, A=A, F=F,
                                 market=mkt, x=_yf(start, end), group=q.expiry))
            else:
                end = add_tenor(val, q.tenor)
                dates, k = [val], 1
                while True:
                    d = add_tenor(val, quotes.frequency, k)
                    if d > end or (end - d).days < 7:
                        dates.append(end)
                        break
                    dates.append(d)
                    k += 1
                if len(dates) < 3:
                    raise CalibrationError(f"quote {q.label}: cap maturity {q.tenor} has no caplet "
                                           f"after the first (frequency {quotes.frequency})")
                resets = [_yf(val, d) for d in dates[1:-1]]
                pays = [_yf(val, d) for d in dates[2:]]
                acc = [p - r for r, p in zip(resets, pays)]
                dr, dp = [D(t) for t in resets], [D(t) for t in pays]
                A = sum(c * d for c, d in zip(acc, dp))
                F = (dr[0] - dp[-1]) / A
                K = F if q.strike is None else q.strike
                mkt, vega = 0.0, 0.0
                for r_, c, d0, d1 in zip(resets, acc, dr, dp):
                    fwd = (d0 / d1 - 1.0) / c
                    mkt += c * d1 * float(price_fn(forward=fwd, strike=K, expiry=r_, vol=q.vol,
                                                   discount=1.0, is_call=1.0))
                    h = 1e-6 * q.vol
                    vega += c * d1 * float(
                        price_fn(forward=fwd, strike=K, expiry=r_, vol=q.vol + h, discount=1.0,
                                 is_call=1.0) - price_fn(forward=fwd, strike=K, expiry=r_,
                                                         vol=q.vol - h, discount=1.0,
                                                         is_call=1.0)) / (2 * h)
                rows.append(dict(resets=resets, pays=pays, acc=acc, dr=dr, dp=dp, K=K, A=A, F=F,
                                 market=mkt, vega=vega, x=pays[-1], group="cap"))
        self.rows = rows
        self.n = len(rows)
        self.vol = np.array([q.vol for q in quotes.quotes])
        self.weight = np.array([q.weight for q in quotes.quotes])
        if self.kind == "swaption":
            nmax = max(len(r["times"]) for r in rows)
            self.prog = _program("swaption", nmax, self.vol_type)
            base = {"expiry": np.array([r["T0"] for r in rows]),
                    "df_expiry": np.array([r["dfT0"] for r in rows]),
                    "strike": np.array([r["K"] for r in rows]),
                    "annuity": np.array([r["A"] for r in rows]),
                    "forward": np.array([r["F"] for r in rows])}
            for i in range(nmax):
                base[f"t{i}"] = np.array([r["times"][min(i, len(r["times"]) - 1)] for r in rows])
                base[f"d{i}"] = np.array([r["dfs"][min(i, len(r["dfs"]) - 1)] for r in rows])
                base[f"c{i}"] = np.array([r["acc"][i] if i < len(r["acc"]) else 0.0 for r in rows])
        else:
            nmax = max(len(r["resets"]) for r in rows)
            self.prog = _program("cap", nmax, self.vol_type)
            base = {"strike": np.array([r["K"] for r in rows]),
                    "market": np.array([r["market"] for r in rows]),
                    "vega": np.array([r["vega"] for r in rows])}
            for i in range(nmax):
                for key, src in (("r", "resets"), ("p", "pays"), ("c", "acc"), ("dr", "dr"),
                                 ("dp", "dp")):
                    base[f"{key}{i}"] = np.array([r[src][min(i, len(r[src]) - 1)] for r in rows])
                base[f"m{i}"] = np.array([1.0 if i < len(r["resets"]) else 0.0 for r in rows])
        self.base = base

    def inputs(self, x):
        d = dict(self.base)
        d["a"] = np.full(self.n, float(x[0]))
        d["sigma"] = np.full(self.n, float(x[1]))
        return d

    def model_vols(self, x):
        """Model implied vols (swaptions) or ``market vol + residual`` (caps)."""
        v = self.prog.value(self.inputs(x)).value
        return v if self.kind == "swaption" else self.vol + v

    def residuals(self, X):
        res = self.prog.grad(self.inputs(X[0]), wrt=list(PARAMS))
        r = res.value - self.vol if self.kind == "swaption" else res.value
        return r[None], np.stack([res.grad[k] for k in PARAMS], axis=1)[None]

    def hessians(self, x):
        H = self.prog.hessian(self.inputs(x), list(PARAMS))
        return np.stack([np.stack([np.asarray(H[a][b]) for b in PARAMS], axis=-1) for a in PARAMS],
                        axis=1)


def calibrate_hull_white(quotes, market, *, x0=None, bounds=None, max_iter=100,
                         gtol=1e-12) -> CalibrationResult:
    """Fit ``a`` and ``sigma`` to :class:`~aadrisk.calibration.quotes.RateQuotes`."""
    t0 = time.perf_counter()
    if len([q for q in quotes.quotes if q.weight > 0]) < 2:
        raise CalibrationError("hull-white: at least 2 quotes with positive weight are needed "
                               "for a and sigma")
    p = HullWhiteProblem(quotes, market)
    b = dict(BOUNDS)
    b.update(bounds or {})
    lo = np.array([b[k][0] for k in PARAMS])
    hi = np.array([b[k][1] for k in PARAMS])
    x = np.array([0.05, 0.01])
    if x0:
        for k, v in dict(x0).items():
            if k not in PARAMS:
                raise CalibrationError(f"initial guess: unknown Hull-White parameter {k!r}")
            x[PARAMS.index(k)] = float(v)
    else:
        # sigma from the average normal vol (a normal vol of ~sigma at short expiries)
        atm = np.array([r["F"] for r in p.rows])
        nv = p.vol if quotes.vol_type == "normal" else p.vol * np.abs(atm)
        x[1] = float(np.clip(np.median(nv), 1e-4, 0.1))
    res = levenberg_marquardt(p.residuals, x[None], weights=p.weight[None], lower=lo, upper=hi,
                              max_iter=max_iter, gtol=gtol)
    xs = res.x[0]
    secs = time.perf_counter() - t0
    free = free_mask(xs, lo, hi)

    def state():
        return {"x": xs, "J": res.jacobian[0], "r": res.residuals[0], "w": p.weight,
                "H": p.hessians(xs), "free": free}

    model_vals = p.vol + res.residuals[0]
    ccy = quotes.currency
    return CalibrationResult(
        model="hull_white", name=ccy, params={"a": float(xs[0]), "sigma": float(xs[1])},
        labels=quotes.labels, market=p.vol.copy(), model_vals=model_vals,
        weights=p.weight.copy(), groups=[r["group"] for r in p.rows],
        x_axis=np.array([r["x"] for r in p.rows]), iterations=int(res.iterations[0]),
        seconds=secs, converged=bool(res.converged[0]), message=res.message[0],
        n_evals=res.n_evals, vol_unit=quotes.vol_type,
        extra={"param_labels": [f"model/hull_white/{ccy}/{k}" for k in PARAMS], "state": state,
               "problem": p, "lm": res})

"""Risk through calibration: Greeks to the market quotes a model was fitted to.

At the optimum ``theta*(q)`` of ``min 1/2 sum_i w_i r_i(theta, q)^2`` the first-order
condition ``F(theta, q) = J^T W r = 0`` holds; by the implicit function theorem

    dtheta/dq = -(dF/dtheta)^-1 dF/dq,
    dF/dtheta = J^T W J + sum_i w_i r_i Hess_theta(r_i),

and with implied-vol residuals ``r_i = model_vol_i(theta) - q_i``, ``dF/dq = -J^T W``, so
``dtheta/dq = (dF/dtheta)^-1 J^T W``.  The second-order term (Hessians of the model vols
from forward-over-reverse sweeps of the same tape) matters as soon as the fit is not
exact.  Parameters that end on a bound (or on the Feller boundary) are held fixed.  A
trade's Greeks to the quotes are then ``dV/dq = dV/dtheta . dtheta/dq``.

SABR expiries are independent problems: ``dtheta/dq`` is block diagonal (an expiry's
parameters move only with that expiry's quotes).
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .report import CalibrationResult

__all__ = ["parameter_sensitivities", "quote_greeks", "ift_block", "heston_option_greeks",
           "calibrated_params_on_tape",
           "sabr_option_greeks", "hull_white_quote_greeks"]


def ift_block(J, r, w, H, free=None) -> np.ndarray:
    """``dtheta/dq`` (P x N) of one least-squares problem with residuals ``model - q``.

    ``J`` (N, P), ``r`` (N,), ``w`` (N,), ``H`` (N, P, P) or None (Gauss-Newton only),
    ``free`` (P,) bool: parameters not on a bound.
    """
    J = np.asarray(J, float)
    N, P = J.shape
    free = np.ones(P, bool) if free is None else np.asarray(free, bool)
    Jf = J[:, free]
    A = Jf.T @ (w[:, None] * Jf)
    if H is not None:
        A = A + np.einsum("n,npq->pq", w * r, H[:, free][:, :, free])
    out = np.zeros((P, N))
    out[free] = np.linalg.solve(A, Jf.T * w[None, :])
    return out


def parameter_sensitivities(result: CalibrationResult, *,
                            second_order: bool = True) -> pd.DataFrame:
    """``dtheta/dq``: rows the parameter labels, columns the quote labels (cached)."""
    key = ("dtheta_dq", second_order)
    if key in result.extra:
        return result.extra[key]
    st = result.extra["state"]()
    labels = result.extra["param_labels"]
    if result.model == "sabr":
        E, nmax = st["mask"].shape
        M = np.zeros((len(labels), len(result.labels)))
        for e in range(E):
            m = st["mask"][e]
            blk = ift_block(st["J"][e][m], st["r"][e][m], st["w"][e][m],
                            st["H"][e][m] if second_order else None, st["free"][e])
            M[3 * e:3 * e + 3][:, st["index"][e][m]] = blk
    else:
        M = ift_block(st["J"], st["r"], st["w"], st["H"] if second_order else None, st["free"])
    df = pd.DataFrame(M, index=labels, columns=result.labels)
    result.extra[key] = df
    return df


def quote_greeks(result: CalibrationResult, dv_dparams: Mapping, *,
                 second_order: bool = True) -> pd.Series:
    """Greeks of a trade to the calibration quotes: ``dV/dq = dV/dtheta . dtheta/dq``.

    ``dv_dparams``: parameter label (``model/heston/SPX/kappa``) -> dV/dparam; for
    single-smile models the bare name (``kappa``) is accepted too.  Returns a Series
    indexed by quote label (``vol/SPX/2025-06-20/5500``), in price units per 1.00 of vol.
    """
    S = parameter_sensitivities(result, second_order=second_order)
    g = np.zeros(len(S.index))
    short = {lab.rsplit("/", 1)[-1]: i for i, lab in enumerate(S.index)}
    for k, v in dv_dparams.items():
        if k in S.index:
            g[S.index.get_loc(k)] += float(v)
        elif result.model != "sabr" and k in short:
            g[short[k]] += float(v)
        else:
            raise KeyError(f"{k!r} is not a parameter of this calibration: {list(S.index)}")
    return pd.Series(g @ S.to_numpy(), index=S.columns, name="dV/dquote")


def heston_option_greeks(result: CalibrationResult, *, strike, expiry, is_call=1.0, spot=None,
                         rate=None, div=None) -> tuple[float, dict]:
    """Price and ``dV/dtheta`` of a European option under the calibrated Heston parameters.

    ``expiry`` in years; ``spot``/``rate``/``div`` default to the calibration's market
    (rate and div of the first quote's expiry if not given).
    """
    from .heston import PARAMS, _TAPE, heston_price_program
    p = result.extra["problem"]
    prog = heston_price_program()
    inp = {"spot": p.spot if spot is None else spot, "strike": float(strike),
           "expiry": float(expiry), "rate": float(p.rate[0] if rate is None else rate),
           "div": float(p.div[0] if div is None else div), "is_call": float(is_call)}
    for k, n in zip(PARAMS, _TAPE):
        inp[n] = result.params[k]
    r = prog.grad(inp, wrt=list(_TAPE))
    u = result.name
    return float(r.value[0]), {f"model/heston/{u}/{k}": float(r.grad[n])
                               for k, n in zip(PARAMS, _TAPE)}


def sabr_option_greeks(result: CalibrationResult, *, expiry_iso, strike, is_call=1.0,
                       discount=None) -> tuple[float, dict]:
    """Black-76 price with the SABR vol of one calibrated expiry and ``dV/d(alpha, nu, rho)``."""
    from ..models.sabr import sabr_price
    from ..tape.record import record
    p = result.extra["problem"]
    e = [d.isoformat() for d in p.expiries].index(expiry_iso)
    prm = result.params[expiry_iso]
    t = float(p.t[e, 0])
    df = float(np.exp(-p.rate[p.index[e, 0]] * t)) if discount is None else float(discount)
    prog = result.extra.setdefault("_price_prog", None) or record(sabr_price, name="sabr_price")
    result.extra["_price_prog"] = prog
    r = prog.grad({"forward": float(p.forward[e, 0]), "strike": float(strike), "expiry": t,
                   "alpha": prm["alpha"], "beta": prm["beta"], "nu": prm["nu"], "rho": prm["rho"],
                   "discount": df, "is_call": float(is_call)}, wrt=["alpha", "nu", "rho"])
    u = result.name
    return float(r.value[0]), {f"model/sabr/{u}/{expiry_iso}/{k}": float(r.grad[k])
                               for k in ("alpha", "nu", "rho")}


def hull_white_quote_greeks(result: CalibrationResult, dv_dparams: Mapping) -> pd.Series:
    """:func:`quote_greeks` for a Hull-White calibration (``a``, ``sigma``)."""
    return quote_greeks(result, dv_dparams)


def calibrated_params_on_tape(result: CalibrationResult, quotes, *,
                              second_order: bool = True) -> dict:
    """The calibration as a custom adjoint on the tape: parameters as functions of quote vols.

    ``quotes``: one value per quote of the calibration, in its quote order -- tape values
    (recorded inputs) or floats.  Returns ``{param_label: value}`` whose value is the
    calibrated parameter and whose derivatives to the quotes are ``dtheta/dq`` at the
    optimum (:func:`aadrisk.custom_derivative` with constant partials: first order exact,
    the second derivative of the calibration map is taken as zero).  A pricer recorded
    with the quote vols as inputs then returns Greeks to the quotes in one reverse sweep.

    Examples
    --------
    ``prog = ad.record(lambda **q: price(calibrated_params_on_tape(res, list(q.values()))),
    inputs=res.labels)`` -- input names may be the quote labels.
    """
    from ..tape.custom import custom_derivative
    S = parameter_sensitivities(result, second_order=second_order)
    if len(quotes) != S.shape[1]:
        raise ValueError(f"{len(quotes)} quote values given, the calibration has {S.shape[1]}")
    values = _flat_params(result)
    out = {}
    M = S.to_numpy()
    for k, lab in enumerate(S.index):
        nz = np.flatnonzero(M[k])
        xs = [quotes[i] for i in nz]
        coef = [float(M[k, i]) for i in nz]
        out[lab] = custom_derivative(values[lab], xs, lambda _xs, _y, c=coef: c) if xs \
            else values[lab]
    return out


def _flat_params(result: CalibrationResult) -> dict:
    """``{param_label: value}`` in the order of ``extra['param_labels']``."""
    labels = result.extra["param_labels"]
    if result.model == "sabr":
        vals = [result.params[lab.split("/")[-2]][lab.split("/")[-1]] for lab in labels]
    else:
        vals = [result.params[lab.rsplit("/", 1)[-1]] for lab in labels]
    return dict(zip(labels, vals))

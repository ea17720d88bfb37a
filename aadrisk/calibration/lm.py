"""Levenberg-Marquardt least squares in NumPy, vectorised over independent problems.

Solves ``B`` independent problems ``min_x 1/2 sum_i w_i r_i(x)^2`` (``x`` of ``P``
parameters, ``N`` residuals each) in lockstep: one call of the residual function
per iteration evaluates the residuals *and* the Jacobian of every problem, so a
batched AAD program (one reverse sweep) serves all problems at once.

Algorithm (Moré 1978; Nielsen 1999 damping update):

* weighted residuals ``rw = sqrt(w) r``, ``Jw = sqrt(w) J``; gradient
  ``g = Jw^T rw``, Gauss-Newton matrix ``A = Jw^T Jw``;
* Marquardt scaling: ``D = max over iterations of diag(A)`` (parameters of very
  different sizes -- Heston ``v0 ~ 0.04``, ``kappa ~ 2`` -- get comparable steps);
* trial step ``(A + lam D) d = -g`` over the free parameters (a parameter on a bound
  whose gradient points outwards is held), then **projected** onto the feasible set
  (box bounds, plus an optional problem-specific projection, e.g. Feller);
* gain ratio ``rho = (cost - cost_trial) / predicted``; accept if ``rho > 1e-4``
  and shrink ``lam`` by ``max(1/3, 1 - (2 rho - 1)^3)``, else grow it (x2, x4, ...);
* convergence (per problem), any of: projected gradient
  ``max|x - P(x - g / diag-scale)|`` below ``gtol``; accepted step
  ``|dx| <= xtol (|x| + xtol)``; relative cost decrease below ``ftol`` on an
  accepted step; cost below ``ctol``.  Otherwise the problem stops at
  ``max_iter`` (or when ``lam`` exceeds ``1e16``) with ``converged=False``.

Examples
--------
>>> import numpy as np
>>> t = np.linspace(0.0, 1.0, 8)
>>> y = 2.0 * np.exp(-1.5 * t)
>>> def fun(x):
...     a, k = x[:, :1], x[:, 1:]
...     e = np.exp(-k * t)
...     return a * e - y, np.stack([e, -a * t * e], axis=-1)
>>> res = levenberg_marquardt(fun, np.array([[1.0, 0.5]]))
>>> np.round(res.x, 10).tolist(), bool(res.converged[0])
([[2.0, 1.5]], True)
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["LMResult", "levenberg_marquardt"]


@dataclass
class LMResult:
    """Outcome of :func:`levenberg_marquardt` (arrays over the ``B`` problems).

    ``x`` (B, P) parameters; ``cost`` (B,) ``1/2 sum w r^2``; ``residuals`` (B, N)
    unweighted; ``jacobian`` (B, N, P) unweighted at ``x``; ``iterations`` (B,)
    accepted + rejected steps; ``n_evals`` residual/Jacobian evaluations (shared);
    ``converged`` (B,) bool; ``message`` per problem.
    """

    x: np.ndarray
    cost: np.ndarray
    residuals: np.ndarray
    jacobian: np.ndarray
    iterations: np.ndarray
    n_evals: int
    converged: np.ndarray
    message: list = field(default_factory=list)
    grad_norm: np.ndarray | None = None


def _solve(A, D, lam, g, fixed):
    M = A + lam[:, None, None] * (D[:, :, None] * np.eye(A.shape[-1])[None])
    if fixed.any():   # active bounds: solve for the free parameters only
        keep = ~fixed
        M = M * keep[:, :, None] * keep[:, None, :] + fixed[:, :, None] * np.eye(A.shape[-1])
        g = g * keep
    try:
        return np.linalg.solve(M, -g[..., None])[..., 0]
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(M[0], -g[0], rcond=None)[0][None] if len(M) == 1 else \
            np.stack([np.linalg.lstsq(m, -gg, rcond=None)[0] for m, gg in zip(M, g)])


def levenberg_marquardt(fun, x0, *, weights=None, lower=None, upper=None, project=None,
                        max_iter=200, gtol=1e-10, xtol=1e-12, ftol=1e-14, ctol=0.0,
                        lam0=1e-3, callback=None) -> LMResult:
    """Minimise ``1/2 sum w r(x)^2`` for a batch of independent problems.

    Parameters
    ----------
    fun : callable
        ``fun(x) -> (r, J)`` with ``x`` (B, P), residuals ``r`` (B, N) and Jacobian
        ``J`` (B, N, P).  Non-finite residuals at a trial point reject the step.
    x0 : array (B, P) or (P,)
        Initial guesses (projected onto the bounds first).
    weights : array (B, N) or (N,), optional
        Non-negative quote weights (default 1).
    lower, upper : array (P,) or (B, P), optional
        Box bounds (default unbounded); steps are projected onto them.
    project : callable, optional
        ``project(x) -> x`` extra feasibility projection applied after the box
        (e.g. the Feller condition).
    max_iter, gtol, xtol, ftol, ctol, lam0 : convergence controls (module notes).
    callback : callable, optional
        ``callback(iteration, x, cost)`` after every iteration.
    """
    x = np.atleast_2d(np.asarray(x0, dtype=float)).copy()
    B, P = x.shape
    lo = np.broadcast_to(-np.inf if lower is None else np.asarray(lower, float), (B, P))
    hi = np.broadcast_to(np.inf if upper is None else np.asarray(upper, float), (B, P))

    def proj(z):
        z = np.minimum(np.maximum(z, lo), hi)
        return project(z) if project is not None else z

    x = proj(x)
    r, J = fun(x)
    n_evals = 1
    N = r.shape[1]
    w = np.ones((B, N)) if weights is None else np.broadcast_to(np.asarray(weights, float), (B, N))
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ValueError("weights must be finite and non-negative")
    sw = np.sqrt(w)
    if not np.all(np.isfinite(r)) or not np.all(np.isfinite(J)):
        bad = np.argwhere(~np.isfinite(r))
        raise FloatingPointError(f"non-finite residual at the initial guess (problem, residual) "
                                 f"{bad[:3].tolist()}")

    def stats(r, J):
        rw, Jw = sw * r, sw[..., None] * J
        return 0.5 * np.sum(rw * rw, axis=1), np.einsum("bnp,bn->bp", Jw, rw), \
            np.einsum("bnp,bnq->bpq", Jw, Jw)

    cost, g, A = stats(r, J)
    D = np.maximum(np.diagonal(A, axis1=1, axis2=2).copy(), 1e-300)
    lam = np.full(B, float(lam0))
    nu = np.full(B, 2.0)
    active = np.ones(B, dtype=bool)
    converged = np.zeros(B, dtype=bool)
    message = ["maximum number of iterations reached"] * B
    iters = np.zeros(B, dtype=int)

    def pgrad(x, g, D):
        # projected gradient in Marquardt-scaled coordinates (scale-free)
        step = g / D
        return np.max(np.abs(x - proj(x - step)) * np.sqrt(D), axis=1) if P else np.zeros(B)

    gn = pgrad(x, g, D)
    for b in range(B):
        if gn[b] <= gtol or cost[b] <= ctol:
            active[b], converged[b] = False, True
            message[b] = "initial point already optimal"

    for it in range(max_iter):
        if not active.any():
            break
        D = np.maximum(D, np.diagonal(A, axis1=1, axis2=2))
        # a parameter on a bound whose gradient pushes it outwards stays there this step
        fixed = ((x <= lo) & (g > 0)) | ((x >= hi) & (g < 0))
        d = _solve(A, D, lam, g, fixed)
        xt = np.where(active[:, None], proj(x + d), x)
        dx = xt - x
        rt, Jt = fun(xt)
        n_evals += 1
        iters += active
        ct, gt, At = stats(rt, Jt)
        pred = -(np.einsum("bp,bp->b", g, dx) + 0.5 * np.einsum("bp,bpq,bq->b", dx, A, dx))
        finite = np.isfinite(ct) & np.all(np.isfinite(Jt), axis=(1, 2))
        with np.errstate(divide="ignore", invalid="ignore"):
            rho = np.where(pred > 0, (cost - ct) / pred, -1.0)
        accept = active & finite & (rho > 1e-4) & (ct <= cost)
        for b in np.flatnonzero(active):
            if accept[b]:
                small_step = np.all(np.abs(dx[b]) <= xtol * (np.abs(x[b]) + xtol))
                small_f = (cost[b] - ct[b]) <= ftol * cost[b]
                x[b], r[b], J[b], cost[b], g[b], A[b] = xt[b], rt[b], Jt[b], ct[b], gt[b], At[b]
                lam[b] *= max(1.0 / 3.0, 1.0 - (2.0 * rho[b] - 1.0) ** 3)
                nu[b] = 2.0
                gnb = pgrad(x[b:b + 1], g[b:b + 1], np.maximum(D[b:b + 1], np.diagonal(
                    A[b:b + 1], axis1=1, axis2=2)))[0]
                if gnb <= gtol:
                    message[b] = "gradient tolerance reached"
                elif cost[b] <= ctol:
                    message[b] = "cost tolerance reached"
                elif small_step:
                    message[b] = "step tolerance reached"
                elif small_f:
                    message[b] = "relative cost reduction below ftol"
                else:
                    continue
                active[b], converged[b] = False, True
            else:
                if np.all(dx[b] == 0.0):
                    # the projected step vanished (on a bound, or below rounding)
                    gnb = pgrad(x[b:b + 1], g[b:b + 1], D[b:b + 1])[0]
                    if gnb <= max(gtol, 1e-8):
                        active[b], converged[b] = False, True
                        message[b] = "stationary (projected step is zero)"
                        continue
                lam[b] *= nu[b]
                nu[b] *= 2.0
                if lam[b] > 1e16:
                    gnb = pgrad(x[b:b + 1], g[b:b + 1], D[b:b + 1])[0]
                    active[b] = False
                    converged[b] = bool(gnb <= 1e3 * gtol)
                    message[b] = ("no further decrease possible (at the optimum to rounding)"
                                  if converged[b] else "damping exceeded 1e16 without convergence")
        if callback is not None:
            callback(it, x, cost)
    D = np.maximum(D, np.diagonal(A, axis1=1, axis2=2))
    return LMResult(x=x, cost=cost, residuals=r, jacobian=J, iterations=iters, n_evals=n_evals,
                    converged=converged, message=message, grad_norm=pgrad(x, g, D))

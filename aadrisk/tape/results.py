"""Results of an evaluation: the :class:`Result` record and the reductions behind it.

Per-lane accumulators hold (sum, centred sum of squares) pairs; they are merged
in lane order (bit-reproducible) and turned into sums or means with standard
errors here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Result:
    """Values and derivatives of one evaluation.

    For a one-output program the fields hold that output's figures directly;
    for several outputs each field is a dict keyed by output name.

    Attributes
    ----------
    value : array (batch,) or float
        Per-element values, or their mean / sum when ``reduce`` was asked.
    grad : dict
        Input name -> derivative of the value: an array over the batch for a
        per-element input, a float summed over the batch (averaged with
        ``reduce="mean"``) for a shared input, an array ``(n_steps,)`` for a
        shared step input.  Raw derivatives, in value units per input unit.
    tangent : array or float
        Directional derivative (forward mode) along the given tangents.
    hvp : dict
        Derivative of ``grad`` along the direction: Hessian-vector products.
    stderr, grad_stderr, hvp_stderr :
        Standard errors of the batch mean (``reduce="mean"`` only).
    """

    value: object = None
    grad: dict = field(default_factory=dict)
    tangent: object = None
    hvp: dict = field(default_factory=dict)
    stderr: object = None
    grad_stderr: dict = field(default_factory=dict)
    hvp_stderr: dict = field(default_factory=dict)
    batch: int = 0


def _mean_stderr(s, m2, n, reduce):
    """(sum or mean, standard error of the mean) from a sum and centred sum of squares."""
    if reduce == "sum":
        return float(s), None
    mean = float(s) / n
    if n < 2:
        return mean, float("nan")
    return mean, math.sqrt(max(float(m2), 0.0) / (n - 1) / n)


def _merge_lanes(a, counts):
    """Merge per-lane (sum, centred sum of squares) pairs in lane order (bit-reproducible).

    ``a[lane, ..., 4]`` holds (sum, M2) of two quantities in slots (0, 1), (2, 3).
    """
    out = a[0].copy()
    n = counts[0]
    for i in range(1, a.shape[0]):
        c = counts[i]
        for k in (0, 2):
            delta = a[i, ..., k] / c - out[..., k] / n
            out[..., k + 1] += a[i, ..., k + 1] + delta * delta * (n * c / (n + c))
            out[..., k] += a[i, ..., k]
        n += c
    return out


def collect(prog, mode, reduce, nb, IN, XS, wrt, el_wrt, res_val, res_tan, res_gel,
             res_hel, acc_v, acc_g, acc_x):
    results = {}
    wrt = set(wrt)
    el_at = {n: g for g, n in enumerate(el_wrt)}
    for oi, oname in enumerate(prog.output_names):
        r = Result(batch=nb)
        if reduce:
            r.value, r.stderr = _mean_stderr(acc_v[oi, 0], acc_v[oi, 1], nb, reduce)
            if mode >= 2:
                r.tangent, _ = _mean_stderr(acc_v[oi, 2], acc_v[oi, 3], nb, reduce)
        else:
            r.value = res_val[oi]
            if mode >= 2:
                r.tangent = res_tan[oi]
        if mode & 1:
            for k, n in enumerate(prog.input_names):
                if n not in wrt:
                    continue
                if n in el_at and not reduce:
                    g = el_at[n]
                    r.grad[n] = res_gel[oi, g]
                    if mode == 3:
                        r.hvp[n] = res_hel[oi, g]
                else:
                    red = reduce or "sum"
                    r.grad[n], se = _mean_stderr(acc_g[oi, k, 0], acc_g[oi, k, 1], nb, red)
                    if reduce == "mean":
                        r.grad_stderr[n] = se
                    if mode == 3:
                        r.hvp[n], se = _mean_stderr(acc_g[oi, k, 2], acc_g[oi, k, 3], nb, red)
                        if reduce == "mean":
                            r.hvp_stderr[n] = se
            for k, n in enumerate(prog.step_input_names):
                if n not in wrt:
                    continue
                N = prog._step_len[n]
                div = nb if reduce == "mean" else 1
                r.grad[n] = acc_x[oi, k, :N, 0] / div
                if mode == 3:
                    r.hvp[n] = acc_x[oi, k, :N, 2] / div
                if reduce == "mean":
                    var = np.maximum(acc_x[oi, k, :N, 1], 0.0) / max(nb - 1, 1)
                    r.grad_stderr[n] = np.sqrt(var / nb)
        results[oname] = r
    if prog.single:
        return results[prog.output_names[0]]
    merged = Result(batch=nb)
    for fld in ("value", "grad", "tangent", "hvp", "stderr", "grad_stderr", "hvp_stderr"):
        setattr(merged, fld, {k: getattr(v, fld) for k, v in results.items()})
    return merged


"""Quasi-random normals: scrambled Sobol points with a Brownian bridge, chunk by chunk.

Sobol points come from SciPy (``scipy.stats.qmc.Sobol``: Joe-Kuo direction
numbers for up to 21,201 dimensions -- 3-year daily paths of several assets fit)
with Owen scrambling.  A path of ``n_steps`` steps and ``n_draws`` normals per step
uses ``n_steps * n_draws`` dimensions; the Brownian bridge gives the best
(first) dimensions to the coarse structure of each driving Brownian motion:
dimension ``b * n_draws + d`` drives the ``b``-th bridge point of draw ``d``
(``b = 0``: the terminal value).  The bridge's increments, scaled by their
step length, are standard normals per step, fed to the models in place of
:func:`aadrisk.normal`.

Points are generated in chunks of paths so that memory stays bounded
(``n_steps * n_draws * chunk`` numbers at a time), and randomised QMC gives the
standard error: ``replicates`` independently scrambled sequences, the error
being the spread of their means.

Examples
--------
>>> import numpy as np
>>> bb = BrownianBridge(np.array([0.25, 0.5, 0.75, 1.0]))
>>> z = bb.increments(np.array([[1.0], [0.0], [0.0], [0.0]]))   # only W(T) = 1
>>> np.round(z[:, 0] * np.sqrt(0.25), 6).tolist()                # the increments of W
[0.25, 0.25, 0.25, 0.25]
"""
from __future__ import annotations

import numpy as np

__all__ = ["BrownianBridge", "SobolNormals"]


class BrownianBridge:
    """Brownian bridge on the times ``t_1 < ... < t_N`` (``t_0 = 0``).

    :meth:`increments` maps standard normals ``xi`` (N, m), in bridge order, to the
    standard normal increments ``(W(t_i) - W(t_{i-1})) / sqrt(t_i - t_{i-1})``.
    """

    def __init__(self, times):
        t = np.concatenate([[0.0], np.asarray(times, dtype=float)])
        n = t.size - 1
        if n < 1 or np.any(np.diff(t) <= 0):
            raise ValueError("Brownian bridge times must be increasing and positive")
        self.t, self.n = t, n
        # (point, left, right, weight_left, weight_right, sd) in bridge order
        order = [(n, 0, -1, 0.0, 0.0, np.sqrt(t[n]))]
        queue = [(0, n)]
        while queue:
            nxt = []
            for lo, hi in queue:
                if hi - lo < 2:
                    continue
                m = (lo + hi) // 2
                a, b = t[m] - t[lo], t[hi] - t[m]
                order.append((m, lo, hi, b / (a + b), a / (a + b), np.sqrt(a * b / (a + b))))
                nxt += [(lo, m), (m, hi)]
            queue = nxt
        self.order = order

    def increments(self, xi):
        xi = np.asarray(xi, dtype=float)
        W = np.zeros((self.n + 1,) + xi.shape[1:])
        for k, (m, lo, hi, wl, wr, sd) in enumerate(self.order):
            base = 0.0 if hi < 0 else wl * W[lo] + wr * W[hi]
            W[m] = base + sd * xi[k]
        return np.diff(W, axis=0) / np.sqrt(np.diff(self.t))[:, None]


class SobolNormals:
    """Normals ``(n_steps, n_draws, chunk)`` from a scrambled Sobol sequence, chunk by chunk.

    Parameters
    ----------
    times : step end times (years), for the bridge
    n_draws : normals per step
    seed : scrambling seed (one replicate)
    bridge : bool, use the Brownian bridge (default) or steps in time order
    """

    def __init__(self, times, n_draws: int, seed: int, bridge: bool = True):
        from scipy.stats import qmc   # a well-kept implementation of Sobol (Joe-Kuo numbers)
        self.n_steps, self.n_draws = len(times), int(n_draws)
        dim = self.n_steps * self.n_draws
        if dim > 21201:
            raise ValueError(f"{dim} Sobol dimensions asked; at most 21,201 are available")
        self._sobol = qmc.Sobol(d=dim, scramble=True, seed=seed)
        self._bb = BrownianBridge(times) if bridge else None

    def next(self, chunk: int) -> np.ndarray:
        from scipy.special import ndtri
        u = self._sobol.random(chunk)                      # (chunk, steps * draws)
        xi = ndtri(u).reshape(chunk, self.n_steps, self.n_draws)
        out = np.empty((self.n_steps, self.n_draws, chunk))
        for d in range(self.n_draws):
            x = xi[:, :, d].T                              # (steps, chunk), bridge order
            out[:, d, :] = self._bb.increments(x) if self._bb else x
        return out

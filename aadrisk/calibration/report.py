"""Calibration results: fit report per quote, summary, market-snapshot section, plot."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["CalibrationResult", "merge_models", "plot_fit"]


@dataclass
class CalibrationResult:
    """Outcome of a calibration.

    Attributes
    ----------
    model : ``'heston'``, ``'sabr'``, ``'hull_white'`` or ``'local_vol'``.
    name : underlying (equity) or currency (rates).
    params : dict of the fitted parameters as written to the market snapshot
        (SABR: ``{expiry_iso: {alpha, beta, nu, rho}}``).
    labels, market, model_vals, weights : per quote (vols in decimals).
    groups : per quote, the group it is plotted with (expiry ISO / swaption expiry).
    x_axis : per quote, the plot's x value (strike / tenor in years).
    iterations, seconds, converged, message : solver outcome (``converged`` is the AND
        over sub-problems; ``message`` their distinct messages).
    n_evals : residual + Jacobian evaluations.
    extra : model-specific data (e.g. the state for risk through calibration).
    """

    model: str
    name: str
    params: dict
    labels: list
    market: np.ndarray
    model_vals: np.ndarray
    weights: np.ndarray
    groups: list
    x_axis: np.ndarray
    iterations: int
    seconds: float
    converged: bool
    message: str
    n_evals: int = 0
    vol_unit: str = "vol"
    extra: dict = field(default_factory=dict, repr=False)

    @property
    def errors(self) -> np.ndarray:
        return self.model_vals - self.market

    @property
    def rmse(self) -> float:
        """Root mean square error over quotes with positive weight (vol units, decimals)."""
        m = self.weights > 0
        return float(np.sqrt(np.mean(self.errors[m] ** 2))) if m.any() else float("nan")

    @property
    def max_abs_error(self) -> float:
        m = self.weights > 0
        return float(np.max(np.abs(self.errors[m]))) if m.any() else float("nan")

    def to_frame(self) -> pd.DataFrame:
        """One row per quote: label, group, x, market, model, error, error in vol points
        (bp for normal vols), weight."""
        scale = 1e4 if self.vol_unit == "normal" else 100.0
        return pd.DataFrame({
            "label": self.labels, "group": self.groups, "x": self.x_axis,
            "market": self.market, "model": self.model_vals, "error": self.errors,
            ("error_bp" if self.vol_unit == "normal" else "error_vol_points"):
                self.errors * scale,
            "weight": self.weights})

    def summary(self) -> dict:
        return {"model": self.model, "name": self.name, "n_quotes": len(self.labels),
                "rmse": self.rmse, "max_abs_error": self.max_abs_error,
                "iterations": int(self.iterations), "n_evals": int(self.n_evals),
                "seconds": float(self.seconds), "converged": bool(self.converged),
                "message": self.message}

    def model_section(self) -> dict:
        """``{model: {name: params}}`` for the market snapshot's ``models`` section
        (per-expiry SABR as ``{"expiries": {EXPIRY: params}}``, the parser's layout)."""
        if self.model == "sabr":
            return {self.model: {self.name: {"expiries": self.params}}}
        return {self.model: {self.name: self.params}}


def merge_models(market_raw: dict, section: dict) -> dict:
    """A copy of the market document with ``section`` merged into its ``models``.

    Other models and other underlyings are kept; the calibrated entry replaces the old one.
    """
    out = dict(market_raw)
    inner = out.get("market") if "market" in out and "underlyings" not in out else None
    target = dict(inner) if inner is not None else out
    models = {k: dict(v) for k, v in (target.get("models") or {}).items()}
    for model, per in section.items():
        models.setdefault(model, {}).update(per)
    target["models"] = models
    if inner is not None:
        out["market"] = target
    return out


def plot_fit(result: CalibrationResult, path) -> None:
    """Market against model vols per group (expiry), one panel each, saved to ``path``.

    Needs matplotlib (``pip install 'aadrisk[plot]'``).
    """
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - depends on the environment
        raise RuntimeError("--plot needs matplotlib: pip install 'aadrisk[plot]'") from None
    groups = list(dict.fromkeys(result.groups))
    n = len(groups)
    cols = min(4, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    scale = 1e4 if result.vol_unit == "normal" else 100.0
    unit = "normal vol (bp)" if result.vol_unit == "normal" else "vol (%)"
    g = np.array(result.groups, dtype=object)
    for ax, grp in zip(axes.flat, groups):
        m = g == grp
        order = np.argsort(result.x_axis[m])
        x = result.x_axis[m][order]
        local = result.model == "local_vol"
        ax.plot(x, result.market[m][order] * scale, "o", ms=4,
                label="implied (quotes)" if local else "market")
        ax.plot(x, result.model_vals[m][order] * scale, "-", lw=1.5,
                label="local vol at the quotes" if local else "model")
        ax.set_title(str(grp), fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_ylabel(unit, fontsize=7)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    if result.model == "local_vol":
        title = f"Dupire local vol {result.name} against the implied quotes"
    else:
        title = (f"{result.model} {result.name}: RMSE {result.rmse * scale:.3g} "
                 f"{'bp' if result.vol_unit == 'normal' else 'vol pts'}, "
                 f"{'converged' if result.converged else 'NOT converged'}")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _iso(d):
    return d.isoformat() if isinstance(d, dt.date) else str(d)

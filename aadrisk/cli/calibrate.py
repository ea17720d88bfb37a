"""``aadrisk calibrate``: fit models to market quotes (command module of :mod:`aadrisk.cli`).

Sub-commands ``heston``, ``sabr``, ``local-vol`` and ``hull-white`` read a quote file
(docs/calibration.md) and a market snapshot, fit, print a fit report per quote and
write the market snapshot with the calibrated parameters in its ``models`` section.

Exit status: 0 fitted and converged; 1 the fit did not converge (the report and the
output are still written, the message says so); 2 bad input (a bad quote -- negative or
missing vol, too few strikes in an expiry, calendar or butterfly arbitrage -- named in
the message, or an unusable market / file).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table
from rich.text import Text

from ._app import EXIT_BAD_INPUT, app
from ._app import console as _console
from ._app import error as _error
from ._app import print_table as _print_table

EXIT_NOT_CONVERGED = 1

calibrate = typer.Typer(
    help="Calibrate a model to market quotes and write its parameters into a market snapshot.",
    no_args_is_help=True, rich_markup_mode="markdown")
app.add_typer(calibrate, name="calibrate")

QuotesOpt = Annotated[Path, typer.Option("--quotes", "-q", help="Quote file (JSON, "
                                         "docs/calibration.md).", metavar="FILE",
                                         show_default=False)]
MarketOpt = Annotated[Path, typer.Option("--market", "-m", help="Market snapshot JSON (spot, "
                                         "curves, dividends).", metavar="MARKET",
                                         show_default=False)]
OutOpt = Annotated[Optional[Path], typer.Option(
    "--out", "-o", help="Write the market snapshot with the calibrated parameters merged into "
    "its 'models' section to this file.", metavar="FILE", show_default=False)]
PlotOpt = Annotated[Optional[Path], typer.Option(
    "--plot", help="Draw market against model vols per expiry to this PNG (needs matplotlib).",
    metavar="FILE.png", show_default=False)]
ReportOpt = Annotated[Optional[Path], typer.Option(
    "--report", help="Write the per-quote fit report to this CSV file.", metavar="FILE.csv",
    show_default=False)]
InitOpt = Annotated[Optional[str], typer.Option(
    "--init", help="Initial guess, e.g. 'v0=0.04,kappa=1.5'.", metavar="P=X,...",
    show_default=False)]
BoundsOpt = Annotated[Optional[str], typer.Option(
    "--bounds", help="Parameter bounds, e.g. 'kappa=0.1:10,rho=-0.95:0'.", metavar="P=LO:HI,...",
    show_default=False)]
MaxIterOpt = Annotated[int, typer.Option("--max-iter", help="Iteration cap of the "
                                         "Levenberg-Marquardt solver.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", help="Print only the summary line.")]


def _parse_init(s: Optional[str]) -> dict:
    if not s:
        return {}
    out = {}
    for part in s.split(","):
        if "=" not in part:
            raise ValueError(f"--init {s!r}: expected name=value pairs separated by commas")
        k, v = part.split("=", 1)
        try:
            out[k.strip()] = float(v)
        except ValueError:
            raise ValueError(f"--init: {k.strip()} = {v!r} is not a number") from None
    return out


def _parse_bounds(s: Optional[str]) -> dict:
    if not s:
        return {}
    out = {}
    for part in s.split(","):
        try:
            k, rng = part.split("=", 1)
            lo, hi = rng.split(":", 1)
            out[k.strip()] = (float(lo), float(hi))
        except ValueError:
            raise ValueError(f"--bounds {s!r}: expected name=lo:hi pairs separated by commas") \
                from None
        if not out[k.strip()][0] < out[k.strip()][1]:
            raise ValueError(f"--bounds: {k.strip()} = {rng}: lower must be below upper")
    return out


def _check_names(b: dict, model: str) -> dict:
    names = {"heston": ("v0", "kappa", "theta", "xi", "rho"), "sabr": ("alpha", "nu", "rho"),
             "hull_white": ("a", "sigma")}[model]
    bad = sorted(set(b) - set(names))
    if bad:
        raise ValueError(f"--bounds: unknown {model} parameter(s) {bad}; expected {list(names)}")
    return b


def _load(quotes: Path, market: Path):
    """(quotes, MarketData, raw market document) or exit 2 with the message."""
    from ..calibration.quotes import QuoteError, parse_quotes
    from ..market.snapshot import MarketData, MarketDataError

    err = _console(stderr=True)
    try:
        try:
            raw_m = json.loads(Path(market).read_text())
        except FileNotFoundError:
            raise MarketDataError(f"market file {str(market)!r} not found") from None
        except json.JSONDecodeError as exc:
            raise MarketDataError(f"market file {str(market)!r} is not valid JSON: {exc}") from None
        mkt = MarketData.from_mapping(raw_m)
        try:
            raw_q = json.loads(Path(quotes).read_text())
        except FileNotFoundError:
            raise QuoteError(f"quote file {str(quotes)!r} not found") from None
        except json.JSONDecodeError as exc:
            raise QuoteError(f"quote file {str(quotes)!r} is not valid JSON: {exc}") from None
        q = parse_quotes(raw_q, mkt.valuation_date)
    except (QuoteError, MarketDataError) as exc:
        _error(err, str(exc))
        raise typer.Exit(EXIT_BAD_INPUT) from None
    return q, mkt, raw_m


def _run(fn, what: str, quiet: bool):
    from ..calibration import CalibrationError, QuoteError
    from ..models.local_vol import LocalVolArbitrageError

    err = _console(stderr=True)
    try:
        if quiet:
            return fn()
        with _console(stderr=True).status(f"Calibrating {what} ..."):
            return fn()
    except (QuoteError, CalibrationError, LocalVolArbitrageError, ValueError,
            FloatingPointError) as exc:
        _error(err, str(exc))
        raise typer.Exit(EXIT_BAD_INPUT) from None


def _report_table(res) -> Table:
    normal = res.vol_unit == "normal"
    scale, unit = (1e4, "bp") if normal else (100.0, "%")
    local = res.model == "local_vol"
    table = Table(title=Text(f"{res.model} calibration of {res.name}: {len(res.labels)} quotes"),
                  header_style="bold",
                  caption=("local vol at each quote (its expiry, its strike) next to the implied "
                           "vol" if local else
                           f"vols in {unit}; error = model - market in "
                           f"{'bp' if normal else 'vol points'}"
                           + ("; cap model vol = market + price error / vega" if
                              res.model == "hull_white" and res.groups[0] == "cap" else "")),
                  caption_justify="left")
    for h in ("Quote", "Weight", "Market" if not local else "Implied",
              "Model" if not local else "Local"):
        table.add_column(h, justify="right" if h != "Quote" else "left", no_wrap=True)
    if not local:
        table.add_column("Error", justify="right", no_wrap=True)
    for lab, w, m, v in zip(res.labels, res.weights, res.market, res.model_vals):
        row = [lab, f"{w:g}", f"{m * scale:.3f}", f"{v * scale:.3f}"]
        if not local:
            row.append(f"{(v - m) * scale:+.3f}")
        table.add_row(*[Text(c) for c in row])
    return table


def _params_table(res) -> Table:
    table = Table(title="Parameters", header_style="bold")
    if res.model == "sabr":
        for h in ("Expiry", "alpha", "beta", "nu", "rho"):
            table.add_column(h, justify="right")
        for e, p in res.params.items():
            table.add_row(e, *(f"{p[k]:.6g}" for k in ("alpha", "beta", "nu", "rho")))
    elif res.model == "local_vol":
        lv = res.params["vols"]
        table.add_column("grid")
        table.add_column("min local vol", justify="right")
        table.add_column("max local vol", justify="right")
        import numpy as np
        a = np.array(lv)
        table.add_row(f"{a.shape[0]} times x {a.shape[1]} spots", f"{a.min():.4f}",
                      f"{a.max():.4f}")
    else:
        for k in res.params:
            table.add_column(k, justify="right")
        table.add_row(*(f"{v:.8g}" for v in res.params.values()))
    return table


def _finish(res, raw_market, out, plot, report, quiet):
    from ..calibration.report import merge_models, plot_fit

    con = _console()
    err = _console(stderr=True)
    if not quiet:
        _print_table(con, _report_table(res))
        _print_table(con, _params_table(res))
    s = res.summary()
    unit = "bp" if res.vol_unit == "normal" else "vol pts"
    scale = 1e4 if res.vol_unit == "normal" else 100.0
    line = (f"{res.model} {res.name}: RMSE {s['rmse'] * scale:.4g} {unit}, max |error| "
            f"{s['max_abs_error'] * scale:.4g} {unit}, {s['iterations']} iterations, "
            f"{s['seconds']:.3f} s, converged: {'yes' if s['converged'] else 'NO'} "
            f"({s['message']})")
    if res.model == "local_vol":
        line = f"local_vol {res.name}: {s['message']}, {s['seconds']:.3f} s"
    con.print(line, markup=False, highlight=False, soft_wrap=True)
    try:
        if out is not None:
            doc = merge_models(raw_market, res.model_section())
            Path(out).write_text(json.dumps(doc, indent=2) + "\n")
            if not quiet:
                con.print(f"Wrote the market with models.{res.model}.{res.name} to {out}",
                          markup=False, highlight=False, soft_wrap=True)
        elif not quiet:
            con.print(json.dumps({"models": res.model_section()}, indent=2), markup=False,
                      highlight=False, soft_wrap=True)
        if report is not None:
            res.to_frame().to_csv(report, index=False)
        if plot is not None:
            plot_fit(res, plot)
            if not quiet:
                con.print(f"Plotted the fit to {plot}", markup=False, highlight=False)
    except OSError as exc:
        _error(err, f"cannot write: {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except RuntimeError as exc:          # --plot without matplotlib
        _error(err, str(exc))
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if not res.converged:
        _error(err, f"the {res.model} calibration of {res.name} did not converge: {res.message}")
        raise typer.Exit(EXIT_NOT_CONVERGED)


@calibrate.command("heston")
def heston_cmd(quotes: QuotesOpt, market: MarketOpt, out: OutOpt = None, plot: PlotOpt = None,
               report: ReportOpt = None, init: InitOpt = None, bounds: BoundsOpt = None,
               feller: Annotated[bool, typer.Option("--feller", help="Enforce the Feller "
                                                    "condition 2 kappa theta >= xi^2.")] = False,
               max_iter: MaxIterOpt = 100, quiet: QuietOpt = False) -> None:
    """Fit Heston (v0, kappa, theta, xi, rho) to an implied-vol surface.

    Residuals are Black implied vols of the Heston prices minus the quotes (weighted);
    the Jacobian comes from one AAD sweep over all quotes.

    **Examples**

    ```
    aadrisk calibrate heston -q portfolios/quotes_spx.json -m portfolios/market_full.json
    aadrisk calibrate heston -q portfolios/quotes_spx.json -m portfolios/market_full.json \\
        --out market_cal.json --plot heston.png --feller --init kappa=2,rho=-0.7
    ```
    """
    from ..calibration.heston import calibrate_heston
    q, mkt, raw = _load(quotes, market)
    if not hasattr(q, "underlying"):
        _error(_console(stderr=True), "heston needs a 'vol_surface' quote file")
        raise typer.Exit(EXIT_BAD_INPUT)
    res = _run(lambda: calibrate_heston(q, mkt, x0=_parse_init(init) or None, feller=feller,
                                        bounds=_check_names(_parse_bounds(bounds), "heston"),
                                        max_iter=max_iter), f"Heston on {q.underlying}", quiet)
    _finish(res, raw, out, plot, report, quiet)


@calibrate.command("sabr")
def sabr_cmd(quotes: QuotesOpt, market: MarketOpt, out: OutOpt = None, plot: PlotOpt = None,
             report: ReportOpt = None, init: InitOpt = None, bounds: BoundsOpt = None,
             beta: Annotated[float, typer.Option("--beta", help="Fixed SABR beta in [0, 1].")
                             ] = 1.0,
             max_iter: MaxIterOpt = 100, quiet: QuietOpt = False) -> None:
    """Fit SABR (alpha, nu, rho; beta fixed) per expiry, all expiries in lockstep.

    Writes `models.sabr.<U>.<EXPIRY>` = {alpha, beta, nu, rho} for every expiry.

    **Examples**

    ```
    aadrisk calibrate sabr -q portfolios/quotes_spx.json -m portfolios/market_full.json
    aadrisk calibrate sabr -q portfolios/quotes_spx.json -m portfolios/market_full.json \\
        --out market_cal.json --plot sabr.png
    ```
    """
    from ..calibration.sabr import calibrate_sabr
    q, mkt, raw = _load(quotes, market)
    if not hasattr(q, "underlying"):
        _error(_console(stderr=True), "sabr needs a 'vol_surface' quote file")
        raise typer.Exit(EXIT_BAD_INPUT)
    res = _run(lambda: calibrate_sabr(q, mkt, beta=beta, x0=_parse_init(init) or None,
                                      bounds=_check_names(_parse_bounds(bounds), "sabr"),
                                      max_iter=max_iter), f"SABR on {q.underlying}", quiet)
    _finish(res, raw, out, plot, report, quiet)


@calibrate.command("local-vol")
def local_vol_cmd(quotes: QuotesOpt, market: MarketOpt, out: OutOpt = None,
                  plot: PlotOpt = None, report: ReportOpt = None,
                  times: Annotated[Optional[int], typer.Option(
                      "--times", help="Number of output times (default 2 per expiry).")] = None,
                  spots: Annotated[int, typer.Option("--spots", help="Number of output spot "
                                                     "levels.")] = 41,
                  quiet: QuietOpt = False) -> None:
    """Dupire local vol from an implied-vol grid, after calendar and butterfly checks.

    Writes `models.local_vol.<U>` = {times, spots, vols} (vols[i][j] at times[i], spots[j]).

    **Examples**

    ```
    aadrisk calibrate local-vol -q portfolios/quotes_spx.json -m portfolios/market_full.json \\
        --out market_lv.json --times 24 --spots 61
    ```
    """
    from ..calibration.local_vol import calibrate_local_vol
    q, mkt, raw = _load(quotes, market)
    if not hasattr(q, "underlying"):
        _error(_console(stderr=True), "local-vol needs a 'vol_surface' quote file")
        raise typer.Exit(EXIT_BAD_INPUT)
    res = _run(lambda: calibrate_local_vol(q, mkt, n_times=times, n_spots=spots),
               f"local vol on {q.underlying}", quiet)
    _finish(res, raw, out, plot, report, quiet)


@calibrate.command("hull-white")
def hull_white_cmd(quotes: QuotesOpt, market: MarketOpt, out: OutOpt = None,
                   plot: PlotOpt = None, report: ReportOpt = None, init: InitOpt = None,
                   bounds: BoundsOpt = None, max_iter: MaxIterOpt = 100,
                   quiet: QuietOpt = False) -> None:
    """Fit Hull-White 1F (a, sigma) to swaption (Jamshidian) or cap vols.

    The discount curve is the market's curve of the quotes' currency.

    **Examples**

    ```
    aadrisk calibrate hull-white --quotes portfolios/quotes_usd_swaptions.json \\
        --market portfolios/market_full.json --out market_cal.json --plot hw.png
    ```
    """
    from ..calibration.hull_white import calibrate_hull_white
    q, mkt, raw = _load(quotes, market)
    if not hasattr(q, "currency"):
        _error(_console(stderr=True), "hull-white needs a 'swaption' or 'cap' quote file")
        raise typer.Exit(EXIT_BAD_INPUT)
    res = _run(lambda: calibrate_hull_white(q, mkt, x0=_parse_init(init) or None,
                                            bounds=_check_names(_parse_bounds(bounds),
                                                                "hull_white"),
                                            max_iter=max_iter),
               f"Hull-White on {q.currency} {q.kind}s", quiet)
    _finish(res, raw, out, plot, report, quiet)

"""``aadrisk risk``: the batch risk run of a portfolio (command module of :mod:`aadrisk.cli`).

A thin shell over :mod:`aadrisk.batch`: reads the portfolio (JSON or CSV) and
the market, runs it in chunks (:func:`aadrisk.batch.run.run_batch`) on every
core (or a Dask scheduler), writes the results under ``--out DIR`` and prints
a summary.

Exit status of ``risk``: 0 when every trade was priced, 1 when some trades
failed (the others are still priced and written; the errors file lists the
rest), 2 when the portfolio or market file cannot be used at all.
"""
from __future__ import annotations

import math
import time
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn,
                           TextColumn, TimeElapsedColumn, TimeRemainingColumn)
from rich.table import Table
from rich.text import Text

from ._app import EXIT_BAD_INPUT, EXIT_TRADE_ERRORS, app
from ._app import console as _console
from ._app import error as _error
from ._app import print_table as _print_table

#: books up to this many trades are shown trade by trade
MAX_TABLE_TRADES = 50
#: at most this many errors are printed (all are in the errors file)
MAX_ERRORS_SHOWN = 20

_COLS = (("price", "Price\n(ccy)", "{:,.2f}"),
         ("delta", "Delta\n(dV/dS)", "{:,.3f}"),
         ("gamma", "Gamma\n(d2V/dS2)", "{:,.5f}"),
         ("vega", "Vega\n(ccy/vol pt)", "{:,.2f}"),
         ("theta", "Theta\n(ccy/day)", "{:,.2f}"),
         ("rho", "Rho\n(ccy/bp)", "{:,.2f}"))

_CAPTION = ("Greeks scaled by quantity, from the full labelled Greek vectors summed over "
            "labels: delta = dV/dS (units of underlying), gamma = d2V/dS2, vega = all vol "
            "nodes per vol point (0.01), theta = dV/dt per calendar day (when the engine "
            "gives it), rho = all rate / par-quote labels per basis point. Delta and gamma "
            "add up per underlying only.")


class Format(str, Enum):
    parquet = "parquet"
    csv = "csv"


#: progress bar redraws per second: rich's default (10) costs about 3 % of a core, which
#: on a machine whose cores run the chunks comes out of the chunks; 2 cost about 0.6 %
_REFRESH_HZ = 2


class _Rate(ProgressColumn):
    def render(self, task):
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f} trades/s", style="cyan")


def _fmt(value, spec: str) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else spec.format(value)


def _cells(*values) -> list[Text]:
    return [Text(str(v)) for v in values]


def summary_columns(prices, greeks):
    """Per-trade price, delta, gamma, vega/vol pt, theta/day, rho/bp from the long Greeks."""
    import numpy as np
    import pandas as pd

    g = greeks
    parts = {
        "delta": g[g["greek"] == "delta"].groupby("trade")["value"].sum(),
        "gamma": g[g["greek"] == "gamma"].groupby("trade")["value"].sum(),
        "vega": g[g["greek"] == "vega"].groupby("trade")["value"].sum() * 1e-2,
        "theta": g[g["greek"] == "theta"].groupby("trade")["value"].sum() / 365.0,
        "rho": g[g["greek"].isin(["rate", "par"])].groupby("trade")["value"].sum() * 1e-4,
    }
    out = prices[["trade", "product", "underlying", "currency", "quantity", "price"]].copy()
    for k, s in parts.items():
        out[k] = out["trade"].map(s).astype(float) if len(s) else np.nan
    return pd.DataFrame(out)


def _summary_table(res, book_name: str, *, per_trade: bool) -> Table:
    s = summary_columns(res.prices, res.greeks)
    vd = res.valuation_date.isoformat() if res.valuation_date else "?"
    table = Table(title=Text(f"Risk of book '{book_name}' on {vd}"), caption=_CAPTION,
                  caption_justify="left", header_style="bold")
    for header in ("Trade", "Product", "Underlying", "Ccy", "Quantity"):
        table.add_column(header, no_wrap=True, justify="right" if header == "Quantity"
                         else "left")
    for _, header, _ in _COLS:
        table.add_column(header, justify="right", no_wrap=True)
    if per_trade:
        for row in s.itertuples(index=False):
            q = float(row.quantity)
            qty = f"{q:,.0f}" if q.is_integer() else f"{q:,}"
            table.add_row(*_cells(row.trade, row.product, row.underlying, row.currency, qty,
                                  *(_fmt(getattr(row, c), f) for c, _, f in _COLS)))
        table.add_section()
    if s.empty:
        return table
    cols = [c for c, _, _ in _COLS]
    by_u = s.groupby(["underlying", "currency"], sort=True, dropna=False)
    for (u, ccy), grp in by_u:
        sums = grp[cols].sum(min_count=1)
        table.add_row(*_cells(f"Total {u}", "", u, ccy, f"{len(grp)} trades",
                              *(_fmt(sums[c], f) for c, _, f in _COLS)), style="italic")
    table.add_section()
    for ccy, grp in s.groupby("currency", sort=True, dropna=False):
        sums = grp[cols].sum(min_count=1)
        table.add_row(*_cells(f"TOTAL {ccy}", "", "", ccy, f"{len(grp)} trades",
                              _fmt(sums["price"], "{:,.2f}"), "", "",
                              *(_fmt(sums[c], f) for c, _, f in _COLS[3:])), style="bold")
    return table


def _errors_table(errors, limit: int = MAX_ERRORS_SHOWN) -> Table:
    n = len(errors)
    title = f"{n} trade(s) not priced" + (f" (first {limit} shown)" if n > limit else "")
    table = Table(title=title, header_style="bold red", title_style="bold red")
    for header in ("#", "Trade", "Field", "Value", "Problem"):
        table.add_column(header, overflow="fold")
    for row in errors.head(limit).itertuples(index=False):
        reason = row.message.split(": ", 3)[-1] if ": " in row.message else row.message
        table.add_row(*_cells(row.position, row.trade_id, row.field, row.value, reason))
    return table


def print_errors(err, errors, quiet: bool) -> None:
    if errors.empty:
        return
    if quiet:
        for m in errors["message"].head(MAX_ERRORS_SHOWN):
            err.print(f"error: {m}", markup=False, highlight=False, soft_wrap=True)
        if len(errors) > MAX_ERRORS_SHOWN:
            err.print(f"error: ... {len(errors) - MAX_ERRORS_SHOWN} more (see the errors file)",
                      markup=False, highlight=False, soft_wrap=True)
    else:
        _print_table(err, _errors_table(errors))


def load_inputs(err, book: Path, market: Optional[Path]):
    """(portfolio, market mapping, market file info, read seconds); exit 2 if unusable."""
    from ..batch.portfolio import PortfolioError, canonical_hash, load_market_file, \
        load_portfolio
    from ..market.snapshot import MarketData, MarketDataError

    t0 = time.perf_counter()
    try:
        pf = load_portfolio(book)
        if market is not None:
            raw, sha = load_market_file(market)
            info = {"path": str(market), "sha256": sha}
        elif pf.market is not None:
            raw = pf.market
            info = {"path": f"{book} (embedded)", "sha256": canonical_hash(raw)}
        else:
            raise PortfolioError(f"portfolio {book} has no 'market' section; pass one with "
                                 "--market FILE")
        MarketData.from_mapping(raw)     # a market that is not a market at all: exit 2
    except (PortfolioError, MarketDataError) as exc:
        _error(err, str(exc))
        raise typer.Exit(EXIT_BAD_INPUT) from None
    return pf, raw, info, time.perf_counter() - t0


@app.command()
def risk(
    book: Annotated[Path, typer.Argument(
        help="Portfolio file: JSON (every product) or CSV (vanilla products); "
        "format: docs/batch.md.", metavar="PORTFOLIO", show_default=False)],
    market: Annotated[Optional[Path], typer.Option(
        "--market", "-m", help="Market JSON file; overrides the portfolio's embedded "
        "'market'.", metavar="FILE", show_default=False)] = None,
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", help="Output directory: trades, greeks, zero_greeks, aggregates, "
        "errors (Parquet or CSV), manifest.json, and chunks/ for resuming.",
        metavar="DIR", show_default=False)] = None,
    fmt: Annotated[Format, typer.Option(
        "--format", "-f", help="Format of the result files.")] = Format.parquet,
    chunk_size: Annotated[int, typer.Option(
        "--chunk-size", help="Trades per chunk (one Greek-vector evaluation each; the unit "
        "of parallelism and of resuming).", min=1)] = 5000,
    workers: Annotated[int, typer.Option(
        "--workers", "-w", help="Local worker processes (0: every core; 1: in this "
        "process).", min=0)] = 0,
    scheduler: Annotated[Optional[str], typer.Option(
        "--scheduler", help="Address of a running Dask distributed scheduler, e.g. "
        "tcp://10.0.0.5:8786: the chunks run on its workers.", metavar="ADDRESS",
        show_default=False)] = None,
    greeks: Annotated[str, typer.Option(
        "--greeks", "-g", help="Greek depth written: 'first' (delta, vega, par, ...) or "
        "'second' (also gamma and spot cross-gammas). (Deprecated: a FILE.csv writes the "
        "long Greek vector there, as before.)", metavar="first|second")] = "second",
    fresh: Annotated[bool, typer.Option(
        "--fresh", help="Ignore finished chunks in DIR/chunks (default: resume).")] = False,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="No progress bar and no tables; only errors (on stderr) and "
        "the exit status (for schedulers).")] = False,
) -> None:
    """Price every trade of a portfolio with its full labelled Greek vector.

    Trades are split into chunks (each one batched AAD evaluation per product)
    that run on every local core, or on a Dask cluster with `--scheduler`.
    With `--out DIR` the results are written as Parquet (CSV with `--format
    csv`) with a run manifest; a run killed mid-way and started again resumes
    from its finished chunks. A bad trade never sinks the run: it is listed
    (file, position, trade id, field, value) and the exit status is 1.

    **Examples**

    ```
    aadrisk risk portfolios/demo.json
    aadrisk risk portfolios/demo_full.json --market portfolios/market_full.json
    aadrisk risk portfolios/mixed_1000.json -m portfolios/market_full.json --out run/
    aadrisk risk book.csv -m market.json --out run/ --format csv --greeks first --quiet
    aadrisk risk big.json -m market.json --out run/ --scheduler tcp://10.0.0.5:8786
    ```
    """
    from ..batch.executors import SchedulerError
    from ..batch.run import RunOptions, run_batch

    err = _console(stderr=True)
    legacy_greeks = legacy_out = None
    if greeks not in ("first", "second"):
        if not greeks.lower().endswith(".csv"):
            _error(err, f"--greeks {greeks!r}: expected 'first' or 'second'")
            raise typer.Exit(EXIT_BAD_INPUT)
        legacy_greeks, greeks = Path(greeks), "second"
    if out is not None and out.suffix.lower() == ".csv":
        legacy_out, out = out, None
    if (legacy_greeks or legacy_out) and not quiet:
        err.print("note: '--greeks FILE.csv' and '--out FILE.csv' are deprecated; use "
                  "'--out DIR' (docs/batch.md)", markup=False, highlight=False, soft_wrap=True)
    pf, raw, info, read_s = load_inputs(err, book, market)
    opts = RunOptions(out=out, fmt=fmt.value, chunk_size=chunk_size, workers=workers,
                      scheduler=scheduler, depth=greeks, resume=not fresh)
    n_valid = len(pf.valid_positions)
    progress = None
    if not quiet:
        progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                            MofNCompleteColumn(), TextColumn("trades"), _Rate(),
                            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                            console=err, transient=False, refresh_per_second=_REFRESH_HZ,
                            disable=n_valid <= chunk_size)  # one chunk: no bar
    try:
        if progress is not None:
            with progress:
                task = progress.add_task(f"risk {pf.name}", total=n_valid)
                res = run_batch(pf, raw, opts, market_file=info, read_seconds=read_s,
                                progress=lambda n, _i: progress.advance(task, n))
        else:
            res = run_batch(pf, raw, opts, market_file=info, read_seconds=read_s)
    except SchedulerError as exc:
        _error(err, str(exc))
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except OSError as exc:
        _error(err, f"cannot write the results: {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except Exception as exc:  # noqa: BLE001  (a scheduler that cannot be reached ...)
        _error(err, f"run failed: {type(exc).__name__}: {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None

    try:
        from ..batch.output import write_frame

        if legacy_greeks is not None:
            write_frame(res.greeks.drop(columns="position"), legacy_greeks, "csv")
        if legacy_out is not None:
            write_frame(res.prices.drop(columns="position"), legacy_out, "csv")
    except OSError as exc:
        _error(err, f"cannot write: {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if not quiet:
        con = _console()
        _print_table(con, _summary_table(res, pf.name,
                                         per_trade=len(res.prices) <= MAX_TABLE_TRADES))
        c, t = res.manifest["counts"], res.manifest["timings"]
        where = f"; results in {out}/" if out is not None else ""
        con.print(f"{c['priced']} of {c['trades_in_file']} trade(s) priced, {c['rejected']} "
                  f"rejected, {c['greek_rows']} Greek rows; {c['chunks']} chunk(s) "
                  f"({c['chunks_reused']} reused) in {t['total_s']:.2f} s on "
                  f"{res.manifest['options']['executor']}{where}",
                  markup=False, highlight=False, soft_wrap=True)
    print_errors(err, res.errors, quiet)
    if not res.ok:
        raise typer.Exit(EXIT_TRADE_ERRORS)

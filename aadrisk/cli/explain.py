"""``aadrisk explain``: P&L explain between two market snapshots (command module).

Full-revaluation P&L of every trade against the P&L predicted by its Greeks
(delta, gamma, vega, rates, theta, cross terms), per trade and risk factor,
with the unexplained remainder (:mod:`aadrisk.batch.explain`).

Exit status: 0 all trades explained, 1 some trades could not be priced in one
of the markets (the others are explained), 2 unusable input.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table
from rich.text import Text

from ._app import EXIT_BAD_INPUT, EXIT_TRADE_ERRORS, app
from ._app import console as _console
from ._app import error as _error
from ._app import print_table as _print_table

MAX_TABLE_TRADES = 50
TOP_FACTORS = 12


def _f(x) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:,.2f}"


def _cells(*values):
    return [Text(str(v)) for v in values]


@app.command()
def explain(
    book: Annotated[Path, typer.Argument(help="Portfolio file (JSON or CSV).",
                                         metavar="PORTFOLIO", show_default=False)],
    to: Annotated[Path, typer.Option("--to", help="Market snapshot at the END of the period.",
                                     metavar="MARKET1", show_default=False)],
    frm: Annotated[Optional[Path], typer.Option(
        "--from", help="Market snapshot at the START (default: the portfolio's embedded "
        "market).", metavar="MARKET0", show_default=False)] = None,
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", help="Write explain_trades, explain_factors, explain_by_factor, "
        "explain_totals and explain_errors here.", metavar="DIR", show_default=False)] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="parquet or csv.")] = "parquet",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No tables.")] = False,
) -> None:
    """P&L explain: full revaluation against the Greeks' prediction, per trade and factor.

    actual = V(MARKET1) - V(MARKET0); predicted = delta dS + 1/2 gamma dS^2 + sum of
    first-order Greeks x input moves (vega per node, par quotes, div, model) + spot
    cross-gammas x dS x dX + theta x dt; unexplained = actual - predicted.

    **Examples**

    ```
    aadrisk explain portfolios/demo.json --to portfolios/demo_market.json
    aadrisk explain book.json --from close_t0.json --to close_t1.json --out explain/
    ```
    """
    from ..batch.explain import TERMS, explain_pnl
    from ..batch.output import write_frame
    from .risk import load_inputs, print_errors

    err = _console(stderr=True)
    if fmt not in ("parquet", "csv"):
        _error(err, f"--format {fmt!r}: expected parquet or csv")
        raise typer.Exit(EXIT_BAD_INPUT)
    pf, raw0, _, _ = load_inputs(err, book, frm)
    _, raw1, _, _ = load_inputs(err, book, to)
    try:
        res = explain_pnl([pf.trades[i] for i in pf.valid_positions], raw0, raw1, file=pf.path)
    except Exception as exc:  # noqa: BLE001
        _error(err, f"explain failed: {type(exc).__name__}: {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if out is not None:
        for name, df in (("explain_trades", res.trades), ("explain_factors", res.factors),
                         ("explain_by_factor", res.by_factor), ("explain_totals", res.totals),
                         ("explain_errors", res.errors)):
            write_frame(df.reset_index(drop=True), Path(out) / f"{name}.{fmt}", fmt)
    if not quiet:
        con = _console()
        shown = [t for t in TERMS if t in res.trades and res.trades[t].abs().sum() > 0]
        table = Table(title=Text(f"P&L explain of '{pf.name}': {res.date0} -> {res.date1}"),
                      header_style="bold", caption="actual = full revaluation; predicted = "
                      "sum of the Greek terms; ccy of each trade.", caption_justify="left")
        for h in ("Trade", "Ccy", "Actual", *[t.capitalize() for t in shown], "Predicted",
                  "Unexplained"):
            table.add_column(h, justify="left" if h in ("Trade", "Ccy") else "right",
                             no_wrap=True)
        if len(res.trades) <= MAX_TABLE_TRADES:
            for r in res.trades.itertuples(index=False):
                table.add_row(*_cells(r.trade, r.currency, _f(r.actual),
                                      *[_f(getattr(r, t)) for t in shown], _f(r.predicted),
                                      _f(r.unexplained)))
            table.add_section()
        for r in res.totals.itertuples(index=False):
            table.add_row(*_cells(f"TOTAL {r.currency} ({r.n_trades} trades)", r.currency,
                                  _f(r.actual), *[_f(getattr(r, t)) for t in shown],
                                  _f(r.predicted), _f(r.unexplained)), style="bold")
        _print_table(con, table)
        bf = res.by_factor.assign(a=res.by_factor["contribution"].abs())
        bf = bf.sort_values(["a", "label"], ascending=[False, True]).head(TOP_FACTORS)
        ft = Table(title=f"Largest risk-factor contributions (top {TOP_FACTORS})",
                   header_style="bold")
        for h in ("Label", "Term", "Ccy", "Contribution"):
            ft.add_column(h, justify="right" if h == "Contribution" else "left")
        for r in bf.itertuples(index=False):
            ft.add_row(*_cells(r.label, r.term, r.currency, _f(r.contribution)))
        _print_table(con, ft)
        if res.unmapped:
            con.print(f"note: no input value for label(s) {res.unmapped[:8]}: they contribute "
                      "nothing", markup=False, highlight=False, soft_wrap=True)
        if "theta" not in shown:
            con.print("note: no theta Greeks in this book; time decay is in 'unexplained'",
                      markup=False, highlight=False, soft_wrap=True)
    errs = res.errors
    if not pf.problems == []:
        import pandas as pd
        errs = pd.concat([pd.DataFrame([p.record() for p in pf.problems]), errs],
                         ignore_index=True)
    print_errors(err, errs, quiet)
    if len(errs):
        raise typer.Exit(EXIT_TRADE_ERRORS)

"""``aadrisk risk``: the risk report of a book (command module of :mod:`aadrisk.cli`).

A thin shell over :mod:`aadrisk.risk`: it reads files, calls
:func:`aadrisk.risk.compute_risk` (or :func:`aadrisk.risk.greeks.greek_vectors`)
and prints or writes the report.

Exit status of ``risk``: 0 when every trade was priced, 1 when some trades
failed (the others are still printed and written), 2 when the book or market
file cannot be used at all.
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

#: Report columns shown by ``risk``: (column, header, number format).
_SHOWN = (
    ("price", "Price", "{:,.2f}"),
    ("delta", "Delta", "{:,.3f}"),
    ("gamma", "Gamma", "{:,.5f}"),
    ("vega_per_vol_point", "Vega", "{:,.2f}"),
    ("theta_per_day", "Theta", "{:,.2f}"),
    ("rho_per_bp", "Rho", "{:,.2f}"),
)

_CAPTION = (
    "Greeks scaled by quantity. Delta = dV/dS in units of underlying, gamma = d2V/dS2 per "
    "1 ccy move of spot; vega per vol point (0.01), theta = -dV/dT per calendar day "
    "(1/365 year), rho per basis point (0.0001). Delta and gamma add up per underlying only."
)


def _fmt(value, spec: str) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else spec.format(value)


def _cells(*values) -> list[Text]:
    """Cells shown literally (a trade id like '[b]X' is not rich markup)."""
    return [Text(str(v)) for v in values]


def _risk_table(report, book_name: str) -> Table:
    from ..risk import UNITS

    table = Table(title=Text(f"Risk of book '{book_name}' on "
                             f"{report.valuation_date.isoformat()}"),
                  caption=_CAPTION, caption_justify="left", header_style="bold")
    for header in ("Trade", "Underlying", "Ccy", "Type", "Strike", "Expiry", "Quantity"):
        table.add_column(header, no_wrap=True,
                         justify="right" if header in ("Strike", "Quantity") else "left")
    for col, header, _ in _SHOWN:
        table.add_column(f"{header}\n({UNITS[col]})", justify="right", no_wrap=True)
    t = report.trades
    for row in t.itertuples(index=False):
        qty = f"{row.quantity:,.0f}" if float(row.quantity).is_integer() else f"{row.quantity:,}"
        table.add_row(*_cells(row.trade_id, row.underlying, row.currency, row.option_type,
                              f"{row.strike:,.2f}", row.expiry.isoformat(), qty,
                              *(_fmt(getattr(row, c), f) for c, _, f in _SHOWN)))
    if t.empty:
        return table
    table.add_section()
    for row in report.by_underlying.itertuples(index=False):
        table.add_row(*_cells(f"Total {row.underlying}", row.underlying, row.currency, "", "",
                              "", f"{row.n_trades} trades",
                              *(_fmt(getattr(row, c), f) for c, _, f in _SHOWN)),
                      style="italic")
    table.add_section()
    for ccy, row in report.totals.iterrows():
        table.add_row(*_cells(f"TOTAL {ccy}".strip(), "", ccy, "", "", "",
                              f"{int(row['n_trades'])} trades",
                              *(_fmt(row[c], f) for c, _, f in _SHOWN)), style="bold")
    return table


def _errors_table(report) -> Table:
    table = Table(title=f"{len(report.failed_trade_ids)} trade(s) not priced",
                  header_style="bold red", title_style="bold red")
    for header in ("Trade", "Field", "Value", "Problem"):
        table.add_column(header, overflow="fold")
    for e in report.errors:
        table.add_row(*_cells(e.trade_id, e.field, repr(e.value), e.reason))
    return table


@app.command()
def risk(
    book: Annotated[Path, typer.Argument(help="Book JSON file (format: docs/formats.md).",
                                         metavar="BOOK.json", show_default=False)],
    market: Annotated[Optional[Path], typer.Option(
        "--market", "-m", help="Market JSON file; overrides the book's embedded 'market'.",
        metavar="FILE", show_default=False)] = None,
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", help="Write the per-trade results (all columns) to this CSV file.",
        metavar="FILE.csv", show_default=False)] = None,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="Print no tables; only errors (on stderr) and the exit status.")
    ] = False,
    greeks: Annotated[Optional[Path], typer.Option(
        "--greeks", "-g", help="Full labelled Greek vector mode: read a full market "
        "(curves, vol surfaces; docs/formats.md), price every product and write the long "
        "Greek vector (trade, label, value, unit) to this CSV file.",
        metavar="FILE.csv", show_default=False)] = None,
) -> None:
    """Price a book of European options and show price and Greeks per trade and in total.

    Every trade is priced by Black-Scholes-Merton; all Greeks come from one
    AAD sweep over the whole book. A bad trade (negative strike, unknown
    option type, expired, underlying missing from the market, non-numeric
    quantity ...) is listed in an errors table naming its id, field and
    value; the other trades are still priced, and the exit status is 1.

    **Examples**

    ```
    aadrisk risk portfolios/demo.json
    aadrisk risk portfolios/demo.json --market portfolios/demo_market.json
    aadrisk risk portfolios/demo.json --out risk.csv --quiet
    aadrisk risk portfolios/demo_full.json --market portfolios/market_full.json --greeks g.csv
    ```
    """
    if greeks is not None:
        _risk_greeks(book, market, out, quiet, greeks)
        return
    from ..risk import BookError, MarketError, compute_risk, load_book, load_market

    err = _console(stderr=True)
    try:
        bk = load_book(book)
        mkt = load_market(market) if market is not None else bk.market
    except (BookError, MarketError) as exc:
        _error(err, str(exc))
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if mkt is None:
        _error(err, f"book {book} has no 'market' section; pass one with --market FILE")
        raise typer.Exit(EXIT_BAD_INPUT)

    report = compute_risk(bk.trades, mkt)

    if not quiet:
        _print_table(_console(), _risk_table(report, bk.name))
    if out is not None:
        try:
            report.trades.to_csv(out, index=False)
        except OSError as exc:
            _error(err, f"cannot write {out}: {exc}")
            raise typer.Exit(EXIT_BAD_INPUT) from None
        if not quiet:
            _console().print(f"Wrote {len(report.trades)} trade(s) to {out}", markup=False,
                             highlight=False, soft_wrap=True)
    if report.errors:
        if quiet:
            for e in report.errors:
                err.print(f"error: {e}", markup=False, highlight=False, soft_wrap=True)
        else:
            _print_table(err, _errors_table(report))
        raise typer.Exit(EXIT_TRADE_ERRORS)


def _risk_greeks(book: Path, market: Optional[Path], out: Optional[Path], quiet: bool,
                 greeks: Path) -> None:
    """``risk --greeks``: full labelled Greek vectors (aadrisk.risk.greeks)."""
    from collections.abc import Mapping

    from ..market.snapshot import MarketData, MarketDataError
    from ..risk import BookError
    from ..risk.greeks import greek_vectors
    from ..risk.io import _read_json

    err = _console(stderr=True)
    try:
        doc = _read_json(book, "book")
        if not isinstance(doc, Mapping) or not isinstance(doc.get("trades"), list):
            raise BookError(f"book file {book} must hold a JSON object with a 'trades' list")
        raw = _read_json(market, "market") if market is not None else doc.get("market")
        if raw is None:
            raise BookError(f"book {book} has no 'market' section; pass one with --market FILE")
        mkt = MarketData.from_mapping(raw)
    except (BookError, MarketDataError) as exc:
        _error(err, str(exc))
        raise typer.Exit(EXIT_BAD_INPUT) from None
    report = greek_vectors(doc["trades"], mkt)
    try:
        report.greeks.to_csv(greeks, index=False)
        if out is not None:
            report.prices.to_csv(out, index=False)
    except OSError as exc:
        _error(err, f"cannot write: {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if not quiet:
        name = doc.get("name") or book.name
        table = Table(title=Text(f"Prices of book '{name}' on "
                                 f"{report.valuation_date.isoformat()}"),
                      caption=f"{len(report.greeks)} labelled Greeks written to {greeks}",
                      caption_justify="left", header_style="bold")
        for header in ("Trade", "Product", "Underlying", "Ccy", "Quantity", "Price (ccy)"):
            table.add_column(header, no_wrap=True)
        for row in report.prices.itertuples(index=False):
            table.add_row(*_cells(row.trade, row.product, row.underlying, row.currency,
                                  f"{row.quantity:,}", f"{row.price:,.2f}"))
        _print_table(_console(), table)
    if report.errors:
        if quiet:
            for e in report.errors:
                err.print(f"error: {e}", markup=False, highlight=False, soft_wrap=True)
        else:
            _print_table(err, _errors_table(report))
        raise typer.Exit(EXIT_TRADE_ERRORS)

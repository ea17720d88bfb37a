"""``aadrisk scenarios``: full revaluation under a scenario file; historical VaR and ES.

See :mod:`aadrisk.batch.scenarios` for the scenario file and the VaR / ES
convention (loss positive; VaR = k-th largest loss, ES = mean of the k largest,
k = ceil(n (1 - confidence)); per currency).

Exit status: 0 all fine, 1 some trades could not be priced in some scenario,
2 unusable input (file, scenario naming an unknown label ...).
"""
from __future__ import annotations

import json
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

MAX_SCENARIOS_SHOWN = 20


def _f(x) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:,.2f}"


@app.command()
def scenarios(
    book: Annotated[Path, typer.Argument(help="Portfolio file (JSON or CSV).",
                                         metavar="PORTFOLIO", show_default=False)],
    scenario_file: Annotated[Path, typer.Argument(
        help="Scenario JSON file (docs/batch.md).", metavar="SCENARIOS", show_default=False)],
    market: Annotated[Optional[Path], typer.Option(
        "--market", "-m", help="Base market (default: the portfolio's embedded market).",
        metavar="FILE", show_default=False)] = None,
    confidence: Annotated[Optional[float], typer.Option(
        "--confidence", help="VaR / ES confidence (default: the file's, else 0.99).",
        min=0.5, max=0.9999)] = None,
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", help="Write scenario_pnl (trade x scenario), scenario_book, var, "
        "scenario_errors here.", metavar="DIR", show_default=False)] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="parquet or csv.")] = "parquet",
    workers: Annotated[int, typer.Option(
        "--workers", "-w", help="Local worker processes (0: every core; 1: in this "
        "process).", min=0)] = 0,
    scheduler: Annotated[Optional[str], typer.Option(
        "--scheduler", help="Address of a Dask distributed scheduler to run the scenario "
        "groups on.", metavar="ADDRESS", show_default=False)] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No tables.")] = False,
) -> None:
    """Reprice the book under every scenario; historical-simulation VaR and ES.

    **Examples**

    ```
    aadrisk scenarios portfolios/demo.json portfolios/scenarios_demo.json
    aadrisk scenarios portfolios/mixed_1000.json portfolios/scenarios_full.json \\
        -m portfolios/market_full.json --out scen/
    ```
    """
    from ..batch.executors import SchedulerError
    from ..batch.output import write_frame
    from ..batch.scenarios import ScenarioError, load_scenarios, run_scenarios
    from .risk import load_inputs, print_errors

    err = _console(stderr=True)
    if fmt not in ("parquet", "csv"):
        _error(err, f"--format {fmt!r}: expected parquet or csv")
        raise typer.Exit(EXIT_BAD_INPUT)
    pf, raw, _, _ = load_inputs(err, book, market)
    try:
        doc = json.loads(Path(scenario_file).read_text(encoding="utf-8"))
        scen, settings = load_scenarios(doc)
        if confidence is not None:
            settings["confidence"] = confidence
        res = run_scenarios([pf.trades[i] for i in pf.valid_positions], raw, scen, settings,
                            workers=workers, scheduler=scheduler)
    except FileNotFoundError:
        _error(err, f"scenario file not found: {scenario_file}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except json.JSONDecodeError as exc:
        _error(err, f"scenario file {scenario_file} is not valid JSON: {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except ScenarioError as exc:
        _error(err, f"{scenario_file}: {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except SchedulerError as exc:
        _error(err, str(exc))
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if out is not None:
        for name, df in (("scenario_pnl", res.pnl), ("scenario_book", res.by_scenario),
                         ("var", res.var), ("scenario_errors", res.errors)):
            write_frame(df.reset_index(drop=True), Path(out) / f"{name}.{fmt}", fmt)
    if not quiet:
        con = _console()
        b = res.by_scenario
        piv = b.pivot_table(index="scenario", columns="currency", values="pnl", sort=False)
        named = [s.name for s in scen if not s.historical]
        t = Table(title=Text(f"Scenario P&L of '{pf.name}' (full revaluation)"),
                  header_style="bold")
        t.add_column("Scenario")
        for c in piv.columns:
            t.add_column(f"P&L {c}", justify="right")
        for n in named[:MAX_SCENARIOS_SHOWN]:
            t.add_row(Text(n), *[_f(piv.loc[n, c]) for c in piv.columns])
        if named:
            _print_table(con, t)
        v = Table(title=Text(f"Historical simulation: VaR and ES "
                             f"({res.settings['confidence']:.2%}, {res.settings['horizon']})"),
                  header_style="bold",
                  caption="loss positive; VaR = k-th largest loss, ES = mean of the k largest "
                  "losses, k = ceil(n (1 - confidence)); per currency (no FX)",
                  caption_justify="left")
        for h in ("Ccy", "Scenarios", "k", "VaR", "ES", "Worst scenario", "Sample"):
            v.add_column(h, justify="right" if h in ("Scenarios", "k", "VaR", "ES") else "left")
        for r in res.var.itertuples(index=False):
            v.add_row(*[Text(str(x)) for x in (r.currency, r.n_scenarios, r.k_tail, _f(r.var),
                                               _f(r.es), r.worst_scenario, r.sample)])
        _print_table(con, v)
    errs = res.errors.rename(columns={"scenario": "field"})
    errs["value"] = errs["field"]
    if pf.problems:
        import pandas as pd
        errs = pd.concat([pd.DataFrame([p.record() for p in pf.problems]), errs],
                         ignore_index=True)
    print_errors(err, errs, quiet)
    if len(errs):
        raise typer.Exit(EXIT_TRADE_ERRORS)

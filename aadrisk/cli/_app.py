"""The Typer application shared by the command modules, and small console helpers.

Each command lives in its own module of :mod:`aadrisk.cli` and registers
itself on :data:`app` with ``@app.command()``; :mod:`aadrisk.cli` imports them
all. Exit codes are shared: 0 all fine, 1 some trades or quotes failed (the
rest were still processed), 2 the input could not be used at all.
"""
from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

app = typer.Typer(
    name="aadrisk",
    help="aadrisk: option risk with Greeks from adjoint algorithmic differentiation (AAD).",
    epilog="Run 'aadrisk COMMAND --help' for a command's options and examples.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
)

EXIT_TRADE_ERRORS = 1
EXIT_BAD_INPUT = 2


def console(stderr: bool = False) -> Console:
    """A rich console on stdout (or stderr)."""
    return Console(stderr=stderr)


def print_table(con: Console, table: Table) -> None:
    """Print ``table`` whole: never squeeze numbers into ellipses on a narrow screen.

    If the table is wider than the console, render it at its natural width (the
    terminal wraps long lines; ``| less -S`` scrolls them).
    """
    need = Measurement.get(con, con.options.update_width(10_000), table).maximum
    if need > con.width:
        con = Console(stderr=con.stderr, width=need)
    con.print(table)


def error(con: Console, message: str) -> None:
    """One unwrapped error line on ``con`` (the message is printed literally)."""
    con.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)

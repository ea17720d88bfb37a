"""Command line interface: ``aadrisk <command>``.

A thin shell over the library. Commands (one module each, registered on the
shared Typer :data:`app`):

* ``aadrisk risk BOOK.json [--market FILE] [--out FILE.csv] [--greeks FILE.csv] [--quiet]``
* ``aadrisk version``

Exit status: 0 when everything was processed, 1 when some trades failed (the
others are still printed and written), 2 when an input cannot be used at all.
"""
from __future__ import annotations

import typer

from .. import __version__
from ._app import EXIT_BAD_INPUT, EXIT_TRADE_ERRORS, app
from . import risk as _risk  # noqa: F401  (registers the command)
from . import serve as _serve  # noqa: F401

__all__ = ["app", "EXIT_BAD_INPUT", "EXIT_TRADE_ERRORS"]


@app.command()
def version() -> None:
    """Print the aadrisk version."""
    typer.echo(__version__)


if __name__ == "__main__":  # pragma: no cover
    app()

"""Command line interface: ``aadrisk <command>``.

A thin shell over the library. Commands (one module each, registered on the
shared Typer :data:`app`):

* ``aadrisk risk PORTFOLIO [--market FILE] [--out DIR] [--format] [--chunk-size] [--workers]
  [--scheduler ADDRESS] [--greeks first|second] [--quiet]``
* ``aadrisk explain PORTFOLIO --to MARKET1 [--from MARKET0] [--out DIR]``
* ``aadrisk scenarios PORTFOLIO SCENARIOS [--market FILE] [--out DIR]``
* ``aadrisk calibrate heston|sabr|local-vol|hull-white --quotes FILE --market FILE --out FILE``
* ``aadrisk version``

Exit status: 0 when everything was processed, 1 when some trades failed (the
others are still printed and written), 2 when an input cannot be used at all.
"""
from __future__ import annotations

import typer

from .. import __version__
from ._app import EXIT_BAD_INPUT, EXIT_TRADE_ERRORS, app
from . import risk as _risk  # noqa: F401  (registers the command)
from . import calibrate as _calibrate  # noqa: F401  (registers the command group)
from . import explain as _explain  # noqa: F401  (registers the command)
from . import scenarios as _scenarios  # noqa: F401  (registers the command)
from . import serve as _serve  # noqa: F401

__all__ = ["app", "EXIT_BAD_INPUT", "EXIT_TRADE_ERRORS"]


@app.command()
def version() -> None:
    """Print the aadrisk version."""
    typer.echo(__version__)


if __name__ == "__main__":  # pragma: no cover
    app()

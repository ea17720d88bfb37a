"""``aadrisk serve``: run the HTTP service under uvicorn (command module of :mod:`aadrisk.cli`)."""
from __future__ import annotations

from typing import Annotated, Optional

import typer

from ._app import EXIT_BAD_INPUT, app
from ._app import console as _console
from ._app import error as _error


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on (0.0.0.0: all).")
                    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[Optional[int], typer.Option(
        help="Worker processes (default: AADRISK_WORKERS or 1). Each has its own batcher "
             "and market cache; stored markets are shared through the SQLite file. On "
             "Linux a supervisor forks them after its imports and hands each connection "
             "to the process with the fewest open ones (see service/README.md).",
        show_default=False)] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    access_log: Annotated[bool, typer.Option(help="Log every request (uvicorn's access "
                                                  "log).")] = True,
) -> None:
    """Serve prices and labelled Greek vectors over HTTP (FastAPI, `/v1`; docs at `/docs`).

    Settings come from `AADRISK_*` variables: `AADRISK_API_KEYS` (comma-separated;
    unset: no auth), `AADRISK_DB_PATH` (stored markets, SQLite),
    `AADRISK_BATCH_WINDOW_MS` (0 disables batching), `AADRISK_MAX_BODY_BYTES`,
    `AADRISK_REQUEST_TIMEOUT_S`, `AADRISK_CORS_ORIGINS`, `AADRISK_COMPUTE_THREADS`,
    `AADRISK_KEEP_ALIVE_S`.
    See service/README.md.

    **Examples**

    ```
    aadrisk serve
    aadrisk serve --host 0.0.0.0 --port 8080 --workers 2
    aadrisk serve --workers 4 --no-access-log --log-level warning
    AADRISK_API_KEYS=secret1,secret2 AADRISK_DB_PATH=/data/markets.db aadrisk serve
    curl -s localhost:8000/v1/health
    ```
    """
    import uvicorn

    from service.processes import reuseport_supported
    from service.processes import run as run_processes
    from service.settings import Settings, SettingsError

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        _error(_console(stderr=True), str(exc))
        raise typer.Exit(EXIT_BAD_INPUT) from None
    n = workers if workers is not None else settings.workers
    if n < 1:
        _error(_console(stderr=True), f"--workers must be >= 1, got {n}")
        raise typer.Exit(EXIT_BAD_INPUT)
    options = dict(log_level=log_level, access_log=access_log,
                   timeout_keep_alive=int(settings.keep_alive_s))
    if n > 1 and reuseport_supported():
        try:
            status = run_processes("service.app:app", host=host, port=port, workers=n,
                                   **options)
        except OSError as exc:
            _error(_console(stderr=True), f"cannot listen on {host}:{port}: {exc}")
            raise typer.Exit(EXIT_BAD_INPUT) from None
        raise typer.Exit(status)
    uvicorn.run("service.app:app", host=host, port=port, workers=n, **options)

"""aadrisk HTTP service: batched portfolio prices and labelled Greek vectors over ``/v1``.

Built on the public API of :mod:`aadrisk` only (``MarketData.from_mapping``,
``greek_vectors``, ``GREEK_PRODUCTS``). Entry points:

* :func:`service.app.create_app` -- the FastAPI application factory,
* ``service.app:app`` -- a module-level app configured from ``AADRISK_*`` variables,
* ``aadrisk serve`` -- runs it under uvicorn.

See service/README.md for the endpoints, settings and error model.
"""
from __future__ import annotations

__all__ = ["create_app", "Settings"]


def __getattr__(name):  # lazy: importing the package does not build the app
    if name == "create_app":
        from .app import create_app
        return create_app
    if name == "Settings":
        from .settings import Settings
        return Settings
    raise AttributeError(name)

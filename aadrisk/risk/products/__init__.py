"""Product engines registered with :mod:`aadrisk.risk.registry` (importing registers them).

* :mod:`.equity` -- closed-form and semi-analytic equity options on the full market.
"""
from . import equity  # noqa: F401

__all__ = ["equity"]

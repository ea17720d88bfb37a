"""Product engines registered with :mod:`aadrisk.risk.registry` (importing registers them).

* :mod:`.equity` -- closed-form and semi-analytic equity options on the full market;
* :mod:`.mc` -- Monte Carlo options (``mc_option``: GBM on the surface, Heston).
"""
from . import equity  # noqa: F401
from . import mc  # noqa: F401

__all__ = ["equity", "mc"]

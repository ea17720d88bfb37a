"""Product engines registered with :mod:`aadrisk.risk.registry` (importing registers them).

* :mod:`.equity` -- closed-form and semi-analytic equity options on the full market;
* :mod:`.rates` -- swaps, FRAs, caps/floors, swaptions and fixed-rate bonds on the
  market's bootstrapped curves and rate vols;
* :mod:`.mc` -- Monte Carlo options (``mc_option``: GBM on the surface, Heston, Dupire
  local vol from the surface);
* :mod:`.bermudan` -- Bermudan and European swaptions under Hull-White 1F by
  Longstaff-Schwartz Monte Carlo (``bermudan_swaption``).
"""
from . import bermudan  # noqa: F401
from . import equity  # noqa: F401
from . import mc  # noqa: F401
from . import rates  # noqa: F401

__all__ = ["bermudan", "equity", "mc", "rates"]

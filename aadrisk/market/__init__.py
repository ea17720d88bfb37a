"""Market data: dates, yield curves and their bootstrap, linear rates products, vol surfaces (see the submodules)."""
from .rate_options import CapFloor, RateOptionRisk, Swaption, risk_rate_options  # noqa: E402,F401

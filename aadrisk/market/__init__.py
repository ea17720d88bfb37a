"""Market data: dates, yield curves and their bootstrap, linear rates products, vol surfaces (see the submodules)."""
from .rate_options import CapFloor, RateOptionRisk, Swaption, risk_rate_options  # noqa: E402,F401
from .bonds import (BondRisk, FixedRateBond, bond_yield, price_from_yield,  # noqa: F401
                    risk_bonds, tape_yield)

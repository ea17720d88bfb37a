"""Monte Carlo on the AAD tape: models, path observables, payoffs and pathwise Greeks.

* :mod:`.models` -- GBM (term-structure vol), correlated multi-asset GBM, Heston
  (full-truncation Euler, Andersen QE);
* :mod:`.rates` -- Hull-White one-factor short rate (exact simulation), European and
  Bermudan swaptions;
* :mod:`.path` -- :class:`Path`: the observables a payoff function reads;
* :mod:`.payoffs` -- the built-in payoffs, written as such functions;
* :mod:`.simulate` -- :class:`MonteCarlo`: one recorded program, evaluated over paths.
"""
from .models import GBM, Heston, LocalVol, MultiGBM, local_vol_time_weights
from .path import Path
from .simulate import MonteCarlo, mc_function
from .exotics import phoenix
from .lsm import LongstaffSchwartz
from .rates import BermudanSwaption, HullWhite, swaption_payoff

__all__ = ["BermudanSwaption", "GBM", "Heston", "HullWhite", "LocalVol", "LongstaffSchwartz",
           "MultiGBM", "MonteCarlo", "Path", "local_vol_time_weights", "phoenix",
           "swaption_payoff", "mc_function"]

"""Monte Carlo on the AAD tape: models, path observables, payoffs and pathwise Greeks.

* :mod:`.models` -- GBM (term-structure vol), correlated multi-asset GBM, Heston
  (full-truncation Euler, Andersen QE);
* :mod:`.path` -- :class:`Path`: the observables a payoff function reads;
* :mod:`.payoffs` -- the built-in payoffs, written as such functions;
* :mod:`.simulate` -- :class:`MonteCarlo`: one recorded program, evaluated over paths.
"""
from .models import GBM, Heston, LocalVol, MultiGBM, local_vol_time_weights
from .path import Path
from .simulate import MonteCarlo, mc_function
from .exotics import phoenix
from .lsm import LongstaffSchwartz

__all__ = ["GBM", "Heston", "LocalVol", "LongstaffSchwartz", "MultiGBM", "MonteCarlo", "Path",
           "local_vol_time_weights", "phoenix",
           "mc_function"]

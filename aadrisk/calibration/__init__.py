"""Model calibration: Heston, SABR (per expiry), Hull-White 1F, Dupire local vol.

A home-grown Levenberg-Marquardt (:mod:`.lm`) fed AAD Jacobians (one reverse sweep
of a batched tape), quote files (:mod:`.quotes`), fit reports (:mod:`.report`) and
risk through calibration by the implicit function theorem (:mod:`.risk`).
See docs/calibration.md.
"""
from .lm import LMResult, levenberg_marquardt
from .quotes import QuoteError, load_quotes, parse_quotes
from .report import CalibrationResult, merge_models
from ._common import CalibrationError

__all__ = ["LMResult", "levenberg_marquardt", "QuoteError", "load_quotes", "parse_quotes",
           "CalibrationResult", "merge_models", "CalibrationError"]

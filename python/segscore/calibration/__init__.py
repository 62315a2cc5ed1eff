"""Calibration of probability maps (the rules: :mod:`segscore.calibration.functional`): ECE,
MCE, ACE, Brier score, NLL and reliability diagrams under named conventions, one case at a time
or streamed (:class:`Calibration`), and the reliability plot.

conventions  how each library bins and reduces (CALIBRATION_CONVENTIONS, get_convention)
edges        bin edges in each library's arithmetic
binning      input preparation and the one binning pass (C++ or GPU) with its checks
reliability  Reliability: per-bin sums and every binned metric derived from them
functional   the one-call API: ece, mce, ace, brier, nll, reliability
streaming    Calibration: bin sums accumulated over many cases
plot         the reliability diagram
"""

from .conventions import BINNINGS, CALIBRATION_CONVENTIONS, MODES, NORMS, CalibrationConvention, get_convention
from .functional import ace, brier, ece, mce, nll, reliability
from .reliability import Reliability
from .streaming import Calibration
from .plot import plot_reliability

__all__ = ["BINNINGS", "CALIBRATION_CONVENTIONS", "MODES", "NORMS", "Calibration", "CalibrationConvention",
           "Reliability", "ace", "brier", "ece", "get_convention", "mce", "nll", "plot_reliability", "reliability"]

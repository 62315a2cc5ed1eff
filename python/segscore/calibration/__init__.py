"""Calibration of probability maps (see :mod:`segscore.calibration.functional`): ECE, MCE,
ACE, Brier score, NLL and reliability diagrams under named conventions, one case at a time or
streamed (:class:`Calibration`), and the reliability plot."""

from .functional import (
    BINNINGS,
    CALIBRATION_CONVENTIONS,
    MODES,
    NORMS,
    Calibration,
    CalibrationConvention,
    Reliability,
    ace,
    brier,
    ece,
    get_convention,
    mce,
    nll,
    reliability,
)
from .plot import plot_reliability

__all__ = ["BINNINGS", "CALIBRATION_CONVENTIONS", "MODES", "NORMS", "Calibration", "CalibrationConvention",
           "Reliability", "ace", "brier", "ece", "get_convention", "mce", "nll", "plot_reliability", "reliability"]

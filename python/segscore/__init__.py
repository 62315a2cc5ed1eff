"""segscore: fast, exact, convention-aware metrics for medical image segmentation.

    import segscore as ss
    ss.dice(pred, ref)                       # bool masks -> float; label maps -> {label: float}
    ss.hd95(pred, ref, spacing=(0.8, 0.8, 2.5), convention="deepmind")
    ss.evaluate(pred, ref, spacing=...).to_pandas()
"""

__version__ = "0.1.0"

from ._core.backends import backends
from .metrics.surface.conventions import CONVENTIONS
from .metrics.surface.functional import (
    assd,
    boundary_iou,
    hausdorff,
    hd95,
    masd,
    nsd,
    surface_distances,
    surface_overlap,
)
from .metrics.edt import edt, edt_multilabel
from .metrics.empty import EmptyMaskError
from .app.dataset import score_dataset
from .metrics.evaluate import Result
from .metrics.overlap import confusion, dice, iou, precision, recall, specificity, volume_similarity
from .metrics.surface.distances import SurfaceDistances
from .calibration import Calibration, Reliability, ace, brier, ece, mce, nll, reliability
from .calibration.plot import plot_reliability
from .probabilistic.crps import crps_ensemble, crps_gaussian, volume_crps
from .protocols.curvas2024 import CurvasResult, curvas
from .lesion import LesionResult, component_stats, connected_components, lesion_aggregate, lesionwise
from .lesion.evaluate import evaluate  # ss.evaluate: metrics.evaluate plus the lesionwise= columns
from .lesion.froc import FrocResult, froc
from .probabilistic.multirater import (
    ConsensusMasks,
    MultiRaterResult,
    consensus,
    consensus_dice,
    ged,
    multirater,
    soft_dice,
)

__all__ = [
    "CONVENTIONS", "EmptyMaskError", "Result", "SurfaceDistances", "assd", "backends", "boundary_iou",
    "confusion", "dice", "edt", "edt_multilabel", "evaluate", "hausdorff", "hd95", "iou", "masd", "nsd",
    "precision", "recall", "score_dataset", "specificity", "surface_distances", "surface_overlap", "volume_similarity",
]
__all__ += [
    "ConsensusMasks", "CurvasResult", "MultiRaterResult", "consensus", "consensus_dice", "crps_ensemble",
    "crps_gaussian", "curvas", "ged", "multirater", "soft_dice", "volume_crps",
]
__all__ += ["Calibration", "Reliability", "ace", "brier", "ece", "mce", "nll", "plot_reliability", "reliability"]
__all__ += ["FrocResult", "LesionResult", "component_stats", "connected_components", "froc", "lesion_aggregate",
            "lesionwise"]

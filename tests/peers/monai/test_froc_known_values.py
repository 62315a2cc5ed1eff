"""The values MONAI's own FROC tests publish (tests/metrics/test_compute_froc.py at
Project-MONAI/MONAI bae1f8c), reproduced through ss.froc(convention="monai").

These need no MONAI install: the inputs and expected numbers are MONAI's test fixtures.
Their probabilities are float32 tensors there; float32 arrays here.
"""

from __future__ import annotations

import numpy as np
import pytest

import segscore as ss

MASK = np.array([[0, 0, 1, 1], [2, 2, 0, 0], [0, 3, 3, 0], [0, 3, 3, 3]])
PROBS = np.array([1, 0.6, 0.8], np.float32)

# (case dict, expected fp_probs, expected tp_probs, expected num_targets)
FP_TP = {
    "TEST_CASE_1": ({"probs": PROBS, "coords": np.array([[0, 3], [2, 0], [3, 1]]), "ref": MASK,
                     "labels_to_exclude": [2], "resolution_level": 0}, [0.6], [1, 0, 0.8], 2),
    "TEST_CASE_2": ({"probs": PROBS, "coords": np.array([[0, 3], [2, 0], [3, 1]]), "ref": MASK,
                     "resolution_level": 0}, [0.6], [1, 0, 0.8], 3),
    "TEST_CASE_3": ({"probs": PROBS, "coords": np.array([[0, 6], [4, 0], [6, 2]]), "ref": MASK,
                     "resolution_level": 1}, [0.6], [1, 0, 0.8], 3),
    "TEST_CASE_EXCLUDE_ABSENT": ({"probs": PROBS, "coords": np.array([[0, 3], [2, 0], [3, 1]]), "ref": MASK,
                                  "labels_to_exclude": [5], "resolution_level": 0}, [0.6], [1, 0, 0.8], 3),
    "TEST_CASE_EXCLUDE_DUPLICATE": ({"probs": PROBS, "coords": np.array([[0, 3], [2, 0], [3, 1]]), "ref": MASK,
                                     "labels_to_exclude": [2, 2], "resolution_level": 0}, [0.6], [1, 0, 0.8], 2),
    "TEST_CASE_ND_1": ({"probs": PROBS, "coords": np.array([[0, 3], [2, 0], [3, 1]]), "ref": MASK},
                       [0.6], [1, 0, 0.8], 3),
    "TEST_CASE_ND_2": ({"probs": PROBS, "coords": np.array([[0, 0, 3], [1, 2, 0], [0, 3, 1]]),
                        "ref": np.stack([MASK, MASK])}, [0.6], [1, 0, 0.8], 3),
}


@pytest.mark.parametrize("name", sorted(FP_TP))
def test_fp_tp_probs(name):
    case, fp, tp, n = FP_TP[name]
    r = ss.froc(case)
    np.testing.assert_allclose(r.fp_probs, fp, rtol=1e-5)     # MONAI's test tolerance
    np.testing.assert_allclose(r.tp_probs, tp, rtol=1e-5)
    assert r.num_targets == n and r.num_images == 1
    # exact: the float32 inputs come back unchanged
    np.testing.assert_array_equal(r.fp_probs, np.float32(0.6))
    np.testing.assert_array_equal(r.tp_probs, np.array([1, 0, 0.8], np.float32))


@pytest.mark.parametrize("rates, score", [((0.25, 0.5, 1, 2, 4, 8), 0.95833333), (0.25, 0.75)],
                         ids=["TEST_CASE_4", "TEST_CASE_5"])
def test_froc_score(rates, score):
    case = {"fp_probs": np.array([0.8, 0.6]), "tp_probs": np.array([1, 1, 0, 0, 0.8, 0.8, 0]),
            "num_targets": 4, "num_images": 2}
    r = ss.froc(case, fp_rates=rates)
    assert r.score == pytest.approx(score, rel=1e-5)
    # the curve behind it, by hand: thresholds 0.6, 0.8, 1 then (0, 0)
    np.testing.assert_array_equal(r.thresholds, [0.6, 0.8, 1.0, np.inf])
    np.testing.assert_array_equal(r.fps_per_image, [1.0, 0.5, 0.0, 0.0])
    np.testing.assert_array_equal(r.sensitivity, [1.0, 1.0, 0.5, 0.0])

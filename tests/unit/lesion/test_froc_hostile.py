"""Hostile inputs to ss.froc: every one gives the right number or an error that names the
input and the problem (never a wrapped integer, a sensitivity above 1 or an error from
inside numpy / torch)."""

from __future__ import annotations

import numpy as np
import pytest

import segscore as ss


def _ref():
    ref = np.zeros((8, 8), np.int32)
    ref[1:3, 1:3] = 1
    ref[5:7, 5:7] = 2
    return ref


@pytest.mark.parametrize("excl", [2, np.int64(2), [2], np.array([2])])
def test_labels_to_exclude_may_be_one_integer(excl):
    r = ss.froc({"probs": [0.9], "coords": [[1, 1]], "ref": _ref(), "labels_to_exclude": excl})
    assert r.num_targets == 1 and r.tp_probs.tolist() == pytest.approx([0.9, 0.0])


def test_labels_to_exclude_not_a_list_is_named():
    with pytest.raises(TypeError, match=r"labels_to_exclude.*list of integer labels"):
        ss.froc({"probs": [0.9], "coords": [[1, 1]], "ref": _ref(), "labels_to_exclude": 2.5})


@pytest.mark.parametrize("coords, shown", [
    (np.array([[1e300, 1.0]]), "1e+300"),
    (np.array([[2**63 + 1, 1]], np.uint64), str(2**63 + 1)),
    (np.array([[-1, 1]]), "[-1, 1]"),
    (np.array([[8.0, 0.0]]), "[8, 0]"),
])
def test_out_of_image_coordinates_are_reported_with_their_real_value(coords, shown):
    with pytest.raises(ValueError, match=r"coords'\]\[0\].*lies outside") as e:
        ss.froc({"probs": [0.9], "coords": coords, "ref": _ref()})
    assert shown in str(e.value) and "-9223372036854775" not in str(e.value)


def test_huge_resolution_level_truncates_to_zero_as_the_division_does():
    # MONAI: (coords / 2**level).astype(int); any coordinate over a huge power of two is 0
    r = ss.froc({"probs": [0.9], "coords": [[6, 6]], "ref": _ref(), "resolution_level": 5000})
    assert r.fp_probs.tolist() == [0.9]          # (0, 0) is background
    small = ss.froc({"probs": [0.9], "coords": [[13, 12]], "ref": _ref(), "resolution_level": 1})
    assert small.tp_probs.tolist() == pytest.approx([0.0, 0.9])   # (6, 6): label 2


def test_torch_tensors_with_grad_are_read():
    torch = pytest.importorskip("torch")
    p = torch.tensor([0.9, 0.4], requires_grad=True)
    r = ss.froc({"probs": p, "coords": torch.tensor([[1, 1], [4, 0]]), "ref": torch.from_numpy(_ref())})
    assert r.fp_probs.tolist() == pytest.approx([0.4]) and r.tp_probs.tolist() == pytest.approx([0.9, 0.0])
    r = ss.froc({"fp_probs": torch.tensor([0.2], requires_grad=True), "tp_probs": torch.tensor([0.8]),
                 "num_targets": 1})
    assert r.num_targets == 1


@pytest.mark.parametrize("key", ["coords", "probs"])
def test_ragged_detections_name_the_input(key):
    case = {"probs": [0.9, 0.8], "coords": [[1, 1], [2, 2]], "ref": _ref()}
    case[key] = [[1, 1], [1]] if key == "coords" else [[0.9], 0.8]
    with pytest.raises(ValueError, match=rf"cases\[0\]\['{key}'\] cannot be read as an array"):
        ss.froc(case)


def test_monai_precomputed_more_hits_than_targets_is_refused():
    # three nonzero tp_probs for one target would give a sensitivity of 3
    with pytest.raises(ValueError, match=r"3 nonzero tp_probs but num_targets=1"):
        ss.froc({"fp_probs": [0.1], "tp_probs": [0.9, 0.8, 0.7], "num_targets": 1})
    # zeros (missed or excluded labels) may outnumber the targets, as MONAI returns them
    r = ss.froc({"fp_probs": [0.1], "tp_probs": [0.9, 0.0, 0.0], "num_targets": 1})
    assert r.sensitivity.max() <= 1.0


def test_all_ties_and_probabilities_0_and_1():
    r = ss.froc({"fp_probs": [0.5] * 5, "tp_probs": [0.5] * 3, "num_targets": 3})
    assert r.score == 0.0                      # MONAI drops the lowest (only) value: no threshold left
    r = ss.froc({"fp_probs": [0.0, 1.0], "tp_probs": [0.0, 1.0, 1.0], "num_targets": 3})
    assert r.fps_per_image.tolist() == [1.0, 0.0] and r.sensitivity.tolist() == pytest.approx([2 / 3, 0.0])

"""Bad input: a ValueError / TypeError whose message says what was wrong,
raised at the API boundary before any C++ runs (the `no_cpp` fixture makes
any call into segscore._cpu fail the test)."""

import numpy as np
import pytest

import segscore as ss

M = np.zeros((6, 7), bool)
M[2:4, 2:5] = True
L = M.astype(np.int32) * 3
CONVENTIONS = "deepmind.*medpy.*metricsreloaded.*monai.*panoptica.*segscore"

# (id, call, exception type, regex the message must match)
CASES = [
    # shapes, rank
    ("shape", lambda: ss.dice(M, M[:5]), ValueError, r"shape \(6, 7\).*shape \(5, 7\).*must match"),
    ("shape-surface", lambda: ss.hd95(M, M[:, :6]), ValueError, r"shape .*must match"),
    ("shape-batch", lambda: ss.evaluate(M[None], M), ValueError, r"never guesses a batch or one-hot channel axis"),
    ("shape-onehot", lambda: ss.evaluate(np.stack([~M, M]), L), ValueError, r"shape \(2, 6, 7\)"),
    ("0d", lambda: ss.dice(np.array(True), np.array(True)), ValueError, r"0-d array.*at least one axis"),
    ("0d-surface", lambda: ss.surface_distances(np.array(1), np.array(1)), ValueError, r"pred is a 0-d array"),
    ("0d-edt", lambda: ss.edt(np.array(1.0)), ValueError, r"0-d"),
    # spacing
    ("spacing-len", lambda: ss.hd95(M, M, spacing=(1, 2, 3)), ValueError, r"spacing has 3 values.*2 axes"),
    ("spacing-len-eval", lambda: ss.evaluate(L, L, spacing=(1,)), ValueError, r"spacing has 1 values.*2 axes"),
    ("spacing-zero", lambda: ss.hd95(M, M, spacing=(0, 1)), ValueError, r"spacing must be finite and > 0"),
    ("spacing-negative", lambda: ss.evaluate(M, M, spacing=(-1, 1)), ValueError, r"spacing must be finite and > 0"),
    ("spacing-scalar-zero", lambda: ss.nsd(M, M, 1.0, spacing=0), ValueError, r"spacing must be finite and > 0"),
    ("spacing-nan", lambda: ss.assd(M, M, spacing=(np.nan, 1)), ValueError, r"spacing must be finite"),
    ("spacing-inf", lambda: ss.hausdorff(M, M, spacing=(1, np.inf)), ValueError, r"spacing must be finite"),
    ("spacing-str", lambda: ss.hd95(M, M, spacing="ab"), TypeError, r"spacing must be a sequence of 2"),
    ("spacing-edt", lambda: ss.edt(M, spacing=(1,)), ValueError, r"spacing has 1 values"),
    ("spacing-edt-neg", lambda: ss.edt(M, spacing=(1, -1)), ValueError, r"spacing must be finite and > 0"),
    # dtypes
    ("float-maps", lambda: ss.dice(M.astype(float), M.astype(float)), TypeError,
     r"pred has dtype float64.*integer label map or a bool mask.*Threshold"),
    ("float-ref", lambda: ss.evaluate(L, L.astype(np.float32)), TypeError, r"ref has dtype float32"),
    ("float-surface", lambda: ss.hd95(L.astype(np.float16), L), TypeError, r"dtype float16"),
    ("complex", lambda: ss.dice(M.astype(complex), M.astype(complex)), TypeError, r"complex128"),
    ("object", lambda: ss.dice(np.array([None, 1]), np.array([None, 1])), TypeError, r"dtype object"),
    ("float-multilabel-edt", lambda: ss.edt_multilabel(M.astype(float)), TypeError, r"dtype float64"),
    ("str-edt", lambda: ss.edt(np.array(["a", "b"])), TypeError, r"unsupported dtype"),
    ("bool-and-int", lambda: ss.evaluate(M, L), TypeError, r"pred has dtype bool but ref has dtype int32.*both"),
    ("int-and-bool", lambda: ss.hd95(L, M), TypeError, r"dtype int32 but ref has dtype bool"),
    # names
    ("convention", lambda: ss.hd95(M, M, convention="nonexistent"), ValueError,
     r"unknown convention 'nonexistent'.*" + CONVENTIONS),
    ("convention-eval", lambda: ss.evaluate(M, M, convention="MONAI"), ValueError, r"unknown convention 'MONAI'"),
    ("convention-dice", lambda: ss.dice(M, M, convention="torchmetrics"), ValueError, r"unknown convention"),
    ("metric", lambda: ss.evaluate(M, M, metrics=["dice", "hd96x"]), ValueError, r"unknown metric 'hd96x'.*known"),
    ("metric-2", lambda: ss.evaluate(M, M, metrics="foo"), ValueError, r"unknown metric 'foo'"),
    ("metric-type", lambda: ss.evaluate(M, M, metrics=[95]), TypeError, r"metric names must be strings"),
    # metric not defined by the convention: names the conventions that define it
    ("nsd-medpy", lambda: ss.nsd(M, M, 1.0, convention="medpy"), ValueError,
     r"'medpy'.*does not define NSD.*\['deepmind', 'metricsreloaded', 'monai', 'monai-subvoxels', 'panoptica', "
     r"'segscore'\]"),
    ("nsd-medpy-eval", lambda: ss.evaluate(M, M, metrics=["nsd@1"], convention="medpy"), ValueError,
     r"does not define NSD; conventions that do"),
    ("overlap-medpy", lambda: ss.surface_overlap(M, M, 1.0, convention="medpy"), ValueError,
     r"does not define surface overlap"),
    ("biou-monai", lambda: ss.boundary_iou(M, M, convention="monai"), ValueError,
     r"'monai'.*does not define boundary IoU.*\['metricsreloaded', 'segscore'\]"),
    ("biou-monai-eval", lambda: ss.evaluate(M, M, metrics=["biou@2"], convention="monai"), ValueError,
     r"does not define boundary IoU"),
    ("biou-deepmind", lambda: ss.boundary_iou(M, M, convention="deepmind"), ValueError, r"does not define boundary"),
    ("hd95-subvoxels", lambda: ss.hd95(M, M, convention="monai-subvoxels"), ValueError,
     r"'monai-subvoxels'.*does not define hd95.*\['deepmind', 'medpy', 'metricsreloaded', 'monai', 'panoptica'"),
    ("hd-subvoxels-eval", lambda: ss.evaluate(M, M, metrics=["hd"], convention="monai-subvoxels"), ValueError,
     r"does not define hd"),
    ("assd-subvoxels", lambda: ss.assd(M, M, convention="monai-subvoxels"), ValueError, r"does not define assd"),
    ("masd-monai", lambda: ss.masd(M, M, convention="monai"), ValueError,
     r"'monai'.*does not define masd.*\['deepmind', 'metricsreloaded', 'panoptica', 'segscore'\]"),
    ("masd-medpy-eval", lambda: ss.evaluate(M, M, metrics=["masd"], convention="medpy"), ValueError,
     r"does not define masd"),
    ("deepmind-1d", lambda: ss.hd95(M[0], M[0], convention="deepmind"), ValueError, r"supports 2-D, 3-D.*got 1-D"),
    ("deepmind-4d", lambda: ss.evaluate(M[None, None], M[None, None], convention="deepmind"), ValueError,
     r"got 4-D"),
    ("subvoxels-1d", lambda: ss.nsd(M[0], M[0], 1.0, convention="monai-subvoxels"), ValueError, r"got 1-D"),
    ("connectivity-fixed", lambda: ss.hd95(M, M, convention="deepmind", connectivity=2), ValueError,
     r"connectivity= is an option of the medpy and panoptica conventions"),
    ("connectivity-range", lambda: ss.hd95(M, M, convention="medpy", connectivity=3), ValueError,
     r"connectivity must be an integer in \[1, 2\]"),
    ("connectivity-eval", lambda: ss.evaluate(M, M, convention="monai", connectivity=2), ValueError,
     r"connectivity= is an option"),
    # percentiles
    ("percentile-101", lambda: ss.hausdorff(M, M, percentile=101), ValueError, r"percentile must lie in \[0, 100\]"),
    ("percentile-neg", lambda: ss.hausdorff(M, M, percentile=-1), ValueError, r"percentile must lie in \[0, 100\]"),
    ("percentile-nan", lambda: ss.hausdorff(M, M, percentile=float("nan")), ValueError, r"percentile"),
    ("percentile-str", lambda: ss.hausdorff(M, M, percentile="x"), TypeError, r"percentile must be a number"),
    ("percentile-eval", lambda: ss.evaluate(M, M, metrics=["hd101"]), ValueError, r"'hd101'.*\[0, 100\]"),
    # tolerances
    ("tolerance-neg", lambda: ss.nsd(M, M, -1.0), ValueError, r"tolerance must be finite and >= 0"),
    ("tolerance-nan", lambda: ss.nsd(M, M, float("nan")), ValueError, r"tolerance must be finite"),
    ("tolerance-inf", lambda: ss.surface_overlap(M, M, float("inf")), ValueError, r"tolerance must be finite"),
    ("tolerance-str", lambda: ss.nsd(M, M, "a"), TypeError, r"tolerance must be a number"),
    ("tolerance-missing", lambda: ss.nsd(M, M), ValueError, r"'segscore' has no default NSD tolerance.*tolerance="),
    ("tolerance-missing-dm", lambda: ss.surface_overlap(M, M, convention="deepmind"), ValueError,
     r"no default NSD tolerance"),
    ("tolerance-eval", lambda: ss.evaluate(M, M, tolerance=-1), ValueError, r"tolerance must be finite and >= 0"),
    ("tolerance-eval-str", lambda: ss.evaluate(M, M, tolerance="1"), TypeError, r"tolerance must be a number"),
    ("tolerance-eval-name", lambda: ss.evaluate(M, M, metrics=["nsd@abc"]), ValueError,
     r"'nsd@abc'.*not a number.*nsd@2"),
    ("tolerance-eval-missing", lambda: ss.evaluate(M, M, metrics=["nsd"]), ValueError,
     r"'nsd' needs a tolerance.*tolerance=.*nsd@<mm>"),
    ("biou-width", lambda: ss.boundary_iou(M, M, width=-1), ValueError, r"width must be finite and >= 0"),
    ("biou-width-str", lambda: ss.boundary_iou(M, M, width="1"), TypeError, r"width must be a number"),
    # threads
    ("threads-0", lambda: ss.dice(M, M, threads=0), ValueError, r"threads must be a positive integer"),
    ("threads-neg", lambda: ss.evaluate(M, M, threads=-2), ValueError, r"threads must be a positive integer"),
    ("threads-float", lambda: ss.evaluate(M, M, threads=1.5), (ValueError, TypeError), r"threads.*1\.5"),
    ("threads-str", lambda: ss.hd95(M, M, threads="2"), (ValueError, TypeError), r"threads must be a positive"),
    ("threads-bool", lambda: ss.hd95(M, M, threads=True), (ValueError, TypeError), r"threads"),
    ("threads-edt", lambda: ss.edt(M, threads=0), ValueError, r"threads must be a positive integer"),
    # labels, ignore_label
    ("label-negative", lambda: ss.dice(L, L, labels=[-1]), ValueError, r"labels=-1 is outside \[0, 2\*\*31\)"),
    ("label-too-big", lambda: ss.dice(L, L, labels=[2**31]), ValueError, r"outside \[0, 2\*\*31\)"),
    ("label-float", lambda: ss.dice(L, L, labels=[1.5]), TypeError, r"must be an integer label, got 1.5"),
    ("label-zero", lambda: ss.dice(L, L, labels=[0]), ValueError, r"contains 0, the background"),
    ("label-region-zero", lambda: ss.evaluate(L, L, labels={"WT": (0, 3)}), ValueError, r"'WT' contains 0"),
    ("label-region-empty", lambda: ss.evaluate(L, L, labels={"WT": ()}), ValueError, r"at least one label"),
    ("label-and-labels", lambda: ss.dice(L, L, label=3, labels=[3]), ValueError, r"either label=.*or labels="),
    ("label-on-mask", lambda: ss.hd95(M, M, label=1), ValueError, r"label= applies to integer label maps"),
    ("ignore-on-mask", lambda: ss.dice(M, M, ignore_label=1), ValueError, r"ignore_label applies to label maps"),
    ("ignore-negative", lambda: ss.evaluate(L, L, ignore_label=-1), ValueError, r"ignore_label=-1 is outside"),
    ("ignore-in-region", lambda: ss.evaluate(L, L, labels=[(2, 3)], ignore_label=3), ValueError,
     r"contains the ignore_label 3"),
    # empty policies
    ("empty-case", lambda: ss.dice(M, M, empty={"dice": {"refx": 1}}), ValueError, r"unknown cases \['refx'\]"),
    ("empty-value", lambda: ss.evaluate(M, M, empty={"hd95": {"ref": "worse"}}), ValueError,
     r"unknown value 'worse'; use nan, inf, 0, 1, a number, 'worst' or 'error'"),
    ("empty-value-hd", lambda: ss.hd95(M, M, empty={"hd95": {"ref": "worse"}}), ValueError, r"unknown value"),
    ("empty-type", lambda: ss.hd95(M, M, empty={"hd95": [1]}), ValueError, r"must be a number or a string"),
    ("empty-key", lambda: ss.dice(M, M, empty={3: "nan"}), ValueError, r"keys must be metric names"),
    # edt options
    ("edt-dtype", lambda: ss.edt(M, dtype="float16"), ValueError, r"dtype must be 'float32' or 'float64'"),
    ("edt-nan", lambda: ss.edt(np.array([1.0, np.nan, 0.0])), ValueError, r"contains NaN"),
    ("edt-multilabel-bool-and-float", lambda: ss.edt_multilabel(np.array([0.5, 1.0])), TypeError, r"float64"),
]


@pytest.mark.parametrize("call,exc,pattern", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_rejected_before_any_cpp(no_cpp, call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


def test_no_cpp_fixture_really_blocks_the_core(no_cpp):
    with pytest.raises(AssertionError, match="C\\+\\+ core was called"):
        ss.dice(M, M)


def test_label_values_out_of_range_raise_after_the_counting_pass():
    """Label values are only known after reading the data (no np.unique):
    the single counting pass reports them, nothing else runs."""
    p = L.astype(np.int64)
    p[0, 0] = -5
    with pytest.raises(ValueError, match=r"pred contains negative label -5; labels must lie in \[0, 2\*\*31\)"):
        ss.evaluate(p, L, metrics=["hd95"])
    r = L.astype(np.uint64)
    r[0, 0] = 2**31
    with pytest.raises(ValueError, match=r"ref contains label 2147483648 >= 2\*\*31"):
        ss.hd95(L.astype(np.uint64), r)


def test_valid_inputs_still_pass():
    """The checks above reject nothing legitimate."""
    assert ss.dice([[True, False]], [[True, True]]) == pytest.approx(2 / 3)
    assert ss.hd95(M, M, spacing=2) == 0.0
    assert ss.hd95(M, M, spacing=np.array([0.5, 2.0]), threads=1) == 0.0
    assert ss.nsd(M, M, 0) == 1.0
    assert ss.nsd(M, M, np.float32(1.5)) == 1.0
    assert ss.evaluate(L, L, metrics=["HD95", " dice "]).columns == ["hd95", "dice"]
    assert ss.evaluate(M, M, convention="panoptica", metrics=["nsd"]).columns == ["nsd@1"]
    assert ss.hausdorff(M, M, percentile=np.float64(99.5)) == 0.0

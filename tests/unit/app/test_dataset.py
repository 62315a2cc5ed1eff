"""Dataset scoring in-process: I/O, pairing, scorers, journal, summaries, ss.score_dataset."""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import segscore as ss
from segscore.app import io as sio
from segscore.app.io import CaseError, case_id, read_image, write_nifti

SPACING = (0.8, 0.8, 2.5)


def test_importable_without_io_stack():
    code = ("import sys\n"
            "for m in ('nibabel', 'pandas', 'matplotlib', 'SimpleITK', 'distributed', 'pyarrow'):\n"
            "    sys.modules[m] = None\n"
            "import segscore, segscore.app.dataset, segscore.app.io, segscore.app.cli\n"
            "assert callable(segscore.score_dataset)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("name, cid", [
    ("case_001.nii.gz", "case_001"), ("case_001_0000.nii.gz", "case_001"), ("a b ü.nii", "a b ü"),
    ("x.NII.GZ", "x"), ("liver_7.nrrd", "liver_7"), ("liver_7.mha", "liver_7"), ("notes.txt", None),
    ("case_0001.nii.gz", "case_0001"), (".nii.gz", None),
])
def test_case_id(name, cid):
    assert case_id(name) == cid


nib = pytest.importorskip("nibabel")
pd = pytest.importorskip("pandas")


def _blobs(shape=(24, 20, 16), seed=0):
    rng = np.random.default_rng(seed)
    a = np.zeros(shape, np.uint8)
    for k in (1, 2, 3):
        c = rng.integers(4, np.array(shape) - 4)
        a[c[0] - 3:c[0] + 3, c[1] - 2:c[1] + 3, c[2] - 2:c[2] + 2] = k
    return a


def test_read_nifti_as_stored(tmp_path):
    a = _blobs()
    aff = np.diag([-0.8, -0.8, 2.5, 1.0])
    aff[:3, 3] = [10, 20, -30]
    write_nifti(tmp_path / "a.nii.gz", a, SPACING, aff)
    img = read_image(tmp_path / "a.nii.gz")
    assert img.array.dtype == np.uint8 and np.array_equal(img.array, a)
    assert img.spacing == pytest.approx(SPACING) and np.allclose(img.affine, aff)
    # nibabel reads the same
    ref = nib.load(str(tmp_path / "a.nii.gz"))
    assert np.array_equal(np.asanyarray(ref.dataobj), img.array) and np.allclose(ref.affine, img.affine)
    # written by nibabel itself, int16 with a (x, y, z, 1) shape, uncompressed
    nib.save(nib.Nifti1Image(a.astype(np.int16)[..., None], aff), str(tmp_path / "b.nii"))
    b = read_image(tmp_path / "b.nii")
    assert b.array.dtype == np.int16 and b.array.shape == a.shape and np.array_equal(b.array, a)
    # big-endian data
    hdr = nib.Nifti1Header(endianness=">")
    nib.save(nib.Nifti1Image(a.astype(">i2"), aff, hdr), str(tmp_path / "c.nii.gz"))
    c = read_image(tmp_path / "c.nii.gz")
    assert c.array.dtype.isnative and np.array_equal(c.array, a)


def test_float_label_maps(tmp_path):
    a = _blobs()
    nib.save(nib.Nifti1Image(a.astype(np.float32), np.eye(4)), str(tmp_path / "f.nii.gz"))
    img = read_image(tmp_path / "f.nii.gz")
    assert img.array.dtype == np.uint8 and np.array_equal(img.array, a)
    bad = a.astype(np.float32)
    bad[0, 0, 0] = 0.5
    nib.save(nib.Nifti1Image(bad, np.eye(4)), str(tmp_path / "g.nii.gz"))
    with pytest.raises(CaseError, match="non-integer"):
        read_image(tmp_path / "g.nii.gz")


def test_corrupt_files(tmp_path):
    write_nifti(tmp_path / "a.nii.gz", _blobs(), SPACING)
    data = (tmp_path / "a.nii.gz").read_bytes()
    (tmp_path / "t.nii.gz").write_bytes(data[: len(data) - 40])
    with pytest.raises(CaseError, match="gzip") as e:
        read_image(tmp_path / "t.nii.gz")
    assert e.value.stage == "read"
    (tmp_path / "n.nii.gz").write_bytes(b"not gzip at all" * 30)
    with pytest.raises(CaseError, match="gzip"):
        read_image(tmp_path / "n.nii.gz")
    (tmp_path / "h.nii").write_bytes(b"\0" * 400)
    with pytest.raises(CaseError, match="NIfTI"):
        read_image(tmp_path / "h.nii")
    raw = sio.gunzip(data)
    (tmp_path / "s.nii").write_bytes(raw[:-100])
    with pytest.raises(CaseError, match="truncated image data"):
        read_image(tmp_path / "s.nii")
    with pytest.raises(CaseError) as e:
        read_image(tmp_path / "missing.nii.gz")
    assert e.value.stage == "missing"


def test_itk_formats_match_nifti(tmp_path):
    sitk = pytest.importorskip("SimpleITK")
    a = _blobs()
    aff = np.diag([-0.8, -0.8, 2.5, 1.0])
    aff[:3, 3] = [10, 20, -30]
    write_nifti(tmp_path / "a.nii.gz", a, SPACING, aff)
    im = sitk.ReadImage(str(tmp_path / "a.nii.gz"))
    for ext in (".nrrd", ".mha"):
        sitk.WriteImage(im, str(tmp_path / ("a" + ext)), True)
        img = read_image(tmp_path / ("a" + ext))
        assert np.array_equal(img.array, a) and img.spacing == pytest.approx(SPACING)
        assert np.allclose(img.affine, aff, atol=1e-5)
    nii = read_image(tmp_path / "a.nii.gz")
    sio.check_geometry(nii, read_image(tmp_path / "a.nrrd"), "prediction")


def _dataset(root, n=3, seed=0):
    for d in ("pred", "ref"):
        os.makedirs(root / d, exist_ok=True)
    for i in range(n):
        r = _blobs(seed=seed + i)
        p = np.roll(r, 1, axis=i % 3)
        write_nifti(root / "ref" / f"c{i}.nii.gz", r, SPACING)
        write_nifti(root / "pred" / f"c{i}_0000.nii.gz", p, SPACING)
    return root / "pred", root / "ref"


def test_score_dataset_api(tmp_path):
    pred, ref = _dataset(tmp_path)
    res = ss.score_dataset(pred, ref, output=tmp_path / "out" / "r.csv", quiet=True, plots=False, seed=1)
    assert res.exit_code == 0 and res.n_failed == 0
    t = res.table
    assert list(t["case"].unique()) == ["c0", "c1", "c2"]
    ri = read_image(ref / "c1.nii.gz")
    p = read_image(pred / "c1_0000.nii.gz").array
    exp = ss.evaluate(p, ri.array, spacing=ri.spacing).to_pandas()  # the header's (float32) spacing
    got = t[t["case"] == "c1"].set_index("label")[list(exp.columns)]
    pd.testing.assert_frame_equal(got, exp, check_dtype=False, check_exact=True)
    assert res.info["device"] == "cpu"
    assert set(res.timing) >= {"read_s", "decode_s", "compute_s", "write_s", "wall_s"}
    s = res.summary
    assert set(s["metric"]) >= {"dice", "hd95"} and "tp" not in set(s["metric"])
    # the written CSV round-trips exactly
    back = pd.read_csv(tmp_path / "out" / "r.csv")
    pd.testing.assert_frame_equal(back, t, check_dtype=False)


def test_custom_scorer_plugs_in(tmp_path):
    from segscore.app.scorers import ScorerOutput

    class VoxelCount:
        name = "voxels"

        def __call__(self, case, cfg):
            return ScorerOutput(rows={("ref", 1): {"n_voxels": int(case.ref.array.size)}})

    pred, ref = _dataset(tmp_path, n=2)
    from segscore.app.scorers import MetricsScorer

    res = ss.score_dataset(pred, ref, output=tmp_path / "r.csv", quiet=True, plots=False, report=False,
                           scorers=[MetricsScorer(), VoxelCount()])
    t = res.table.set_index(["case", "label"])
    assert t.loc[("c0", 1), "n_voxels"] == 24 * 20 * 16
    assert math.isnan(t.loc[("c0", 2), "n_voxels"])


def test_journal_is_source_of_truth(tmp_path):
    from segscore.app.journal import read_journal

    pred, ref = _dataset(tmp_path, n=3)
    out = tmp_path / "r.parquet"
    ss.score_dataset(pred, ref, output=out, quiet=True, plots=False, report=False)
    j = tmp_path / "r.journal.jsonl"
    lines = j.read_bytes().split(b"\n")
    assert json.loads(lines[0])["segscore_journal"] == 1
    # drop the last case and cut a line in half: resume redoes exactly that case
    j.write_bytes(b"\n".join(lines[:3]) + b"\n" + lines[3][:25])
    header, recs, good = read_journal(str(j))
    assert set(recs) == {"c0", "c1"}
    res = ss.score_dataset(pred, ref, output=out, quiet=True, plots=False, report=False, resume=True)
    _, recs, _ = read_journal(str(j))
    assert set(recs) == {"c0", "c1", "c2"}
    assert len([ln for ln in j.read_bytes().split(b"\n") if ln.startswith(b'{"case"')]) == 3
    assert len(res.table) == len(pd.read_parquet(out))


def test_labels_and_value_checks(tmp_path):
    from segscore.app.scorers import check_label_values
    from segscore.app.summary import load_labels

    (tmp_path / "d.json").write_text(json.dumps({"labels": {"background": 0, "liver": 1, "tumour": [1, 2],
                                                            "ignore": 4}}))
    assert load_labels(str(tmp_path / "d.json")) == ({"liver": 1, "tumour": (1, 2)}, 4)
    assert load_labels('{"labels": {"0": "background", "1": "liver"}}') == ({"liver": 1}, None)
    assert load_labels("1,2,3") == ([1, 2, 3], None)
    a = np.zeros((4, 4, 4), np.uint8)
    a[0, 0, 0] = 3
    check_label_values(a, {0, 1, 2, 3}, "pred")
    with pytest.raises(CaseError, match="label 3"):
        check_label_values(a, {0, 1, 2, 5}, "pred")
    with pytest.raises(CaseError, match="label 3"):
        check_label_values(a, {0, 1, 2}, "pred")
    with pytest.raises(CaseError, match="negative"):
        check_label_values(np.full((2, 2), -1, np.int16), None, "pred")


def test_summary_statistics():
    from segscore.app.summary import bootstrap_ci, describe

    x = np.array([0.5, 0.7, np.nan, 0.9, np.inf])
    d = describe(x, np.random.SeedSequence([0, 0]), 500)
    assert d["n"] == 4 and d["n_nan"] == 1 and d["n_inf"] == 1
    assert d["mean"] == math.inf and d["median"] == pytest.approx(0.8)
    v = np.random.default_rng(1).normal(size=50)
    a = bootstrap_ci(v, np.random.SeedSequence([3, 1]), 2000)
    b = bootstrap_ci(v, np.random.SeedSequence([3, 1]), 2000)
    assert a == b and a[0] < v.mean() < a[1]
    assert bootstrap_ci(v, np.random.SeedSequence([4, 1]), 2000) != a


def test_loader_threads_run_at_a_lower_priority():
    """The read-ahead threads lower their own CPU priority (Linux), the scoring thread keeps its own."""
    import os
    import sys
    import threading

    from segscore.app import runners

    if not sys.platform.startswith("linux"):
        pytest.skip("per-thread priorities are a Linux feature")
    me = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    seen = {}

    def worker():
        runners._background_priority()
        seen["loader"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen["loader"] == min(19, me + runners.LOADER_NICENESS)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == me

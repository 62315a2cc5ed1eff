"""Probability maps saved by numpy (.npy, .npz with one array) in the dataset path: read with
the shape and range checks of NIfTI maps, hostile files refused with a reason (each hostile
read runs in a subprocess with a timeout: it must neither hang nor crash)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from segscore.app.io import CaseError, read_image, write_nifti

pd = pytest.importorskip("pandas")
pytest.importorskip("nibabel")

SPACING = (0.8, 0.8, 2.5)
SHAPE = (12, 10, 6)


def _softmax(rng, c=3):
    s = rng.random(SHAPE + (c,)).astype(np.float64) ** 3
    return (s / s.sum(axis=-1, keepdims=True)).astype(np.float32)


def _set(root, rng, n=2):
    for d in ("pred", "ref", "r1", "r2", "probs_nii", "probs_npy"):
        os.makedirs(root / d, exist_ok=True)
    for i in range(n):
        ref = rng.integers(0, 3, SHAPE).astype(np.uint8)
        write_nifti(root / "ref" / f"c{i}.nii.gz", ref, SPACING)
        write_nifti(root / "pred" / f"c{i}.nii.gz", np.roll(ref, 1, axis=0), SPACING)
        write_nifti(root / "r1" / f"c{i}.nii.gz", np.roll(ref, 1, axis=1), SPACING)
        write_nifti(root / "r2" / f"c{i}.nii.gz", ref, SPACING)
        p = _softmax(rng)
        write_nifti(root / "probs_nii" / f"c{i}.nii.gz", p, SPACING)
        if i % 2:
            np.savez_compressed(root / "probs_npy" / f"c{i}.npz", probs=p)
        else:
            np.save(root / "probs_npy" / f"c{i}.npy", np.asfortranarray(p))
    return root


def _score(root, probs, name):
    import segscore as ss

    return ss.score_dataset(root / "pred", root / "ref", raters=[root / "r1", root / "r2"], probs=root / probs,
                            output=root / name / "r.csv", quiet=True, plots=False, report=False)


def test_numpy_maps_score_like_nifti(tmp_path):
    root = _set(tmp_path, np.random.default_rng(0))
    a, b = _score(root, "probs_nii", "a"), _score(root, "probs_npy", "b")
    assert a.n_failed == 0 and b.n_failed == 0, b.errors
    cols = ["ece", "brier", "vol_prob_ml", "soft_dice", "vol_crps_ml", "consensus_dice"]
    ta = a.table.set_index(["case", "reference", "label"]).sort_index()
    tb = b.table.set_index(["case", "reference", "label"]).sort_index()
    pd.testing.assert_frame_equal(ta[cols], tb[cols])


def test_read_npy_and_npz(tmp_path):
    p = _softmax(np.random.default_rng(1))
    np.save(tmp_path / "a.npy", p)
    np.savez(tmp_path / "b.npz", p)
    np.save(tmp_path / "h.npy", p.astype(np.float16))
    for f in ("a.npy", "b.npz", "h.npy"):
        img = read_image(tmp_path / f, "prob")
        assert img.array.dtype == (np.float16 if f == "h.npy" else np.float32)
        np.testing.assert_array_equal(img.array, p.astype(img.array.dtype))
        assert img.spacing is None
    with pytest.raises(CaseError, match="unsupported file type"):
        read_image(tmp_path / "a.npy", "label")  # label maps need geometry: NIfTI / NRRD / MHA


def _hostile(tmp_path, name, make):
    path = tmp_path / name
    make(path)
    code = ("import json, sys\nfrom segscore.app.io import read_image, CaseError\n"
            "try:\n    read_image(sys.argv[1], 'prob'); print(json.dumps(['ok', '']))\n"
            "except CaseError as e:\n    print(json.dumps([e.stage, e.reason]))\n")
    r = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def _header_only(path, shape):
    """A .npy header declaring `shape` (float32) and a few data bytes."""
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": shape})
        f.write(b"\0" * 16)


def _write_bytes(data):
    return lambda p: p.write_bytes(data)


@pytest.mark.parametrize("name, make, stage, words", [
    ("pickle.npy", lambda p: np.save(p, np.array([{"x": 1}] * 8, dtype=object).reshape(2, 2, 2), allow_pickle=True),
     "values", "object"),
    ("pickle.npz", lambda p: np.savez(p, a=np.array([{"x": 1}] * 8, dtype=object).reshape(2, 2, 2)),
     "values", "object"),
    ("two.npz", lambda p: np.savez(p, a=np.zeros(SHAPE, np.float32), b=np.zeros(SHAPE, np.float32)),
     "read", "holds 2 arrays"),
    ("empty.npz", lambda p: np.savez(p), "read", "holds 0 arrays"),
    ("truncated.npy", lambda p: (np.save(p, np.zeros(SHAPE, np.float32)),
                                 p.write_bytes(p.read_bytes()[:-7])), "read", "truncated"),
    ("padded.npy", lambda p: (np.save(p, np.zeros(SHAPE, np.float32)),
                              p.write_bytes(p.read_bytes() + b"\0" * 64)), "read", "truncated or corrupt"),
    ("huge_header.npy", lambda p: _header_only(p, (100000, 100000, 100000)), "read", "declares"),
    ("garbage.npy", _write_bytes(b"not numpy at all" * 10), "read", "not a valid .npy"),
    ("garbage.npz", _write_bytes(b"PK\x03\x04garbage" * 10), "read", "not a valid .npz"),
    ("structured.npy", lambda p: np.save(p, np.zeros(SHAPE, [("a", "f4"), ("b", "f4")])), "values", "dtype"),
    ("complex.npy", lambda p: np.save(p, np.zeros(SHAPE, np.complex64)), "values", "dtype"),
    ("flat.npy", lambda p: np.save(p, np.zeros(40, np.float32)), "values", "shape"),
])
def test_hostile_numpy_files(tmp_path, name, make, stage, words):
    got_stage, reason = _hostile(tmp_path, name, make)
    assert got_stage == stage and words in reason, (got_stage, reason)


def test_zip_bomb_member_refused(tmp_path):
    path = tmp_path / "bomb.npz"
    hdr = b"\x93NUMPY\x01\x00v\x00" + b"{'descr': '<f4', 'fortran_order': False, 'shape': (1024, 1024, 256), }"
    hdr = hdr.ljust(128 - 1) + b"\n"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("probs.npy", hdr + b"\0" * (1024 * 1024 * 256 * 4))
    info = zipfile.ZipFile(path).infolist()[0]
    assert info.file_size > 1000 * info.compress_size  # deflate's ratio on zeros
    # declared size within deflate's limit: read (zeros are a valid map); the stream is bounded
    stage, reason = _hostile(tmp_path, "bomb.npz", lambda p: None)
    assert stage in ("ok", "read"), reason


@pytest.mark.parametrize("bad, stage, words", [
    ("shape", "mismatch", "shape"),
    ("range", "values", "[0, 1]"),
    ("nan", "values", "NaN"),
])
def test_dataset_refuses_bad_numpy_maps(tmp_path, bad, stage, words):
    root = _set(tmp_path, np.random.default_rng(2), n=1)
    p = _softmax(np.random.default_rng(3))
    if bad == "shape":
        p = p[:-1]
    elif bad == "range":
        p[2, 2, 2, 1] = 1.5
    else:
        p[2, 2, 2, 1] = np.nan
    np.save(root / "probs_npy" / "c0.npy", p)
    res = _score(root, "probs_npy", "x")
    assert res.n_failed == 1
    err = res.errors.iloc[0] if hasattr(res.errors, "iloc") else res.errors[0]
    assert err["stage"] == stage and words in err["reason"], err

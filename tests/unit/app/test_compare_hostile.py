"""`segscore compare` on hostile folders, run as a user runs it (a subprocess with a timeout):
a bad case (labels beyond 2**31, negative labels, a 4-D series, NaN probabilities) is a
failed case in the report and the others are compared; a library that fails on one case is
reported; an unwritable output is refused before any case is compared."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

nib = pytest.importorskip("nibabel")

from segscore.app.io import write_nifti  # noqa: E402

MAIN = "import sys; from segscore.app.cli import main; sys.exit(main())"


def cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-c", MAIN, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def _ball():
    g = np.indices((12, 12, 6))
    ref = (((g[0] - 6) ** 2 + (g[1] - 6) ** 2 + (g[2] - 3) ** 2) <= 9).astype(np.uint8)
    return np.roll(ref, 1, 0), ref


def _raw(path, arr):
    nib.save(nib.Nifti1Image(arr, np.eye(4), dtype=arr.dtype), str(path))


@pytest.fixture()
def folders(tmp_path):
    pred, ref = _ball()
    p, r = tmp_path / "p", tmp_path / "r"
    p.mkdir()
    r.mkdir()
    write_nifti(p / "a.nii.gz", pred)
    write_nifti(r / "a.nii.gz", ref)
    _raw(p / "big.nii.gz", pred.astype(np.int64) * 2**40)          # a label beyond 2**31
    write_nifti(r / "big.nii.gz", ref)
    _raw(p / "neg.nii.gz", pred.astype(np.int16) * -3)              # a negative label
    write_nifti(r / "neg.nii.gz", ref)
    _raw(p / "u64.nii.gz", pred.astype(np.uint64) * np.uint64(2**63 + 5))
    write_nifti(r / "u64.nii.gz", ref)
    write_nifti(p / "series.nii.gz", np.stack([pred, pred], -1))     # a 4-D series
    write_nifti(r / "series.nii.gz", np.stack([ref, ref], -1))
    return p, r


def test_bad_cases_are_failed_cases_and_the_others_are_compared(folders, tmp_path):
    p, r = folders
    out = tmp_path / "new" / "dir" / "report.json"                    # folders that do not exist yet
    res = cli("compare", p, r, "-q", "--json", out)
    assert res.returncode == 3, res.stderr
    rep = json.loads(out.read_text())
    assert rep["cases"] == ["a"]
    errors = {e["case"]: e for e in rep["errors"]}
    assert set(errors) == {"big", "neg", "u64", "series"}
    assert "1099511627776" in errors["big"]["reason"] and "-3" in errors["neg"]["reason"]
    assert str(2**63 + 5) in errors["u64"]["reason"]
    assert "4-D series" in errors["series"]["reason"] and errors["series"]["stage"] == "values"
    # the 4-D case left no empty rows behind: every row has numbers
    assert all(row["values"] for row in rep["rows"])


def test_cases_larger_than_available_takes_them_all(folders, tmp_path):
    p, r = folders
    res = cli("compare", p, r, "-q", "--cases", 1000, "--json", tmp_path / "x.json")
    assert res.returncode == 3
    rep = json.loads((tmp_path / "x.json").read_text())
    assert rep["cases"] == ["a"] and len(rep["errors"]) == 4


def test_api_refuses_a_bad_number_of_cases(folders):
    from segscore.app.compare import compare

    p, r = folders
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="cases must be an integer >= 1"):
            compare(p, r, cases=bad)


def test_probabilities_no_convention_can_score_are_a_failed_case(tmp_path):
    pred, ref = _ball()
    write_nifti(tmp_path / "p.nii.gz", pred)
    write_nifti(tmp_path / "r.nii.gz", ref)
    probs = np.stack([1 - ref * 0.8, ref * np.nan], -1).astype(np.float32)
    write_nifti(tmp_path / "probs.nii.gz", probs)
    res = cli("compare", tmp_path / "p.nii.gz", tmp_path / "r.nii.gz", "--probs", tmp_path / "probs.nii.gz", "--json")
    assert res.returncode == 3, res.stderr
    rep = json.loads(res.stdout)
    assert [e["stage"] for e in rep["errors"]] == ["calibration"] and "NaN" in rep["errors"][0]["reason"]


def test_a_library_failing_on_a_1d_case_is_reported_not_fatal(tmp_path):
    pred, ref = _ball()
    p, r = tmp_path / "p", tmp_path / "r"
    p.mkdir()
    r.mkdir()
    nib.save(nib.Nifti1Image(pred[:, 6, 3], np.eye(4)), str(p / "line.nii.gz"))
    nib.save(nib.Nifti1Image(ref[:, 6, 3], np.eye(4)), str(r / "line.nii.gz"))
    res = cli("compare", p, r, "--peers", "--json", tmp_path / "x.json", "-q")
    assert res.returncode in (0, 4), res.stderr          # never 1 / 2: the run went through
    rep = json.loads((tmp_path / "x.json").read_text())
    assert rep["cases"] == ["line"]
    for c in rep["peers"]["checks"]:
        assert c["status"].startswith(("agree", "ERROR", "DISAGREE")), c


@pytest.mark.parametrize("where", ["under_a_file", "a_folder"])
def test_unwritable_outputs_are_refused_before_comparing(tmp_path, where):
    pred, ref = _ball()
    write_nifti(tmp_path / "p.nii.gz", pred)
    write_nifti(tmp_path / "r.nii.gz", ref)
    (tmp_path / "afile").write_text("")
    for option in ("--json", "--plot"):
        target = tmp_path / "afile" / "x.out" if where == "under_a_file" else tmp_path
        res = cli("compare", tmp_path / "p.nii.gz", tmp_path / "r.nii.gz", option, target)
        assert res.returncode == 1
        assert option in res.stderr and ("is a file, not a folder" in res.stderr or "is a folder" in res.stderr)
        assert "boundary metrics" not in res.stdout                   # nothing was compared
    assert not os.path.exists(tmp_path / "afile.tmp")

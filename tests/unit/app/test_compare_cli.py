"""`segscore compare` run as a user runs it (a subprocess) on small generated NIfTI files.

Every value in the JSON report is checked against segscore's own functions under the same
convention; with --peers every installed reference library must agree with the convention
named after it, and a library that is not there is reported, not a crash.
"""

import json
import math
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("nibabel")

import segscore as ss  # noqa: E402
from segscore.app import peers as P  # noqa: E402
from segscore.app.compare import spread  # noqa: E402
from segscore.app.demo import generate  # noqa: E402
from segscore.app.io import read_image, write_nifti  # noqa: E402

SHAPE = (28, 28, 12)
SPACING = (0.8, 0.8, 2.5)
MAIN = "import sys; from segscore.app.cli import main; sys.exit(main())"


def cli(*args, timeout=300, pre=""):
    """Run `segscore ...` in a fresh interpreter; `pre`: Python run before the command line."""
    cmd = [sys.executable, "-c", pre + MAIN, *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """4 cases, 3 labels, probabilities; the last case misses label 3 (an empty prediction)."""
    root = tmp_path_factory.mktemp("cmp")
    return generate(root / "ds", cases=4, shape=SHAPE, spacing=SPACING, n_labels=3, n_raters=0, probs=True, seed=11)


def _case(data, cid, folder="pred"):
    return os.path.join(data[folder], cid + ".nii.gz")


def _num(v):
    return float(v) if not isinstance(v, str) else float(v)  # "nan" / "inf" strings parse too


FUNCS = {
    "hd": lambda p, r, sp, c: ss.hausdorff(p, r, spacing=sp, convention=c),
    "hd95": lambda p, r, sp, c: ss.hd95(p, r, spacing=sp, convention=c),
    "assd": lambda p, r, sp, c: ss.assd(p, r, spacing=sp, convention=c),
    "masd": lambda p, r, sp, c: ss.masd(p, r, spacing=sp, convention=c),
    "nsd@1": lambda p, r, sp, c: ss.nsd(p, r, 1.0, spacing=sp, convention=c),
    "biou@1": lambda p, r, sp, c: ss.boundary_iou(p, r, 1.0, spacing=sp, convention=c),
}


def check_rows(report, pred_dir, ref_dir):
    """Every surface value equals segscore's function under that convention, label by label."""
    n = 0
    cache = {}
    for row in report["rows"]:
        if row["family"] != "surface":
            continue
        case = row["case"]
        if case not in cache:
            p = read_image(os.path.join(pred_dir, case + ".nii.gz")).array
            r = read_image(os.path.join(ref_dir, case + ".nii.gz"))
            cache[case] = (p, r.array, r.spacing)
        p, r, sp = cache[case]
        lab = int(row["label"])
        for conv, v in row["values"].items():
            want = FUNCS[row["metric"]](p == lab, r == lab, sp, conv)
            got = _num(v)
            assert (math.isnan(got) and math.isnan(want)) or got == want, (case, lab, row["metric"], conv, got, want)
            n += 1
    return n


# ------------------------------------------------------------------------------------------ files and folders
def test_file_pair_json_equals_segscore_functions(data, tmp_path):
    out = tmp_path / "r.json"
    r = cli("compare", _case(data, "case_001"), _case(data, "case_001", "ref"), "--json", out)
    assert r.returncode == 0, r.stderr
    rep = json.loads(out.read_text())
    assert rep["cases"] == ["case_001"]
    assert check_rows(rep, data["pred"], data["ref"]) > 50
    # every convention appears for hd95; those that do not define a metric are absent, not wrong
    hd95 = [x for x in rep["rows"] if x["metric"] == "hd95"]
    assert {c for x in hd95 for c in x["values"]} == set(ss.CONVENTIONS) - {"monai-subvoxels"}
    assert all("biou@1" != x["metric"] or set(x["values"]) == {"segscore", "metricsreloaded"} for x in rep["rows"])
    # the spread is max - min of the values, the conventions that differ are named
    for x in rep["rows"]:
        vals = [_num(v) for v in x["values"].values()]
        assert x["spread"] == pytest.approx(max(vals) - min(vals), rel=1e-12, abs=1e-6)
        assert "segscore" not in x["differ"]
    # the terminal table: one line per label and metric, the conventions as columns
    assert "hd95" in r.stdout and "metricsrel" in r.stdout and "spread" in r.stdout


def test_folders_sample_of_cases_is_seeded(data, tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    ra = cli("compare", data["pred"], data["ref"], "--cases", 2, "--seed", 5, "--json", a, "-q", "--metrics", "hd95")
    rb = cli("compare", data["pred"], data["ref"], "--cases", 2, "--seed", 5, "--json", b, "-q", "--metrics", "hd95")
    assert ra.returncode == 0 and rb.returncode == 0, ra.stderr + rb.stderr
    ja, jb = json.loads(a.read_text()), json.loads(b.read_text())
    assert ja["cases"] == jb["cases"] and len(ja["cases"]) == 2
    assert set(ja["cases"]) <= {f"case_{i:03d}" for i in range(1, 5)}
    assert {x["metric"] for x in ja["rows"]} == {"hd95"}
    assert ra.stdout == "" and check_rows(ja, data["pred"], data["ref"]) > 0
    # the summary: one row per label and metric over the sampled cases
    assert {(s["label"], s["metric"]) for s in ja["summary"]} == {(x["label"], x["metric"]) for x in ja["rows"]}


def test_all_folders_empty_label_and_json_to_stdout(data):
    r = cli("compare", data["pred"], data["ref"], "--json")
    assert r.returncode == 0, r.stderr
    def no_constant(name):
        raise AssertionError(f"not strict JSON: {name}")

    rep = json.loads(r.stdout, parse_constant=no_constant)  # nan / inf are strings, never NaN tokens
    assert rep["cases"] == [f"case_{i:03d}" for i in range(1, 5)]
    assert check_rows(rep, data["pred"], data["ref"]) > 100
    # case_004 misses label 3: medpy and panoptica raise there, the report says so
    miss = [x for x in rep["rows"] if x["case"] == "case_004" and x["label"] == "3" and x["metric"] == "hd95"]
    assert miss and "medpy" in miss[0]["errors"] and "empty" in miss[0]["errors"]["medpy"]
    assert miss[0]["values"]["segscore"] == "inf"


def test_plot_is_written(data, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "plots" / "spread.png"
    r = cli("compare", data["pred"], data["ref"], "--cases", 2, "--plot", png, "-q")
    assert r.returncode == 0, r.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_probabilities_every_calibration_convention(data, tmp_path):
    out = tmp_path / "r.json"
    r = cli("compare", data["pred"], data["ref"], "--probs", data["probs"], "--cases", 1, "--seed", 2,
            "--json", out, "--metrics", "hd95")
    assert r.returncode == 0, r.stderr
    rep = json.loads(out.read_text())
    cal = [x for x in rep["rows"] if x["family"] == "calibration"]
    assert {x["metric"] for x in cal} == {"ece", "mce", "ace"}
    (case,) = rep["cases"]
    p = read_image(_case(data, case, "probs"), "prob").array
    ref = read_image(_case(data, case, "ref")).array
    fns = {"ece": ss.ece, "mce": ss.mce, "ace": ss.ace}
    ece = next(x for x in cal if x["metric"] == "ece")
    assert set(ece["values"]) == set(rep["calibration_conventions"])
    for x in cal:
        for conv, v in x["values"].items():
            assert _num(v) == fns[x["metric"]](p, ref, class_axis=-1, convention=conv), (x["metric"], conv)
    assert "calibration under every convention" in r.stdout


# ------------------------------------------------------------------------------------------ peers
def _installed():
    """The peers whose library is installed here (found, not imported: the child imports them)."""
    import importlib.util

    return {p.name for p in P.PEERS if importlib.util.find_spec(p.module) is not None}


@pytest.mark.peers
def test_peers_agree_with_their_conventions(data, tmp_path):
    pytest.importorskip("scipy")
    out = tmp_path / "r.json"
    args = ["compare", _case(data, "case_004"), _case(data, "case_004", "ref"), "--probs",
            _case(data, "case_004", "probs"), "--peers", "--json", out]
    mr = os.environ.get("METRICSRELOADED_PATH")
    if mr:
        args += ["--metricsreloaded", mr]
    r = cli(*args, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads(out.read_text())
    libs = rep["peers"]["libraries"]
    installed = _installed() | ({"metricsreloaded"} if mr else set())
    for lib in libs:
        if lib["peer"] in installed:
            assert lib["available"], lib
            assert lib["checks"] > 0 and lib["agree"] == lib["checks"], lib
            assert lib["peer_s"] > 0 and lib["segscore_s"] > 0
        else:
            assert not lib["available"] and lib["reason"].startswith("not installed"), lib
    checks = rep["peers"]["checks"]
    assert checks and all(c["status"].startswith("agree") for c in checks)
    # the surface checks are exact to 1e-9 (1e-5 for MONAI's float32): no float32-sum allowance there
    assert all(c["status"] == "agree" for c in checks if "float32_sum_bound" not in c)
    # label 3 is empty in the prediction: the libraries are skipped there, and the report says so
    assert any(s["label"] == "3" for s in rep["peers"]["skipped"])
    assert "reference libraries against the segscore convention" in r.stdout
    assert "DISAGREE" not in r.stdout
    if "monai" in installed:
        monai = [c for c in checks if c["peer"] == "monai" and c["convention"] == "monai"]
        assert {c["metric"] for c in monai} >= {"hd", "hd95", "assd", "nsd@1", "ece", "ace", "mce"}


# a peer that "is not installed": its import is blocked in the child process
BLOCKED = ("medpy", "surface_distance", "monai", "panoptica", "torchmetrics")
BLOCK = f"import sys\nfor _m in {BLOCKED!r}:\n    sys.modules[_m] = None\n"


@pytest.mark.peers
def test_missing_peer_is_reported_not_a_crash(data, tmp_path):
    out = tmp_path / "r.json"
    r = cli("compare", _case(data, "case_001"), _case(data, "case_001", "ref"), "--peers", "--metrics", "hd,hd95",
            "--metricsreloaded", tmp_path / "nowhere", "--json", out, pre=BLOCK)
    assert r.returncode == 0, r.stderr
    libs = {(x["peer"], x["kind"]): x for x in json.loads(out.read_text())["peers"]["libraries"]}
    for key in (("medpy", "surface"), ("deepmind", "surface"), ("monai", "surface"), ("panoptica", "surface"),
                ("monai", "calibration"), ("torchmetrics", "calibration")):
        assert not libs[key]["available"]
        assert libs[key]["reason"].startswith("not installed (pip install "), libs[key]
        assert libs[key]["checks"] == 0
    assert "no such folder" in libs[("metricsreloaded", "surface")]["reason"]
    assert "not installed (pip install medpy)" in r.stdout
    assert "Traceback" not in r.stderr
    if "scipy" in _installed():  # the libraries that are there still run
        assert libs[("scipy", "edt")]["checks"] > 0 and libs[("scipy", "edt")]["agree"] == libs[("scipy", "edt")]["checks"]


def test_metricsreloaded_path_must_be_a_checkout(tmp_path):
    (tmp_path / "x").mkdir()
    assert P.add_metricsreloaded(tmp_path / "x").endswith("(no MetricsReloaded/metrics/pairwise_measures.py under it)")
    assert "no such folder" in P.add_metricsreloaded(tmp_path / "missing")


# ------------------------------------------------------------------------------------------ bad input
def test_missing_folder(data, tmp_path):
    r = cli("compare", tmp_path / "nope", data["ref"])
    assert r.returncode == 1
    assert "segscore: error: prediction" in r.stderr and "no such file or folder" in r.stderr


def test_no_pairs(data, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    shutil.copy(_case(data, "case_001"), a / "x_001.nii.gz")
    shutil.copy(_case(data, "case_001", "ref"), b / "y_001.nii.gz")
    r = cli("compare", a, b)
    assert r.returncode == 1
    assert "no case has both a prediction" in r.stderr
    (tmp_path / "empty1").mkdir(), (tmp_path / "empty2").mkdir()
    r = cli("compare", tmp_path / "empty1", tmp_path / "empty2")
    assert r.returncode == 1 and "no case has both" in r.stderr


def test_shape_mismatch(data, tmp_path):
    bad = tmp_path / "bad.nii.gz"
    write_nifti(bad, np.zeros((10, 10, 10), np.uint8), spacing=SPACING)
    r = cli("compare", bad, _case(data, "case_001", "ref"))
    assert r.returncode == 1
    assert "no case could be compared" in r.stderr and "shape" in r.stderr
    # in folders: the bad case is reported, the others compared (exit 3)
    p = tmp_path / "pred"
    shutil.copytree(data["pred"], p)
    shutil.copy(bad, p / "case_002.nii.gz")
    open(p / "case_099.nii.gz", "wb").write(open(bad, "rb").read())  # no reference: left out
    out = tmp_path / "r.json"
    r = cli("compare", p, data["ref"], "--metrics", "hd95", "--json", out)
    assert r.returncode == 3, r.stderr
    rep = json.loads(out.read_text())
    assert [e["case"] for e in rep["errors"]] == ["case_002"] and "shape" in rep["errors"][0]["reason"]
    assert rep["left_out"] == [{"case": "case_099", "why": "no reference file"}]
    assert "case_002" not in rep["cases"] and len(rep["cases"]) == 3
    assert "cases that could not be compared" in r.stdout


@pytest.mark.parametrize("args,msg", [
    (["--metrics", "dice"], "not a boundary metric"),
    (["--cases", "0"], "--cases must be >= 1"),
    (["--tolerance", "-1"], "--tolerance"),
    (["--labels", "a,b"], "--labels"),
])
def test_bad_options_exit_2(data, args, msg):
    r = cli("compare", data["pred"], data["ref"], *args)
    assert r.returncode == 2, r.stderr
    assert msg in r.stderr


def test_file_and_folder_mixed_exit_2(data):
    r = cli("compare", _case(data, "case_001"), data["ref"])
    assert r.returncode == 2 and "two files or two folders" in r.stderr


def test_help_lists_compare():
    r = cli("--help")
    assert "compare" in r.stdout
    r = cli("compare", "--help")
    assert r.returncode == 0 and "--peers" in r.stdout and "--metricsreloaded" in r.stdout


# ------------------------------------------------------------------------------------------ the spread
def test_spread_groups_and_differ():
    s = spread({"segscore": 2.26, "deepmind": 2.26, "monai": 6.79, "medpy": 11.31, "panoptica": None})
    assert s["spread"] == pytest.approx(11.31 - 2.26)
    assert s["min"] == ["segscore", "deepmind"] and s["max"] == ["medpy"]
    assert s["differ"] == ["monai", "medpy"]
    assert spread({"segscore": 1.0, "monai": 1.0 + 3e-7})["spread"] == 0.0  # float32 rounding: one group
    assert spread({"segscore": math.inf, "medpy": 3.0})["spread"] == math.inf
    assert spread({"segscore": math.nan, "medpy": 3.0})["spread"] == 0.0


def test_rich_table_on_a_terminal(data):
    """On a terminal the tables go through rich (when installed); the same cells appear."""
    pytest.importorskip("rich")
    import io

    from segscore.app.compare import compare, render, render_plain

    class Tty(io.StringIO):
        def isatty(self):
            return True

    rep = compare(_case(data, "case_004"), _case(data, "case_004", "ref"), metrics=["hd95", "nsd"])
    out = Tty()
    render(rep, file=out)
    text = out.getvalue()
    assert "hd95" in text and "nsd@1" in text and "differ from segscore" in text
    assert "raises when the prediction is empty" in text  # label 3 is missing in case_004
    plain = render_plain(rep)
    assert "hd95" in plain and "medpy: raises when the prediction is empty" in plain


def test_disagreeing_and_failing_library_are_reported(data, monkeypatch):
    """A library whose number differs is marked DISAGREE (exit code 4); one that raises is an
    ERROR row, never a crash.  Two fake libraries stand in for the real ones here."""
    from segscore.app import compare as C

    def wrong(pred, ref, spacing, metrics):
        return {"segscore": {"hd95": ss.hd95(pred, ref, spacing=spacing) * (1 + 1e-6)}}

    def broken(pred, ref, spacing, metrics):
        raise RuntimeError("no surface found")

    fakes = (P.Peer("wrong", "json", "no-such-dist", "surface", ("segscore",), 1e-9, wrong),
             P.Peer("broken", "json", "no-such-dist", "surface", ("segscore",), 1e-9, broken))
    monkeypatch.setattr(P, "PEERS", fakes)
    rep = C.compare(_case(data, "case_001"), _case(data, "case_001", "ref"), metrics=["hd95"], peers=True)
    libs = {x["peer"]: x for x in rep["peers"]["libraries"]}
    n = libs["wrong"]["checks"]  # one per label with both masks non-empty
    assert n >= 2 and libs["wrong"]["disagree"] == n
    assert libs["broken"]["errors"] == n and libs["broken"]["agree"] == 0
    bad = [c for c in rep["peers"]["checks"] if c["peer"] == "wrong"]
    assert all(c["status"] == "DISAGREE" and c["rel_diff"] == pytest.approx(1e-6, rel=1e-3) for c in bad)
    assert C.exit_code(rep) == C.EXIT_DISAGREE == 4
    text = C.render_plain(rep)
    assert "DISAGREE" in text and "ERROR (RuntimeError: no surface found)" in text

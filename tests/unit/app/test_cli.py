"""`segscore score` run as a user runs it (a subprocess) on small generated data sets.

Each written value is checked against ss.evaluate on the same arrays.
"""

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("nibabel")
pd = pytest.importorskip("pandas")

import segscore as ss  # noqa: E402
from segscore.app.demo import generate  # noqa: E402
from segscore.app.io import read_image, write_nifti  # noqa: E402
from support.cli_runs import HANGING_READ_MAIN  # noqa: E402

SHAPE = (32, 32, 24)
SPACING = (0.8, 0.8, 2.5)


def cli(*args, timeout=120, **kw):
    """Run `segscore ...` in a fresh interpreter (the installed entry point's main)."""
    cmd = [sys.executable, "-c", "import sys; from segscore.app.cli import main; sys.exit(main())", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def popen(*args):
    cmd = [sys.executable, "-c", "import sys; from segscore.app.cli import main; sys.exit(main())", *map(str, args)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)




def popen_hanging_read(*args):
    cmd = [sys.executable, "-c", HANGING_READ_MAIN, *map(str, args)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """6 cases, 3 labels, 3 raters, probabilities, under a path with a space and unicode."""
    root = tmp_path_factory.mktemp("ds") / "données test"
    return generate(root, cases=6, shape=SHAPE, spacing=SPACING, n_labels=3, n_raters=3, probs=True, seed=7)


def expected(pred_path, ref_path, **kw):
    p, r = read_image(pred_path), read_image(ref_path)
    return ss.evaluate(p.array, r.array, spacing=r.spacing, **kw).to_dict()


def same(a, b):
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return a == b


def check_against_evaluate(table, pred_dir, ref_dir, labels=None, reference="ref", metrics=None):
    t = table[table["reference"] == reference] if "reference" in table.columns else table
    assert len(t)
    for case, g in t.groupby("case"):
        exp = expected(os.path.join(pred_dir, case + ".nii.gz"), os.path.join(ref_dir, case + ".nii.gz"),
                       labels=labels, metrics=metrics)
        assert [str(k) for k in exp] == [str(v) for v in g["label"]]
        for (_, row), (lab, vals) in zip(g.iterrows(), exp.items()):
            for m, v in vals.items():
                if m in row.index:  # a --metrics subset
                    assert same(float(row[m]), float(v)), (case, lab, m, row[m], v)


def test_score_normal_run(data, tmp_path):
    out = tmp_path / "out ü" / "res.csv"
    r = cli("score", data["pred"], data["ref"], "-o", out, "--seed", "3")
    assert r.returncode == 0, r.stderr
    table = pd.read_csv(out)
    assert list(table.columns[:2]) == ["case", "label"]
    assert sorted(table["case"].unique()) == [f"case_{i:03d}" for i in range(1, 7)]
    check_against_evaluate(table, data["pred"], data["ref"])
    base = str(out)[:-4]
    errors = pd.read_csv(base + ".errors.csv")
    assert len(errors) == 0
    summ = pd.read_csv(base + ".summary.csv")
    for col in ("mean", "median", "std", "iqr", "ci_low", "ci_high", "n_nan", "n_inf", "n_ref_empty"):
        assert col in summ.columns
    dice1 = summ[(summ["label"] == 1) & (summ["metric"] == "dice")].iloc[0]
    vals = table[table["label"] == 1]["dice"].dropna()
    assert dice1["mean"] == pytest.approx(vals.mean())
    assert dice1["median"] == pytest.approx(vals.median())
    assert dice1["ci_low"] <= dice1["mean"] <= dice1["ci_high"]
    # plots, report, journal, plain log lines (not a terminal)
    assert os.path.exists(base + "_plots/box_dice.png")
    assert os.path.exists(base + "_plots/worst_cases.png")
    md = open(base + ".report.md", encoding="utf-8").read()
    assert "Summary per label" in md and "device" in md and "cpu" in md
    assert os.path.exists(base + ".report.html")
    assert "[6/6]" in r.stderr and "cases/s" in r.stderr
    # same seed -> same summary; --quiet prints nothing
    out2 = tmp_path / "again.csv"
    r2 = cli("score", data["pred"], data["ref"], "-o", out2, "--seed", "3", "--quiet", "--no-plots", "--no-report")
    assert r2.returncode == 0 and r2.stdout == "" and r2.stderr == ""
    assert open(base + ".summary.csv").read() == open(str(out2)[:-4] + ".summary.csv").read()


def test_labels_json_metrics_and_nnunet(data, tmp_path):
    out = tmp_path / "res.parquet"
    r = cli("score", data["pred"], data["ref"], "-o", out, "--labels", data["labels"], "--metrics", "dice,hd95,nsd@1",
            "--format", "nnunet", "--no-plots", "-q")
    assert r.returncode == 0, r.stderr
    t = pd.read_parquet(out)
    names = {"liver": 1, "spleen": 2, "kidney_left": 3}
    assert list(t["label"].unique()) == list(names)
    assert {"dice", "hd95", "nsd@1", "tp", "fp", "fn"} <= set(t.columns)
    check_against_evaluate(t, data["pred"], data["ref"], labels=names, metrics=["dice", "hd95", "nsd@1"])
    nn = json.load(open(tmp_path / "summary.json"))
    assert set(nn) == {"foreground_mean", "mean", "metric_per_case"}
    assert set(nn["mean"]) == {"1", "2", "3"}
    assert set(nn["mean"]["1"]) == {"Dice", "FN", "FP", "IoU", "TN", "TP", "n_pred", "n_ref"}
    assert len(nn["metric_per_case"]) == 6
    pc = nn["metric_per_case"][0]
    assert pc["prediction_file"].endswith("case_001.nii.gz")
    assert pc["metrics"]["1"]["Dice"] == pytest.approx(t.iloc[0]["dice"])


def test_raters_and_probabilities(data, tmp_path):
    out = tmp_path / "res.parquet"
    args = ["score", data["pred"], data["ref"], "-o", out, "--labels", data["labels"], "--probs", data["probs"],
            "--bootstrap", "200", "-q"]
    for d in data["raters"]:
        args += ["--rater", d]
    r = cli(*args)
    assert r.returncode == 0, r.stderr
    t = pd.read_parquet(out)
    assert set(t["reference"]) == {"ref", "rater1", "rater2", "rater3"}
    names = {"liver": 1, "spleen": 2, "kidney_left": 3}
    check_against_evaluate(t, data["pred"], data["ref"], labels=names)
    check_against_evaluate(t, data["pred"], data["raters"][1], labels=names, reference="rater2")
    ref_rows = t[t["reference"] == "ref"]
    for col in ("ece", "brier", "vol_prob_ml", "consensus_dice"):
        assert col in t.columns and ref_rows[col].notna().all(), col
    # consensus Dice against the multi-rater module, when present
    case = "case_002"
    pred = read_image(os.path.join(data["pred"], case + ".nii.gz")).array
    raters = [read_image(os.path.join(d, case + ".nii.gz")).array for d in data["raters"]]
    if hasattr(ss, "consensus_dice"):
        exp = ss.consensus_dice(pred, raters, labels=names)
        got = ref_rows[ref_rows["case"] == case].set_index("label")["consensus_dice"]
        for k, v in exp.items():
            assert same(float(got[k]), float(v))
    # probabilistic volume = sum of p x voxel volume (stored as uint8 / 255)
    probs = read_image(os.path.join(data["probs"], case + ".nii.gz"), "prob")
    vol = float(np.sum(probs.array[..., 1], dtype=np.float64)) * np.prod(SPACING) / 1000
    got = ref_rows[(ref_rows["case"] == case) & (ref_rows["label"] == "liver")]["vol_prob_ml"].iloc[0]
    assert got == pytest.approx(vol, rel=1e-6)
    assert os.path.exists(tmp_path / "res_plots" / "reliability.png")
    s = pd.read_csv(tmp_path / "res.summary.csv")
    assert {"reference", "label", "metric"} <= set(s.columns)


def _copy(data, tmp_path, name="bad"):
    root = tmp_path / name
    for k in ("pred", "ref", "probs"):
        shutil.copytree(data[k], root / k)
    return root


def test_corrupt_missing_mismatched(data, tmp_path):
    root = _copy(data, tmp_path)
    pred, ref, probs = root / "pred", root / "ref", root / "probs"
    # 1: truncated gzip
    b = (pred / "case_001.nii.gz").read_bytes()
    (pred / "case_001.nii.gz").write_bytes(b[: len(b) // 2])
    # 2: reference missing; an extra prediction without reference
    (ref / "case_002.nii.gz").unlink()
    # 3: shape mismatch
    write_nifti(pred / "case_003.nii.gz", np.zeros((32, 32, 20), np.uint8), SPACING)
    # 4: spacing mismatch
    img = read_image(pred / "case_004.nii.gz")
    write_nifti(pred / "case_004.nii.gz", img.array, (0.8, 0.8, 3.0))
    # 5: label not in the label map
    img = read_image(pred / "case_005.nii.gz")
    a = np.array(img.array)
    a[0, 0, 0] = 9
    write_nifti(pred / "case_005.nii.gz", a, SPACING, img.affine)
    # 6: probabilities out of range (float, stored without scaling)
    p = read_image(probs / "case_006.nii.gz", "prob").array.copy()
    p[1, 1, 1, 1] = 1.5
    write_nifti(probs / "case_006.nii.gz", p.astype(np.float32), SPACING, img.affine)
    # 7: a good case whose orientation differs
    good = read_image(data["pred"] + "/case_002.nii.gz")
    write_nifti(pred / "case_007.nii.gz", good.array, SPACING)
    write_nifti(ref / "case_007.nii.gz", good.array, SPACING, good.affine)
    write_nifti(probs / "case_007.nii.gz", np.zeros(good.array.shape + (4,), np.float32), SPACING, good.affine)
    # 8: a good case that scores
    shutil.copy(data["pred"] + "/case_002.nii.gz", pred / "case_008.nii.gz")
    shutil.copy(data["ref"] + "/case_002.nii.gz", ref / "case_008.nii.gz")
    shutil.copy(data["probs"] + "/case_002.nii.gz", probs / "case_008.nii.gz")
    out = tmp_path / "res.json"
    r = cli("score", pred, ref, "--probs", probs, "-o", out, "--labels", "1,2,3", "--no-plots")
    assert r.returncode == 3, r.stderr
    errs = pd.read_csv(tmp_path / "res.errors.csv").set_index("case")
    assert set(errs.index) == {f"case_{i:03d}" for i in range(1, 8)}
    reason = errs["reason"].to_dict()
    stage = errs["stage"].to_dict()
    assert stage["case_001"] == "read" and "gzip" in reason["case_001"]
    assert stage["case_002"] == "missing" and "reference" in reason["case_002"]
    assert stage["case_003"] == "mismatch" and "shape" in reason["case_003"]
    assert stage["case_004"] == "mismatch" and "spacing" in reason["case_004"]
    assert stage["case_005"] == "values" and "9" in reason["case_005"]
    assert stage["case_006"] == "values" and "[0, 1]" in reason["case_006"]
    assert stage["case_007"] == "mismatch" and "affine" in reason["case_007"]
    t = pd.read_json(out)
    assert set(t["case"]) == {"case_008"}
    assert "case_001" in r.stderr and "FAILED" in r.stderr
    summ = json.load(open(tmp_path / "res.summary.json"))
    assert summ["info"]["n_failed"] == 7 and len(summ["errors"]) == 7
    assert "Failed cases" in open(tmp_path / "res.report.md").read()
    # --ignore-affine accepts case 7
    r = cli("score", pred, ref, "-o", tmp_path / "res2.csv", "--ignore-affine", "--no-plots", "-q")
    errs = pd.read_csv(tmp_path / "res2.errors.csv")
    assert "case_007" not in set(errs["case"])


def _journal_cases(path):
    if not os.path.exists(path):
        return []
    out = []
    with open(path, "rb") as f:
        for line in f.read().split(b"\n"):
            if line.startswith(b'{"case"'):
                out.append(json.loads(line)["case"])
    return out


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_resume_after_kill(data, tmp_path, sig):
    """Kill the run while it waits on a file that never arrives (a FIFO the reader is made to open,
    as a hung read): finished cases are kept; --resume scores the rest; nothing lost, nothing
    duplicated; the result equals a clean run."""
    root = tmp_path / "ds"
    shutil.copytree(data["pred"], root / "pred")
    shutil.copytree(data["ref"], root / "ref")
    blocked = root / "pred" / "case_004.nii.gz"
    saved = blocked.read_bytes()
    blocked.unlink()
    os.mkfifo(blocked)
    out = tmp_path / "res.parquet"
    journal = tmp_path / "res.journal.jsonl"
    p = popen_hanging_read("score", root / "pred", root / "ref", "-o", out, "--workers", "1", "--prefetch", "1",
                           "--no-plots")
    try:
        t0 = time.time()
        while len(_journal_cases(journal)) < 3 and time.time() - t0 < 60:
            time.sleep(0.05)
        time.sleep(0.2)
        assert _journal_cases(journal) == ["case_001", "case_002", "case_003"]
        p.send_signal(sig)
        p.wait(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    if sig == signal.SIGINT:
        assert p.returncode == 130
        partial = pd.read_parquet(out)  # finalised on Ctrl-C
        assert sorted(partial["case"].unique()) == ["case_001", "case_002", "case_003"]
    else:
        assert p.returncode == -signal.SIGKILL
        with open(journal, "ab") as f:  # and a line cut by the crash
            f.write(b'{"case":"case_004","status":"ok","rows":[{"lab')
    blocked.unlink()
    blocked.write_bytes(saved)
    r = cli("score", root / "pred", root / "ref", "-o", out, "--resume", "--no-plots")
    assert r.returncode == 0, r.stderr
    assert "resuming: 3 of 6" in r.stderr
    cases = _journal_cases(journal)
    assert sorted(cases) == [f"case_{i:03d}" for i in range(1, 7)] and len(cases) == 6
    t = pd.read_parquet(out)
    assert not t.duplicated(["case", "label"]).any()
    clean = tmp_path / "clean.parquet"
    assert cli("score", root / "pred", root / "ref", "-o", clean, "--no-plots", "-q").returncode == 0
    pd.testing.assert_frame_equal(t, pd.read_parquet(clean))
    # resuming with other options is refused
    r = cli("score", root / "pred", root / "ref", "-o", out, "--resume", "--metrics", "dice", "-q")
    assert r.returncode == 2 and "different options" in r.stderr


def test_dask_local_cluster_equals_serial(data, tmp_path):
    pytest.importorskip("distributed")
    common = ["--labels", data["labels"], "--probs", data["probs"], "--rater", data["raters"][0], "--no-plots",
              "--no-report", "-q", "--seed", "5", "--bootstrap", "300"]
    a, b = tmp_path / "serial.parquet", tmp_path / "dask.parquet"
    r1 = cli("score", data["pred"], data["ref"], "-o", a, *common)
    r2 = cli("score", data["pred"], data["ref"], "-o", b, "--dask", "local", "--workers", "2", *common, timeout=180)
    assert r1.returncode == 0, r1.stderr
    assert r2.returncode == 0, r2.stderr
    pd.testing.assert_frame_equal(pd.read_parquet(a), pd.read_parquet(b), check_exact=True)
    assert open(tmp_path / "serial.summary.csv").read() == open(tmp_path / "dask.summary.csv").read()
    info = json.load(open(tmp_path / "dask.summary.json"))["info"]
    assert info["mode"] == "dask"


def test_dask_scheduler_address(data, tmp_path):
    """--scheduler ADDRESS: an existing cluster (here a local one of 2 worker processes)."""
    distributed = pytest.importorskip("distributed")
    common = ["--labels", data["labels"], "--no-plots", "--no-report", "-q", "--seed", "5", "--bootstrap", "300"]
    a, b = tmp_path / "serial.csv", tmp_path / "dask.csv"
    assert cli("score", data["pred"], data["ref"], "-o", a, *common).returncode == 0
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as lc:
        r = cli("score", data["pred"], data["ref"], "-o", b, "--scheduler", lc.scheduler_address, *common,
                timeout=180)
    assert r.returncode == 0, r.stderr
    assert open(a).read() == open(b).read()
    assert open(tmp_path / "serial.summary.csv").read() == open(tmp_path / "dask.summary.csv").read()


def test_demo_command(tmp_path):
    r = cli("demo", tmp_path / "demo", "--cases", "1", "--no-score", "-q")
    assert r.returncode == 0, r.stderr
    files = {p.name for p in (tmp_path / "demo").iterdir()}
    assert {"pred", "ref", "rater1", "rater2", "rater3", "probs", "dataset.json"} <= files
    img = read_image(tmp_path / "demo" / "ref" / "case_001.nii.gz")
    assert img.array.shape == (256, 256, 96) and img.spacing == pytest.approx((0.8, 0.8, 2.5))
    assert img.array.dtype == np.uint8 and int(img.array.max()) == 5


def test_bad_options():
    r = cli("score", "/nonexistent/pred", "/nonexistent/ref", "-q")
    assert r.returncode != 0 and "not a directory" in r.stderr
    r = cli("score", ".", ".", "--metrics", "nope", "-q")
    assert r.returncode == 2 and "unknown metric" in r.stderr


def test_quantised_probabilities_whose_classes_do_not_sum_to_one(tmp_path):
    """uint8 maps with a 1/255 slope round each class on its own: their class sums miss 1 by
    up to half a step per class, which the dataset's reliability diagram accepts; a map whose
    classes are far from summing to 1 is a failed case."""
    rng = np.random.default_rng(3)
    shape, c = (12, 10, 8), 4
    for d in ("pred", "ref", "probs"):
        (tmp_path / d).mkdir()
    ref = rng.integers(0, c, shape).astype(np.uint8)
    p = rng.dirichlet(np.ones(c), size=shape)
    q = np.round(p * 255).astype(np.uint8)  # each class rounded alone
    assert np.abs(q.sum(-1) / 255 - 1).max() > 1e-3
    for case, probs in (("a", q), ("b", np.full(shape + (c,), 200, np.uint8))):
        write_nifti(tmp_path / "ref" / f"{case}.nii.gz", ref, SPACING)
        write_nifti(tmp_path / "pred" / f"{case}.nii.gz", ref, SPACING)
        write_nifti(tmp_path / "probs" / f"{case}.nii.gz", probs, SPACING, slope=1 / 255)
    out = tmp_path / "out" / "r.csv"
    r = cli("score", tmp_path / "pred", tmp_path / "ref", "--probs", tmp_path / "probs", "-o", out,
            "--labels", "1,2,3", "--no-plots")
    assert r.returncode == 3, r.stderr
    import pandas as pd

    errors = pd.read_csv(str(out).replace(".csv", ".errors.csv"))
    assert list(errors["case"]) == ["b"]
    assert "do not sum to 1" in errors.to_string()
    table = pd.read_csv(out)
    assert set(table["case"]) == {"a"} and table["ece"].notna().all()

"""`segscore score --lesionwise ... [--probs DIR --froc ...]` run as a user runs it (a
subprocess) on small generated data sets with several lesions per case.

Every written lesion value is checked against ss.lesionwise / ss.lesion_aggregate / ss.froc
on the same arrays.
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
pytest.importorskip("pyarrow")

import segscore as ss  # noqa: E402
from segscore.app import lesions as L  # noqa: E402
from segscore.app.io import read_image, write_nifti  # noqa: E402
from support.cli_runs import HANGING_READ_MAIN  # noqa: E402

SHAPE = (40, 36, 16)
REF_SPACING = (0.9, 0.8, 2.0)
PRED_SPACING = (0.9004, 0.8, 2.0)  # within the geometry tolerance: brats2023 must use these (the script does)
MAIN = "import sys; from segscore.app.cli import main; sys.exit(main())"


def cli(*args, timeout=240):
    return subprocess.run([sys.executable, "-c", MAIN, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def _blob(shape, c, r):
    g = np.ogrid[tuple(slice(0, s) for s in shape)]
    return sum(((x - ci) / ri) ** 2 for x, ci, ri in zip(g, c, r)) <= 1.0


def _case(rng):
    """BraTS-like labels: tumours of label 2 with a core (1) and an enhancing part (3); the
    prediction shifted, one tumour missed, a false positive added."""
    ref = np.zeros(SHAPE, np.uint8)
    pred = np.zeros(SHAPE, np.uint8)
    centres = [(9, 9, 5), (28, 10, 9), (12, 26, 10), (30, 27, 6)]
    keep = rng.permutation(len(centres))[: rng.integers(2, 5)]
    miss = keep[0] if len(keep) > 2 else -1
    for i in keep:
        c = np.array(centres[i]) + rng.integers(-1, 2, 3)
        r = np.array([rng.uniform(3, 6), rng.uniform(3, 6), rng.uniform(2, 3.5)])
        for arr, shift in ((ref, 0), (pred, rng.integers(-1, 2))):
            if arr is pred and i == miss:
                continue
            cc = c + [shift, 0, 0]
            arr[_blob(SHAPE, cc, r)] = 2
            arr[_blob(SHAPE, cc, r * 0.6)] = 1
            arr[_blob(SHAPE, cc + [1, 0, 0], r * 0.3)] = 3
    pred[_blob(SHAPE, (20, 18, rng.integers(2, 13)), (1.5, 1.5, 1.2))] = rng.integers(1, 4)
    return pred, ref


def _probs(pred, rng):
    logits = rng.normal(0, 0.7, pred.shape + (4,)).astype(np.float32)
    onehot = np.eye(4, dtype=np.float32)[pred]
    logits += 3.0 * onehot
    e = np.exp(logits - logits.max(axis=3, keepdims=True))
    return (e / e.sum(axis=3, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("lesion_ds")
    rng = np.random.default_rng(11)
    for d in ("pred", "ref", "probs"):
        os.makedirs(root / d)
    for i in range(5):
        pred, ref = _case(rng)
        name = f"case_{i:02d}.nii.gz"
        write_nifti(root / "ref" / name, ref, REF_SPACING)
        write_nifti(root / "pred" / name, pred, PRED_SPACING)
        write_nifti(root / "probs" / name, _probs(pred, rng), REF_SPACING)
    return root


def _arrays(root, case):
    p = read_image(os.path.join(root, "pred", case + ".nii.gz"))
    r = read_image(os.path.join(root, "ref", case + ".nii.gz"))
    return p, r


def _present(p, r):
    return sorted({int(v) for v in np.unique(np.concatenate([p.ravel(), r.ravel()]))} - {0})


def _expected(root, cases, convention, options=None):
    """{case: LesionResult} as the CLI computes them (regions: the labels present; brats2023: its
    regions, with the prediction's zooms)."""
    out = {}
    options = options or {}
    for case in cases:
        p, r = _arrays(root, case)
        if convention == "brats2023":
            out[case] = ss.lesionwise(p.array, r.array, p.spacing, convention=convention, **options)
        else:
            regions = {k: (k,) for k in _present(p.array, r.array)}
            out[case] = ss.lesionwise(p.array, r.array, r.spacing, convention=convention, regions=regions, **options)
    return out


def _same(a, b):
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return a == b


def _norm(v):
    if isinstance(v, (tuple, list, np.ndarray)):
        return [int(x) for x in v]
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    return v


def _cases(root):
    return sorted(f[: -len(".nii.gz")] for f in os.listdir(root / "ref"))


def _check_run(root, out, convention, options=None):
    """The lesions table, the match table, the case-table columns and the summary aggregates
    against ss.lesionwise and ss.lesion_aggregate."""
    cases = _cases(root)
    exp = _expected(root, cases, convention, options)
    stem = str(out)[: -len(".parquet")]
    les = pd.read_parquet(stem + ".lesions.parquet")
    mt = pd.read_parquet(stem + ".lesion_matches.parquet")
    table = pd.read_parquet(out)
    summ = json.load(open(stem + ".summary.json"))["lesionwise"]
    assert summ["convention"] == convention
    n = 0
    for case in cases:
        res = exp[case]
        got = les[les["case"] == case]
        assert len(got) == len(res.lesions), (case, len(got), len(res.lesions))
        for (_, g), e in zip(got.iterrows(), res.lesions):
            for k, v in e.items():
                gv = g[k]
                assert _same(_norm(gv), _norm(v)) or (k == "region" and str(gv) == str(v)), (case, k, gv, v)
            n += 1
        gm = mt[mt["case"] == case]
        assert [(str(a), int(b), int(c), float(d)) for a, b, c, d in
                zip(gm["region"], gm["ref_id"], gm["pred_id"], gm["score"])] \
            == [(str(m["region"]), m["ref_id"], m["pred_id"], m["score"]) for m in res.matches]
        # the case table's lesion_ columns
        sums = res.summary
        for region, s in sums.items():
            row = table[(table["case"] == case) & (table["label"].astype(str) == str(region))]
            assert len(row) == 1, (case, region)
            row = row.iloc[0]
            for col in ("lesion_tp", "lesion_fp", "lesion_fn", "lesion_f1", "lesion_precision", "lesion_recall",
                        "lesion_sq_dice", "lesion_dice", "lesion_hd95"):
                key = col if col in s else col[len("lesion_"):]
                if key in s:
                    assert _same(float(row[col]), float(s[key])), (case, region, col, row[col], s[key])
    assert n == len(les) and n > 10
    # dataset aggregates: ss.lesion_aggregate per region over every case
    regions = list(summ["aggregate"])
    assert regions
    for region in regions:
        results = []
        for case in cases:
            res = exp[case]
            key = next(k for k in res.summary if str(k) == region)
            rows = [r for r in res.lesions if str(r["region"]) == region]
            results.append(ss.LesionResult(rows, [], res.summary[key], {**res.meta, "options": {
                **res.meta["options"], "regions": None}}, res.metrics))
        agg = ss.lesion_aggregate(results)
        got = summ["aggregate"][region]
        assert set(agg) == set(got)
        for k, v in agg.items():
            g = got[k]
            if isinstance(g, str):  # nan / inf as strings in JSON
                g = float(g)
            assert _same(float(g), float(v)) if isinstance(v, float) else g == v, (region, k, g, v)
    return les, table, summ


@pytest.mark.parametrize("convention,options", [
    ("segscore", []),
    ("brats2023", []),
    ("panoptica", ["metrics=dice,iou,assd,hd95"]),
    ("isles", []),
    ("lits", ["threshold=0.3"]),
])
def test_lesions_equal_lesionwise(data, tmp_path, convention, options):
    out = tmp_path / "res.parquet"
    args = [x for o in options for x in ("--lesion-option", o)]
    r = cli("score", data / "pred", data / "ref", "-o", out, "--lesionwise", convention, *args, "--no-plots",
            "--no-report", "--metrics", "dice", "--bootstrap", "50")
    assert r.returncode == 0, r.stderr
    opts = L.parse_options(options)
    les, table, summ = _check_run(data, out, convention, opts)
    if convention == "brats2023":
        # its regions are the rows of the table (voxel Dice per region beside the lesion columns)
        assert sorted(set(table["label"])) == ["ET", "TC", "WT"]
        assert set(les["region"]) <= {"WT", "TC", "ET"}
        assert "mean_lesion_dice" in summ["aggregate"]["WT"]
        # the prediction's zooms (not the reference's), rounded to float32 by the convention
        p, _ = _arrays(data, "case_00")
        v = les[(les["case"] == "case_00") & (les["kind"] == "fp")]
        if len(v):
            vol = float(np.prod(np.float32(p.spacing).astype(np.float64)))
            assert np.allclose(v["pred_volume"] / v["pred_voxels"], vol, rtol=1e-12)
    assert f"lesion-wise ({convention})" in r.stderr


def test_report_and_froc(data, tmp_path):
    """The report's lesion section and FROC plot; froc.json equals ss.froc on the same maps."""
    out = tmp_path / "res.parquet"
    r = cli("score", data / "pred", data / "ref", "-o", out, "--lesionwise", "segscore", "--probs", data / "probs",
            "--froc", "luna16", "--froc-threshold", "0.4", "--bootstrap", "40", "--seed", "3", "--metrics", "dice")
    assert r.returncode == 0, r.stderr
    doc = json.load(open(tmp_path / "res.froc.json"))
    cases = []
    for case in _cases(data):
        probs = read_image(os.path.join(data, "probs", case + ".nii.gz"), "prob").array
        _, ref = _arrays(data, case)
        fg = np.minimum(np.sum(probs[..., 1:], axis=3, dtype=np.float32), 1)
        cases.append({"prob": fg, "ref": ref.array > 0})
    exp = ss.froc(cases, convention="luna16", threshold=0.4, n_bootstrap=40, seed=3).to_dict()
    for k in ("num_targets", "num_images", "num_fp", "fps_per_image", "sensitivity", "thresholds", "fp_rates",
              "sensitivity_at", "score", "score_ci", "sensitivity_at_ci"):
        g, e = doc[k], exp[k]
        if isinstance(e, list):
            g = [float(x) if isinstance(x, str) else x for x in np.ravel(g).tolist()]
            assert np.allclose(g, np.ravel(e), rtol=0, atol=0, equal_nan=True), k
        else:
            assert g == e, (k, g, e)
    assert doc["meta"]["threshold"] == 0.4
    md = open(tmp_path / "res.report.md", encoding="utf-8").read()
    assert "## Lesion-wise" in md and "Worst lesions" in md and "FROC (luna16): score" in md
    assert "res_plots/froc.png" in md and os.path.exists(tmp_path / "res_plots" / "froc.png")
    html = open(tmp_path / "res.report.html", encoding="utf-8").read()
    assert "<h2>Lesion-wise</h2>" in html and "froc.png" in html
    s = json.load(open(tmp_path / "res.summary.json"))
    assert s["froc"]["score"] == doc["score"] and s["froc"]["file"] == "res.froc.json"


def test_froc_monai_equals_froc(data, tmp_path):
    out = tmp_path / "res.csv"
    r = cli("score", data / "pred", data / "ref", "-o", out, "--probs", data / "probs", "--froc", "monai",
            "--bootstrap", "0", "--no-plots", "--no-report", "--metrics", "dice", "-q")
    assert r.returncode == 0, r.stderr
    doc = json.load(open(tmp_path / "res.froc.json"))
    cases = []
    for case in _cases(data):
        probs = read_image(os.path.join(data, "probs", case + ".nii.gz"), "prob").array
        _, ref = _arrays(data, case)
        cases.append({"prob": np.minimum(np.sum(probs[..., 1:], axis=3, dtype=np.float32), 1), "ref": ref.array > 0})
    exp = ss.froc(cases, convention="monai").to_dict()
    for k in ("num_targets", "fps_per_image", "sensitivity", "sensitivity_at", "score"):
        assert doc[k] == exp[k], k
    assert not os.path.exists(tmp_path / "res.lesions.csv")  # FROC alone writes no lesion tables


def _journal_cases(path):
    if not os.path.exists(path):
        return []
    out = []
    for line in open(path, "rb").read().split(b"\n"):
        try:
            o = json.loads(line)
        except ValueError:
            continue
        if "case" in o:
            out.append(o["case"])
    return out


def test_resume_after_kill_writes_the_same_outputs(data, tmp_path):
    """Killed while a read hangs: the journal keeps the finished cases' lesion rows and FROC
    counts; --resume writes the lesions table, the aggregates and froc.json of a clean run."""
    root = tmp_path / "ds"
    for d in ("pred", "ref", "probs"):
        shutil.copytree(data / d, root / d)
    blocked = root / "pred" / "case_03.nii.gz"
    saved = blocked.read_bytes()
    blocked.unlink()
    os.mkfifo(blocked)
    out = tmp_path / "res.parquet"
    journal = tmp_path / "res.journal.jsonl"
    args = ["--lesionwise", "brats2023", "--lesion-option", "challenge=MET", "--probs", root / "probs", "--froc",
            "monai", "--no-plots", "--no-report", "--bootstrap", "30"]
    p = subprocess.Popen([sys.executable, "-c", HANGING_READ_MAIN, "score", str(root / "pred"), str(root / "ref"),
                          "-o", str(out), "--workers", "1", "--prefetch", "1", *map(str, args)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        t0 = time.time()
        while len(_journal_cases(journal)) < 3 and time.time() - t0 < 120:
            time.sleep(0.05)
        time.sleep(0.2)
        assert _journal_cases(journal) == ["case_00", "case_01", "case_02"]
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    blocked.unlink()
    blocked.write_bytes(saved)
    r = cli("score", root / "pred", root / "ref", "-o", out, "--resume", *args)
    assert r.returncode == 0, r.stderr
    assert "resuming: 3 of 5" in r.stderr
    clean = tmp_path / "clean" / "res.parquet"
    assert cli("score", root / "pred", root / "ref", "-o", clean, *args, "-q").returncode == 0
    for suffix in (".lesions.parquet", ".lesion_matches.parquet", ".parquet"):
        a = pd.read_parquet(str(out)[: -len(".parquet")] + suffix)
        b = pd.read_parquet(str(clean)[: -len(".parquet")] + suffix)
        pd.testing.assert_frame_equal(a, b)
    sa = json.load(open(tmp_path / "res.summary.json"))
    sb = json.load(open(tmp_path / "clean" / "res.summary.json"))
    assert sa["lesionwise"]["aggregate"] == sb["lesionwise"]["aggregate"]
    assert json.load(open(tmp_path / "res.froc.json")) == json.load(open(tmp_path / "clean" / "res.froc.json"))
    _check_run(root, out, "brats2023", {"challenge": "MET"})
    # resuming with other lesion options is refused
    r = cli("score", root / "pred", root / "ref", "-o", out, "--resume", "--lesionwise", "brats2023", "--probs",
            root / "probs", "--froc", "monai", "-q")
    assert r.returncode == 2 and "different options" in r.stderr and "lesion_options" in r.stderr


def test_a_failing_case_keeps_the_others(data, tmp_path):
    root = tmp_path / "ds"
    for d in ("pred", "ref"):
        shutil.copytree(data / d, root / d)
    (root / "pred" / "case_02.nii.gz").write_bytes(b"\x1f\x8b not a nifti")
    out = tmp_path / "res.parquet"
    r = cli("score", root / "pred", root / "ref", "-o", out, "--lesionwise", "isles", "--no-plots", "--metrics",
            "dice", "--bootstrap", "0")
    assert r.returncode == 3, r.stderr
    les = pd.read_parquet(tmp_path / "res.lesions.parquet")
    assert sorted(les["case"].unique()) == ["case_00", "case_01", "case_03", "case_04"]
    errors = pd.read_csv(tmp_path / "res.errors.csv")
    assert list(errors["case"]) == ["case_02"]
    summ = json.load(open(tmp_path / "res.summary.json"))["lesionwise"]["aggregate"]
    assert all(a["n_cases"] == 4 for a in summ.values())
    md = open(tmp_path / "res.report.md", encoding="utf-8").read()
    assert "## Lesion-wise" in md and "case_02" in md


@pytest.mark.parametrize("args,needle", [
    (["--lesionwise", "nonesuch"], "--lesionwise nonesuch: unknown lesion-wise convention 'nonesuch'"),
    (["--lesionwise", "segscore", "--lesion-option", "threshold=2"], "--lesion-option threshold=2: "),
    (["--lesionwise", "segscore", "--lesion-option", "thresh=0.3"], "unknown lesion option(s) 'thresh'"),
    (["--lesionwise", "segscore", "--lesion-option", "threshold"], "--lesion-option 'threshold': use key=value"),
    (["--lesionwise", "segscore", "--lesion-option", "connectivity=7"], "connectivity=7"),
    (["--lesionwise", "segscore", "--lesion-option", "metrics=dice,hd96"], "hd96"),
    (["--lesionwise", "brats2023", "--lesion-option", "challenge=XYZ"], "challenge='XYZ'"),
    (["--lesionwise", "segscore", "--lesion-option", "fn_penalty={bad"], "not valid JSON"),
    (["--lesion-option", "threshold=0.3"], "--lesion-option needs --lesionwise"),
    (["--froc", "monai"], "--froc monai needs the probability maps: add --probs DIR"),
    (["--lesionwise", "segscore", "--ignore-label", "4"], "--lesionwise does not take --ignore-label"),
])
def test_bad_options_name_the_option(data, tmp_path, args, needle):
    out = tmp_path / "res.parquet"
    r = cli("score", data / "pred", data / "ref", "-o", out, *args, timeout=120)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stderr.startswith("segscore: error: ") and needle in r.stderr, r.stderr
    assert not os.path.exists(tmp_path / "res.journal.jsonl")  # nothing read or written


def test_parse_values():
    assert L.parse_options(["threshold=0.3", "connectivity=6", "strict=false", "metrics=dice,hd95", "challenge=MET",
                            "tolerance=none", "fn_penalty={\"dice\": 0}", "min-size=10"]) == {
        "threshold": 0.3, "connectivity": 6, "strict": False, "metrics": ("dice", "hd95"), "challenge": "MET",
        "tolerance": None, "fn_penalty": {"dice": 0}, "min_size": 10}
    assert L.parse_value("1,2") == (1, 2) and L.parse_value("[1, 2]") == [1, 2] and L.parse_value("TRUE") is True
    with pytest.raises(ValueError, match="key=value"):
        L.parse_options(["x"])


def test_score_dataset_api(data, tmp_path):
    """The same through ss.score_dataset (lesionwise=, lesion_options=): res.lesion holds the tables."""
    res = ss.score_dataset(data / "pred", data / "ref", output=tmp_path / "r.csv", metrics=["dice"],
                           lesionwise="isles", plots=False, report=False, quiet=True, n_bootstrap=0)
    assert res.exit_code == 0
    les = pd.read_csv(tmp_path / "r.lesions.csv")
    assert len(les) == len(res.lesion["lesions"]) and set(res.lesion["aggregate"]) == {"1", "2", "3"}
    with pytest.raises(ValueError, match="FROC needs the probability maps"):
        ss.score_dataset(data / "pred", data / "ref", output=tmp_path / "x.csv", froc="monai", quiet=True)
    with pytest.raises(ValueError, match="lesion option threshold"):
        ss.score_dataset(data / "pred", data / "ref", output=tmp_path / "x.csv", lesionwise="segscore",
                         lesion_options={"threshold": 3.0}, quiet=True)


def test_instance_map_conventions_score_one_region(data, tmp_path):
    """monai (given instance maps): the whole map is one region, table row "all"; monai_cc_dice,
    whose summaries do not pool, still writes its lesion rows and says why it has no aggregate."""
    res = ss.score_dataset(data / "pred", data / "ref", output=tmp_path / "m.parquet", metrics=["dice"],
                           lesionwise="monai", plots=False, report=True, quiet=True, n_bootstrap=0)
    assert res.exit_code == 0
    t = res.table[res.table["label"] == "all"]
    assert len(t) == 5
    for case in _cases(data):
        p, r = _arrays(data, case)
        s = ss.lesionwise(p.array, r.array, r.spacing, convention="monai").summary
        row = t[t["case"] == case].iloc[0]
        for key in ("tp", "fp", "fn", "sq", "pq"):
            assert _same(float(row["lesion_" + key]), float(s[key])), (case, key)
    assert list(res.lesion["aggregate"]) == ["all"]
    res = ss.score_dataset(data / "pred", data / "ref", output=tmp_path / "c.parquet", metrics=["dice"],
                           lesionwise="monai_cc_dice", plots=False, report=True, quiet=True, n_bootstrap=0)
    assert res.exit_code == 0 and len(pd.read_parquet(tmp_path / "c.lesions.parquet"))
    for agg in res.lesion["aggregate"].values():
        assert "error" not in agg or agg["error"].startswith("ss.lesion_aggregate: ")

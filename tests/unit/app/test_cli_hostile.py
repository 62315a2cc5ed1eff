"""`segscore score` on hostile inputs and options: each test reproduces a way a run used to go
wrong (wrong rows after --resume, two runs on one output, a hang, a traceback, unbounded memory)
and checks the result now: the right table, or a `segscore: error: ...` naming the input and the
fix, before any case is scored; a bad case is a failed row and the others are scored (exit 3).
"""

import fcntl
import gzip
import json
import os
import shutil
import struct
import subprocess
import sys
import time
import zlib

import numpy as np
import pytest

pytest.importorskip("nibabel")
pd = pytest.importorskip("pandas")

from segscore.app.io import write_nifti  # noqa: E402
from support.cli_runs import HANGING_READ_MAIN  # noqa: E402

SHAPE = (16, 16, 16)
SPACING = (1.0, 1.0, 2.0)
MAIN = "import sys; from segscore.app.cli import main; sys.exit(main())"


def cli(*args, timeout=120, main=MAIN):
    cmd = [sys.executable, "-c", main, *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)




def clean_error(r, *words):
    """A one-line `segscore: error:` (no traceback) mentioning every word."""
    assert r.returncode not in (0, 3), (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    line = [ln for ln in r.stderr.splitlines() if ln.startswith("segscore: error:")]
    assert line, r.stderr
    for w in words:
        assert w in line[0], (w, line[0])
    return line[0]


def _case(i):
    r = np.zeros(SHAPE, np.uint8)
    r[4:10, 5:11, 3:9] = 1
    r[10:14, 2:6, 8:12] = 2
    return np.roll(r, i % 3, axis=i % 3), r


def make_ds(root, n=4, pred="pred", ref="ref"):
    os.makedirs(root / pred, exist_ok=True)
    os.makedirs(root / ref, exist_ok=True)
    for i in range(n):
        p, r = _case(i)
        write_nifti(root / ref / f"case{i}.nii.gz", r, SPACING)
        write_nifti(root / pred / f"case{i}.nii.gz", p, SPACING)
    return root / pred, root / ref


def journal_lines(path):
    return [json.loads(ln) for ln in open(path, "rb").read().split(b"\n") if ln.strip()]


def _nifti_raw(array=None, spacing=SPACING, tmp=None):
    array = _case(0)[1] if array is None else array
    p = os.path.join(tmp, "_raw.nii")
    write_nifti(p, array, spacing)
    with open(p, "rb") as f:
        raw = f.read()
    os.unlink(p)
    return raw


# ====================================================================== --resume
def test_resume_refuses_another_pred_folder(tmp_path):
    pred_a, ref = make_ds(tmp_path, pred="predA")
    pred_b, _ = make_ds(tmp_path, pred="predB")
    out = tmp_path / "out" / "r.csv"
    assert cli("score", pred_a, ref, "-o", out, "-q", "--no-plots", "--no-report").returncode == 0
    before = open(tmp_path / "out" / "r.journal.jsonl", "rb").read()
    r = cli("score", pred_b, ref, "-o", out, "--resume", "-q")
    clean_error(r, "cannot resume", "prediction folder", str(pred_a), str(pred_b), "without --resume")
    assert r.returncode == 2
    assert open(tmp_path / "out" / "r.journal.jsonl", "rb").read() == before  # untouched
    # the header records the folders as absolute paths
    head = journal_lines(tmp_path / "out" / "r.journal.jsonl")[0]
    assert head["folders"] == {"pred": str(pred_a), "ref": str(ref), "raters": {}, "probs": None}
    # another reference folder, another rater set: refused the same way
    ref_b = tmp_path / "refB"
    shutil.copytree(ref, ref_b)
    clean_error(cli("score", pred_a, ref_b, "-o", out, "--resume", "-q"), "reference folder", str(ref_b))
    out2 = tmp_path / "out2" / "r.csv"
    assert cli("score", pred_a, ref, "-o", out2, "--rater", f"r1={ref_b}", "-q", "--no-plots").returncode == 0
    clean_error(cli("score", pred_a, ref, "-o", out2, "--resume", "--rater", f"r1={ref}", "-q"), "rater folders",
                f"r1={ref_b}", f"r1={ref}")


def test_resume_rescores_a_changed_case(tmp_path):
    pred, ref = make_ds(tmp_path)
    out = tmp_path / "r.parquet"
    common = ["-q", "--no-plots", "--no-report"]
    assert cli("score", pred, ref, "-o", out, *common).returncode == 0
    recs = journal_lines(tmp_path / "r.journal.jsonl")[1:]
    f = recs[0]["files"]["pred"]
    assert f[0] == "case0.nii.gz" and f[1] == os.path.getsize(pred / "case0.nii.gz") and f[2] > 0
    # case2's prediction changes (other content, other size / mtime)
    p = np.zeros(SHAPE, np.uint8)
    p[2:8, 2:8, 2:8] = 1
    write_nifti(pred / "case2.nii.gz", p, SPACING)
    r = cli("score", pred, ref, "-o", out, "--resume", "--no-plots", "--no-report")
    assert r.returncode == 0, r.stderr
    assert "1 cases changed" in r.stderr and "case2" in r.stderr
    t = pd.read_parquet(out)
    assert not t.duplicated(["case", "label"]).any()
    clean = tmp_path / "clean.parquet"
    assert cli("score", pred, ref, "-o", clean, *common).returncode == 0
    pd.testing.assert_frame_equal(t, pd.read_parquet(clean))
    cases = [rec["case"] for rec in journal_lines(tmp_path / "r.journal.jsonl")[1:]]
    assert sorted(cases) == ["case0", "case1", "case2", "case2", "case3"]  # the last case2 line wins
    # a changed case that now fails replaces its old rows with an error row
    (pred / "case1.nii.gz").write_bytes(b"\x1f\x8b garbage")
    r = cli("score", pred, ref, "-o", out, "--resume", *common)
    assert r.returncode == 3
    t = pd.read_parquet(out)
    assert "case1" not in set(t["case"]) and not t.duplicated(["case", "label"]).any()
    assert list(pd.read_csv(tmp_path / "r.errors.csv")["case"]) == ["case1"]


def test_resume_journal_without_identities_scores_everything_again(tmp_path):
    """A journal written before folders and file identities were recorded: --resume is accepted
    (same PRED / REF) and every case is scored again, since nothing says the files are the same."""
    pred, ref = make_ds(tmp_path)
    out = tmp_path / "r.csv"
    assert cli("score", pred, ref, "-o", out, "-q", "--no-plots", "--no-report").returncode == 0
    j = tmp_path / "r.journal.jsonl"
    lines = journal_lines(j)
    del lines[0]["folders"]
    for rec in lines[1:]:
        del rec["files"]
    j.write_text("".join(json.dumps(x) + "\n" for x in lines))
    r = cli("score", pred, ref, "-o", out, "--resume", "--no-plots", "--no-report")
    assert r.returncode == 0, r.stderr
    assert "older segscore" in r.stderr and "[4/4]" in r.stderr
    t = pd.read_csv(out)
    assert sorted(t["case"].unique()) == ["case0", "case1", "case2", "case3"]
    assert not t.duplicated(["case", "label"]).any()
    # an old journal for another PRED folder is still refused
    lines[0]["pred"] = "/elsewhere/pred"
    j.write_text("".join(json.dumps(x) + "\n" for x in lines))
    clean_error(cli("score", pred, ref, "-o", out, "--resume", "-q"), "/elsewhere/pred")


# ====================================================================== one run per output
def test_second_run_on_the_same_output_is_refused(tmp_path):
    pred, ref = make_ds(tmp_path)
    blocked = pred / "case3.nii.gz"
    saved = blocked.read_bytes()
    blocked.unlink()
    os.mkfifo(blocked)
    out = tmp_path / "r.csv"
    first = subprocess.Popen([sys.executable, "-c", HANGING_READ_MAIN, "score", pred, ref, "-o", out, "--metrics",
                              "dice", "--workers", "1", "--prefetch", "1", "-q", "--no-plots", "--no-report"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        t0 = time.time()
        while time.time() - t0 < 60 and not (tmp_path / "r.journal.jsonl").exists():
            time.sleep(0.05)
        lock = tmp_path / "r.lock"
        assert json.loads(lock.read_text())["pid"] == first.pid
        t0 = time.time()
        second = cli("score", pred, ref, "-o", out, "--metrics", "hd95", "-q", timeout=60)
        assert time.time() - t0 < 30  # at once, not after the first run
        clean_error(second, "another segscore run", str(out), f"pid {first.pid}", "started")
        assert second.returncode == 1
        with open(blocked, "wb") as f:  # let the first run go on: its FIFO case fails
            f.write(saved)
        assert first.wait(timeout=60) == 3, first.stderr.read()
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    t = pd.read_csv(out)
    assert "dice" in t.columns and "hd95" not in t.columns
    assert sorted(t["case"].unique()) == ["case0", "case1", "case2"]
    for rec in journal_lines(tmp_path / "r.journal.jsonl"):  # no interleaved lines
        assert "segscore_journal" in rec or rec["case"] in {"case0", "case1", "case2", "case3"}
    assert not (tmp_path / "r.lock").exists()  # removed when the run ends
    blocked.unlink()
    blocked.write_bytes(saved)
    assert cli("score", pred, ref, "-o", out, "-q", "--no-plots", "--no-report").returncode == 0


def test_lock_names_its_owner_and_a_stale_lock_file_is_taken_over(tmp_path):
    pred, ref = make_ds(tmp_path, n=2)
    out = tmp_path / "r.csv"
    lock = tmp_path / "r.lock"
    lock.write_text(json.dumps({"pid": 4242, "host": "elsewhere", "started": "2026-01-02T03:04:05+00:00",
                                "command": "segscore score"}))
    with open(lock, "rb") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        r = cli("score", pred, ref, "-o", out, "-q")
    clean_error(r, "pid 4242 on elsewhere, started 2026-01-02T03:04:05+00:00", str(lock))
    assert not (tmp_path / "r.journal.jsonl").exists()
    # the lock file left by a killed run (no one holds it) does not stop the next one
    assert lock.exists()
    r = cli("score", pred, ref, "-o", out, "-q", "--no-plots", "--no-report")
    assert r.returncode == 0, r.stderr
    assert not lock.exists()


# ====================================================================== options, empty inputs
@pytest.mark.parametrize("args, words", [
    (["--prefetch", "0"], ["--prefetch", ">= 1", "got 0"]),
    (["--prefetch", "-1"], ["--prefetch", ">= 1", "got -1"]),
    (["--workers", "0"], ["--workers", ">= 1"]),
    (["--geometry-tolerance", "-1"], ["--geometry-tolerance", ">= 0"]),
    (["--geometry-tolerance", "nan"], ["--geometry-tolerance", "finite"]),
    (["--bootstrap", "-5"], ["--bootstrap", "got -5"]),
    (["--seed", "-1"], ["--seed", ">= 0"]),
    (["--bins", "0"], ["--bins"]),
    (["--labels", '{"a": 1.7}'], ["--labels", "1.7", "not an integer"]),
    (["--labels", '[1, 2.5]'], ["--labels", "2.5", "not an integer"]),
    (["--labels", '{"a": 1'], ["--labels", "not valid JSON"]),
    (["--empty", '{"dice": '], ["--empty", "not valid JSON"]),
])
def test_bad_option_values_refused_before_scoring(tmp_path, args, words):
    pred, ref = make_ds(tmp_path, n=1)
    r = cli("score", pred, ref, "-o", tmp_path / "r.csv", *args)
    clean_error(r, *words)
    assert r.returncode == 2
    assert not (tmp_path / "r.journal.jsonl").exists()


def test_labels_file_with_bad_json_names_option_and_file(tmp_path):
    pred, ref = make_ds(tmp_path, n=1)
    (tmp_path / "labels.json").write_text('{"labels": {"liver": 1,}}')
    clean_error(cli("score", pred, ref, "-o", tmp_path / "r.csv", "--labels", tmp_path / "labels.json"),
                "--labels", str(tmp_path / "labels.json"), "JSON")


def test_api_refuses_the_same_option_values(tmp_path):
    import segscore as ss

    pred, ref = make_ds(tmp_path, n=1)
    bad = [dict(prefetch=0), dict(workers=0), dict(n_bootstrap=-5), dict(seed=-1), dict(geometry_tolerance=-1.0),
           dict(geometry_tolerance=float("nan")), dict(labels='{"a": 1.7}')]
    for kw in bad:
        with pytest.raises(ValueError):
            ss.score_dataset(pred, ref, output=tmp_path / "r.csv", quiet=True, plots=False, report=False, **kw)
    assert not (tmp_path / "r.journal.jsonl").exists()


def test_no_case_files_is_an_error(tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "r").mkdir()
    (tmp_path / "p" / "notes.txt").write_text("not an image")
    r = cli("score", tmp_path / "p", tmp_path / "r", "-o", tmp_path / "out" / "r.csv")
    clean_error(r, "no image files", str(tmp_path / "p"), str(tmp_path / "r"))
    assert not (tmp_path / "out").exists()


def test_device_that_is_not_usable_is_refused(tmp_path):
    import segscore as ss

    if ss.backends()["cuda"]["usable"]:
        pytest.skip("a CUDA device is usable here")
    pred, ref = make_ds(tmp_path, n=1)
    r = cli("score", pred, ref, "-o", tmp_path / "r.csv", "--device", "cuda")
    clean_error(r, "--device cuda", "not usable", "--device cpu")
    assert not (tmp_path / "r.journal.jsonl").exists()


def test_unreachable_scheduler_is_a_clear_error(tmp_path):
    pytest.importorskip("distributed")
    pred, ref = make_ds(tmp_path, n=1)
    out = tmp_path / "r.csv"
    # a journal of an earlier run is left alone when the scheduler cannot be reached
    assert cli("score", pred, ref, "-o", out, "-q", "--no-plots", "--no-report").returncode == 0
    before = open(tmp_path / "r.journal.jsonl", "rb").read()
    main = "import sys, segscore.app.runners as d; d.DASK_CONNECT_TIMEOUT_S = 2.0\n" + MAIN
    t0 = time.time()
    r = cli("score", pred, ref, "-o", out, "--scheduler", "tcp://127.0.0.1:9", "-q", main=main, timeout=90)
    assert time.time() - t0 < 60
    clean_error(r, "Dask scheduler", "tcp://127.0.0.1:9", "within 2 s")
    assert open(tmp_path / "r.journal.jsonl", "rb").read() == before
    assert not (tmp_path / "r.lock").exists()


# ====================================================================== output paths
def test_output_paths_checked_before_scoring(tmp_path):
    pred, ref = make_ds(tmp_path, n=2)
    (tmp_path / "isdir.csv").mkdir()
    clean_error(cli("score", pred, ref, "-o", tmp_path / "isdir.csv"), "is a folder", "give a file name")
    (tmp_path / "out.txt").write_text("a file")
    clean_error(cli("score", pred, ref, "-o", tmp_path / "out.txt" / "results.csv"), str(tmp_path / "out.txt"),
                "is a file, not a folder")
    clean_error(cli("score", pred, ref, "-o", tmp_path / "out.txt" / "a" / "b" / "results.csv"), "is a file")
    (tmp_path / "j").mkdir()
    (tmp_path / "j" / "r.journal.jsonl").mkdir()
    clean_error(cli("score", pred, ref, "-o", tmp_path / "j" / "r.csv"), "journal", "is a folder")
    (tmp_path / "pl").mkdir()
    (tmp_path / "pl" / "r_plots").write_text("x")
    clean_error(cli("score", pred, ref, "-o", tmp_path / "pl" / "r.csv"), "plots", "--no-plots")
    assert cli("score", pred, ref, "-o", tmp_path / "pl" / "r.csv", "--no-plots", "-q").returncode == 0
    assert sorted(os.listdir(tmp_path / "j")) == ["r.journal.jsonl"]  # nothing scored, nothing written
    assert not (tmp_path / "isdir.journal.jsonl").exists()


def test_read_only_output_folder(tmp_path, monkeypatch):
    """A read-only file system (EROFS), simulated: refused before any case is read."""
    import errno
    import tempfile

    import segscore as ss
    import segscore.app.pairing as sd

    pred, ref = make_ds(tmp_path, n=1)
    real = tempfile.mkstemp

    def mkstemp(*a, dir=None, **kw):
        if dir is not None and os.path.abspath(dir) == str(tmp_path / "ro"):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), dir)
        return real(*a, dir=dir, **kw)

    (tmp_path / "ro").mkdir()
    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    read = []
    monkeypatch.setattr(sd, "read_image", lambda *a, **k: read.append(a))
    with pytest.raises(OSError, match="cannot write in the output folder .*Read-only file system"):
        ss.score_dataset(pred, ref, output=tmp_path / "ro" / "r.csv", quiet=True)
    assert read == [] and os.listdir(tmp_path / "ro") == []


@pytest.mark.skipif(not sys.platform.startswith("linux") or not os.path.isdir("/sys"),
                    reason="needs /sys, a folder where no one can create files")
def test_unwritable_output_folder_cli(tmp_path):
    pred, ref = make_ds(tmp_path, n=1)
    r = cli("score", pred, ref, "-o", "/sys/segscore-test-output/r.csv")
    if r.returncode == 0:  # pragma: no cover - an unusual /sys
        pytest.skip("/sys is writable here")
    clean_error(r, "/sys/segscore-test-output", "--output")
    r = cli("score", pred, ref, "-o", "/sys/r.csv")
    clean_error(r, "/sys", "--output")


# ====================================================================== hostile case files
def test_fifo_named_like_a_case_is_a_failed_case(tmp_path):
    pred, ref = make_ds(tmp_path)
    (pred / "case3.nii.gz").unlink()
    os.mkfifo(pred / "case3.nii.gz")
    r = cli("score", pred, ref, "-o", tmp_path / "r.csv", "--no-plots", "--no-report", timeout=60)
    assert r.returncode == 3, r.stderr
    errs = pd.read_csv(tmp_path / "r.errors.csv")
    assert list(errs["case"]) == ["case3"] and "named pipe" in errs["reason"][0]
    assert errs["file"][0].endswith("case3.nii.gz")
    assert sorted(pd.read_csv(tmp_path / "r.csv")["case"].unique()) == ["case0", "case1", "case2"]


def test_symlink_loops_are_failed_cases(tmp_path):
    pred, ref = make_ds(tmp_path)
    os.symlink("loop.nii.gz", pred / "loop.nii.gz")  # a link to itself
    os.symlink("b.nii.gz", pred / "a.nii.gz")  # a loop of two
    os.symlink("a.nii.gz", pred / "b.nii.gz")
    os.symlink(".", pred / "sub")  # a folder cycle
    os.symlink("../ref", pred / "up")
    (ref / "case2.nii.gz").unlink()
    os.symlink("case2.nii.gz", ref / "case2.nii.gz")
    os.symlink("nowhere.nii.gz", pred / "dangling.nii.gz")
    r = cli("score", pred, ref, "-o", tmp_path / "r.csv", "--no-plots", "--no-report", timeout=60)
    assert r.returncode == 3, r.stderr
    assert "Traceback" not in r.stderr
    errs = pd.read_csv(tmp_path / "r.errors.csv").set_index("case")["reason"].to_dict()
    assert set(errs) == {"loop", "a", "b", "case2", "dangling"}
    for c in ("loop", "a", "b", "case2"):
        assert "symbolic link loop" in errs[c], errs[c]
    assert "reference folder" in errs["case2"]
    assert sorted(pd.read_csv(tmp_path / "r.csv")["case"].unique()) == ["case0", "case1", "case3"]


def _bomb(raw, zeros):
    """A valid gzip file of `raw` followed by `zeros` zero bytes (deflate at its ~1000:1 limit)."""
    body = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(1 << 24)
    parts = [body.compress(raw), body.flush(zlib.Z_FULL_FLUSH)]
    piece = body.compress(chunk) + body.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(raw)
    for _ in range(zeros // len(chunk)):
        parts.append(piece)
        crc = zlib.crc32(chunk, crc)
    parts.append(body.flush())
    size = len(raw) + zeros // len(chunk) * len(chunk)
    return b"\x1f\x8b\x08\x00\0\0\0\0\x00\x03" + b"".join(parts) + struct.pack("<II", crc, size & 0xFFFFFFFF)


def test_decompression_bomb_is_bounded_and_a_failed_case(tmp_path):
    """A ~1 MB .nii.gz whose header declares 512 voxel bytes followed by 1 GiB of zeros."""
    raw = _nifti_raw(np.ones((8, 8, 8), np.uint8), tmp=str(tmp_path))
    assert len(raw) == 352 + 512
    blob = _bomb(raw, 1 << 30)
    assert len(blob) < 1_100_000
    bomb = tmp_path / "bomb.nii.gz"
    bomb.write_bytes(blob)
    code = ("import resource, sys\n"
            "from segscore.app.io import read_image, CaseError\n"
            "try:\n"
            "    read_image(sys.argv[1])\n"
            "    print('read')\n"
            "except CaseError as e:\n"
            "    print('error:', e.reason)\n"
            # VmHWM: this process's peak RSS (ru_maxrss survives exec, so it would include
            # the peak of the pytest process that forked it)
            "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
            "print('maxrss_kb', hwm)\n")
    r = subprocess.run([sys.executable, "-c", code, str(bomb)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "error: the gzip stream holds more data than the header declares" in r.stdout
    maxrss_mb = int(r.stdout.split("maxrss_kb")[1]) / 1024
    assert maxrss_mb < 300, maxrss_mb  # 1 GiB decoded would be > 1000
    # in a run: that case fails, naming the file, the others are scored
    pred, ref = make_ds(tmp_path)
    shutil.copy(bomb, pred / "case1.nii.gz")
    r = cli("score", pred, ref, "-o", tmp_path / "r.csv", "--no-plots", "--no-report", timeout=60)
    assert r.returncode == 3, r.stderr
    errs = pd.read_csv(tmp_path / "r.errors.csv")
    assert list(errs["case"]) == ["case1"] and "more data than the header declares" in errs["reason"][0]
    assert errs["file"][0].endswith("case1.nii.gz")


def _write_patched(path, raw, patches, gz=True):
    b = bytearray(raw)
    for off, fmt, val in patches:
        struct.pack_into("<" + fmt, b, off, val)
    path.write_bytes(gzip.compress(bytes(b), 1) if gz else bytes(b))


def test_zero_nan_pixdim_and_short_or_long_data_are_failed_cases(tmp_path):
    pred, ref = make_ds(tmp_path, n=6)
    raw = _nifti_raw(_case(0)[0], tmp=str(tmp_path))
    _write_patched(pred / "case0.nii.gz", raw, [(76 + 4 * 3, "f", 0.0)])  # pixdim[3] = 0
    _write_patched(pred / "case1.nii.gz", raw, [(76 + 4 * 2, "f", float("nan"))])  # pixdim[2] = NaN
    _write_patched(pred / "case2.nii", raw[:-100], [], gz=False)  # truncated plain file
    (pred / "case2.nii.gz").unlink()
    (pred / "case3.nii.gz").write_bytes(gzip.compress(raw + bytes(4096), 1))  # more data than declared
    (pred / "case4.nii.gz").write_bytes(gzip.compress(raw, 1)[:-30])  # truncated stream
    r = cli("score", pred, ref, "-o", tmp_path / "r.csv", "--no-plots", "--no-report")
    assert r.returncode == 3, r.stderr
    errs = pd.read_csv(tmp_path / "r.errors.csv").set_index("case")
    reason = errs["reason"].to_dict()
    assert "pixdim[3]" in reason["case0"] and "is 0" in reason["case0"]
    assert "pixdim[2]" in reason["case1"] and "NaN" in reason["case1"] and "differs" not in reason["case1"]
    assert "truncated image data" in reason["case2"]
    assert "more data than its header declares" in reason["case3"] or "more data than the header" in reason["case3"]
    assert "truncated" in reason["case4"]
    for c in ("case0", "case1", "case2", "case3", "case4"):
        assert errs["file"][c].startswith(str(pred / c)), errs["file"][c]
    assert list(pd.read_csv(tmp_path / "r.csv")["case"].unique()) == ["case5"]

"""`score_dataset`: score every case of a test set, the engine behind `segscore score`.

Pipeline (one case = one unit of work, everywhere):

    pair files by case id  ->  load (read + decode, loader threads, bounded read-ahead)
      ->  score (a list of per-case *scorers*; the first calls ss.evaluate, the
          backend-dispatching entry point)  ->  journal (one JSON line per case,
          flush + fsync)  ->  at the end: table, errors, summary, plots, report
          (all derived from the journal, written atomically).

The journal ``<stem>.journal.jsonl`` next to the output is the single source
of truth: a case's line is complete or absent, so a crash or Ctrl-C loses no
finished case, and ``resume=True`` skips the cases it holds.  The journal's
header records the options and the input folders (absolute paths); each case
line records its files' name, size and mtime_ns.  A resumed run refuses other
options or folders, and scores a case again when one of its files changed (the
last line of a case wins, so its old rows are replaced).  The final tables
are sorted by case id, so the serial run, a resumed run and a Dask run write
identical files.

Before any case is read: the options are checked, the input folders must hold
at least one image, every output path must be writable (no output name is a
folder, no parent is a file, the folder accepts a new file), and the run takes
an advisory lock (flock) on ``<stem>.lock`` next to the output, holding its
pid, host and start time: a second run on the same output fails at once and
names the first.  A Dask scheduler that cannot be reached within
DASK_CONNECT_TIMEOUT_S is an error before the journal is touched.

A scorer is any callable ``scorer(case: LoadedCase, cfg: Config) -> ScorerOutput``
(picklable when Dask is used).  Calibration and multi-rater scorers plug in
through the same list (``scorers=``).
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading
import time

import numpy as np

from .io import CaseError, blocking_file
from .journal import JOURNAL_VERSION, Journal, read_journal
from .pairing import case_identity, pair_cases, rater_folders
from .runners import DaskRunner, dask_records, local_records
from .scorers import Config, evaluate_kwargs


# ====================================================================== results object
class DatasetResult:
    """What `score_dataset` returns: ``table`` (per case, per label), ``errors``, ``summary`` (per
    label and metric), ``paths`` of the written files, ``timing`` and ``exit_code``."""

    def __init__(self, table, errors, summary, paths, timing, info):
        self.table = table
        self.errors = errors
        self.summary = summary
        self.paths = paths
        self.timing = timing
        self.info = info

    @property
    def n_failed(self) -> int:
        return len(self.errors)

    @property
    def exit_code(self) -> int:
        if self.info.get("interrupted"):
            return 130
        return 3 if self.n_failed else 0

    def __repr__(self):
        n = self.table["case"].nunique() if len(self.table) else 0
        return f"DatasetResult({n} cases scored, {self.n_failed} failed, output={self.paths.get('table')!r})"


def output_paths(output) -> dict:
    output = os.fspath(output)
    d, name = os.path.split(os.path.abspath(output))
    stem = name
    for suf in (".parquet", ".csv", ".json", ".jsonl"):
        if name.lower().endswith(suf):
            stem = name[: -len(suf)]
            break
    p = lambda s: os.path.join(d, stem + s)  # noqa: E731
    return {"table": os.path.abspath(output), "journal": p(".journal.jsonl"), "errors": p(".errors.csv"),
            "summary": p(".summary.csv"), "summary_json": p(".summary.json"), "plots": p("_plots"),
            "report_md": p(".report.md"), "report_html": p(".report.html"), "nnunet": os.path.join(d, "summary.json"),
            "lock": p(".lock"), "dir": d, "stem": stem}


# ====================================================================== outputs and the run lock
class OutputError(OSError):
    """An output path that cannot be written (found before any case is scored)."""


class RunLockedError(OutputError):
    """Another run holds the output's lock."""


def check_outputs(paths: dict, format=None, plots=True, report=True) -> None:
    """Create the output folder and make sure every output can be written: no output name is a
    folder, no parent is a regular file, the folder is writable (tested by creating a file)."""
    d = paths["dir"]
    p = blocking_file(d)
    if p is not None:
        raise OutputError(f"output {paths['table']}: {p} is a file, not a folder; choose an --output in a folder")
    try:
        os.makedirs(d, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {d}: {exc.strerror or exc}; choose a writable "
                          "--output") from None
    names = {"table": "output", "journal": "journal", "errors": "errors table", "summary": "summary",
             "summary_json": "summary", "lock": "lock file"}
    if report:
        names.update(report_md="report", report_html="report")
    if format == "nnunet":
        names["nnunet"] = "nnU-Net summary"
    for key, what in names.items():
        if os.path.isdir(paths[key]):
            hint = (f"; give a file name, e.g. {os.path.join(paths[key], 'results.parquet')}" if key == "table"
                    else "; remove it or choose another --output")
            raise OutputError(f"{what} path {paths[key]} is a folder{hint}")
    if plots and os.path.lexists(paths["plots"]) and not os.path.isdir(paths["plots"]):
        raise OutputError(f"plots folder {paths['plots']} is a file; remove it, choose another --output or "
                          "use --no-plots")
    for key in ("table", "journal"):
        if os.path.exists(paths[key]) and not os.access(paths[key], os.W_OK):
            raise OutputError(f"{names[key]} {paths[key]} is not writable; choose another --output")
    try:
        import tempfile

        fd, probe = tempfile.mkstemp(prefix=f".{paths['stem']}.", suffix=".probe", dir=d)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"cannot write in the output folder {d}: {exc.strerror or exc}; choose a writable "
                          "--output") from None


class RunLock:
    """One run at a time per output: an advisory lock (flock) on ``<stem>.lock`` next to the
    output, holding the owner's pid, host and start time; removed when the run ends."""

    def __init__(self, path: str, output: str):
        self.path = path
        self.fd = None
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return
        while True:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
            except OSError as exc:
                raise OutputError(f"cannot create the lock file {path}: {exc.strerror or exc}; choose a writable "
                                  "--output") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = _lock_owner(fd)
                os.close(fd)
                raise RunLockedError(f"another segscore run is writing {output} ({owner}; lock file {path}); "
                                     "wait for it to finish, or choose another --output") from None
            except OSError:  # a file system without flock (some network mounts): go on unlocked
                os.close(fd)
                return
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # the previous owner removed it between our open and flock: retry
        import datetime
        import socket

        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                "command": " ".join(sys.argv)}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode("utf-8"), 0)
        self.fd = fd

    def release(self):
        if self.fd is not None:
            try:
                os.unlink(self.path)  # while still holding it: a waiting run re-checks the path
            except OSError:
                pass
            os.close(self.fd)
            self.fd = None


def _lock_owner(fd) -> str:
    try:
        info = json.loads(os.pread(fd, 65536, 0).decode("utf-8"))
        return f"pid {info['pid']} on {info['host']}, started {info['started']}"
    except Exception:
        return "owner unknown"


# ====================================================================== option checks
def _check_int(value, what: str, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what} must be an integer, got {value!r}")
    if value < lo or (hi is not None and value > hi):
        rng = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise ValueError(f"{what} must be {rng}, got {value}")
    return int(value)


def check_run_options(workers=None, prefetch=None, seed=0, n_bootstrap=1000, geometry_tolerance=1e-3,
                      n_bins=15) -> None:
    """ValueError / TypeError for a run option out of range (before anything is read)."""
    if workers is not None:
        _check_int(workers, "workers", 1)
    if prefetch is not None:
        _check_int(prefetch, "prefetch (cases loaded ahead)", 1)
    _check_int(seed, "seed", 0)
    _check_int(n_bootstrap, "n_bootstrap (bootstrap resamples)", 0, 10_000_000)
    _check_int(n_bins, "n_bins (calibration bins)", 1, 100_000)
    if isinstance(geometry_tolerance, bool) or not isinstance(geometry_tolerance, (int, float, np.floating)):
        raise TypeError(f"geometry_tolerance must be a number, got {geometry_tolerance!r}")
    if not math.isfinite(geometry_tolerance) or geometry_tolerance < 0:
        raise ValueError(f"geometry_tolerance must be finite and >= 0, got {geometry_tolerance!r}")


def _check_device(device) -> None:
    """A named GPU backend must be usable here (segscore.backends() says why not)."""
    if device in (None, "auto") or not isinstance(device, str):
        return
    from .._core.backends import backends

    b = backends().get(device.strip().lower().split(":")[0])
    if b is not None and not b.get("usable"):
        raise ValueError(f"device {device!r} is not usable here: {b.get('reason')}; use device 'cpu', or leave "
                         "the device out to use the best usable backend")


# ====================================================================== the entry point
def score_dataset(pred, ref, *, raters=None, probs=None, output="results.parquet", labels=None, metrics=None,
                  tolerance=None, convention="segscore", empty=None, ignore_label=None, device=None, threads=None,
                  workers=None, prefetch=None, resume=False, scheduler=None, seed=0, n_bootstrap=1000,
                  format=None, plots=True, report=True, progress=None, quiet=False, geometry_tolerance=1e-3,
                  check_affine=True, n_bins=15, scorers=None, cases=None, log=None, lesionwise=None,
                  lesion_options=None, froc=None, froc_threshold=0.5, froc_hit="point") -> DatasetResult:
    """Score every case of a test set; the engine behind ``segscore score``.

    Files of the prediction and reference folders are paired by case id, each case is read
    (spacing from the headers, shapes and affines checked), scored with
    :func:`segscore.evaluate` (plus multi-rater, probability and custom scorers), and its rows
    are written to the journal ``<stem>.journal.jsonl`` (flushed, fsynced) as soon as they
    exist.  At the end the per-case table, the errors, a per-label summary (mean, std,
    quantiles, bootstrap confidence intervals, empty-mask counts), plots and a report are
    written atomically.  A case that cannot be read or does not match is an errors row with
    its reason; the others are scored.  See the module docstring and docs/cli.md.

    Parameters
    ----------
    pred, ref : str or path-like
        Folders of label maps (.nii.gz, .nii; .nrrd, .mha with SimpleITK), paired by case id
        (the file name without extension and without nnU-Net's ``_0000``).
    raters : list or dict of path-like, optional
        Further reference folders (a list, or ``{name: folder}``): the metrics against each
        rater, consensus Dice and, with `probs`, the volume CRPS and soft Dice.
    probs : path-like, optional
        A folder of probability maps, ``(x, y, z, C)`` with channel c = label c, or
        ``(x, y, z)`` = P(label 1): calibration and probabilistic-volume columns.
    output : path-like, default "results.parquet"
        The table (.parquet, .csv or .json); the journal, errors, summary, plots and report
        are written next to it, named after its stem.
    labels : int, sequence, dict or str, optional
        As in :func:`segscore.evaluate`, or a JSON file (nnU-Net v2 ``dataset.json``,
        ``{name: value | [values]}``), inline JSON, or a comma list ``"1,2,3"``.  None: the
        labels present in each case.  nnU-Net's ``ignore`` entry sets `ignore_label`.
    metrics, tolerance, convention, empty, ignore_label : optional
        As in :func:`segscore.evaluate` (the count columns are always added).
    device : {None, "cpu", "cuda", "cupy"}, optional
        Passed to :func:`segscore.evaluate`; a named GPU backend must be usable here.
    threads : int, optional
        Compute threads per case.
    workers : int, optional
        Loader threads (default min(4, cores)); the size of a local Dask cluster.
    prefetch : int, optional
        Cases loaded ahead of the compute (default max(2, workers)); bounds memory.
    resume : bool, default False
        Skip the cases the journal already holds (same options and folders required);
        cases whose files changed are scored again.
    scheduler : str or distributed.Client, optional
        A Dask scheduler address, ``"local"`` (a local cluster of `workers` processes) or a
        ``distributed.Client``; None: this process.
    seed, n_bootstrap : int
        Seed and resamples (default 0, 1000) of the summary's bootstrap intervals.
    format : {None, "nnunet"}, optional
        ``"nnunet"`` also writes nnU-Net v2's ``summary.json``.
    plots, report : bool, default True
        Write the PNG plots and the Markdown / HTML report (plots need matplotlib).
    progress : {None, "auto", "bar", "log", "none"}, optional
        Progress display (None: on unless `quiet`).
    quiet : bool, default False
        Print nothing but fatal errors.
    geometry_tolerance : float, default 1e-3
        Tolerance of the spacing (relative) and affine (mm) checks between the maps of a
        case.
    check_affine : bool, default True
        Also compare orientation (False: shape and spacing only).
    n_bins : int, default 15
        Calibration bins of the probability columns.
    scorers : list of callable, optional
        Extra per-case scorers ``scorer(case, cfg) -> ScorerOutput`` (picklable for Dask).
    cases : iterable of str, optional
        Only these case ids.
    log : callable, optional
        Receives the run's messages (default: stderr unless `quiet`).
    lesionwise : str, optional
        A lesion-wise convention (:func:`segscore.lesionwise`: ``"segscore"``,
        ``"brats2023"``, ``"panoptica"``, ...): each row's region is also scored lesion-wise
        (its ``lesion_`` columns), one row per lesion per case goes to
        ``<stem>.lesions.<ext>`` (the match table to ``<stem>.lesion_matches.<ext>``) and
        the dataset aggregates (:func:`segscore.lesion_aggregate` per region) to the summary
        and the report.  ``brats2023`` without `labels` scores its regions WT, TC, ET and
        takes the spacing of the prediction's header, as the BraTS 2023 script does.
    lesion_options : dict, optional
        Options of the convention (``threshold=0.3``, ``metrics=("dice", "hd95")``, ...).
    froc : {None, "monai", "luna16"}, optional
        With `probs`: :func:`segscore.froc` over the cases (detections: components of
        P(foreground) > `froc_threshold`, confidence their highest probability; targets: the
        reference components) to ``<stem>.froc.json`` and a plot.
    froc_threshold : float, default 0.5
    froc_hit : {"point", "overlap"}, default "point"
        As in :func:`segscore.froc`.

    Returns
    -------
    DatasetResult
        ``table`` (pandas, one row per case and label), ``errors`` (case, stage, file,
        reason), ``summary`` (per label and metric), ``paths`` of the written files,
        ``timing`` (read, decode, compute, write seconds), ``n_failed`` and ``exit_code``
        (0; 3 when some cases failed; 130 when interrupted).

    Raises
    ------
    ValueError, TypeError
        A bad option (checked before any file is read, the metric options on a dummy case),
        or a `device` that is not usable here.
    FileNotFoundError
        No image file in either folder (or none of the requested `cases`).
    OutputError
        An output path that cannot be written; ``RunLockedError`` when another run holds
        the output's lock.

    Notes
    -----
    Empty masks follow the convention's policy per metric (see :func:`segscore.evaluate`);
    the summary counts the ref-empty, pred-empty and both-empty rows of each metric.  The
    final tables are sorted by case id, so a serial run, a resumed run and a Dask run write
    identical files.

    Examples
    --------
    >>> import os, shutil, tempfile
    >>> import numpy as np
    >>> import nibabel as nib
    >>> import segscore as ss
    >>> tmp = tempfile.mkdtemp()
    >>> ref = np.zeros((8, 8, 4), np.uint8); ref[2:6, 2:6, 1:3] = 1
    >>> pred = ref.copy(); pred[2:6, 6, 1:3] = 1
    >>> affine = np.diag([0.8, 0.8, 2.5, 1.0])  # spacing (mm) from the header
    >>> for sub, cases in {"pred": {"a": pred, "b": ref}, "ref": {"a": ref, "b": ref}}.items():
    ...     os.makedirs(os.path.join(tmp, sub))
    ...     for case, img in cases.items():
    ...         nib.save(nib.Nifti1Image(img, affine), os.path.join(tmp, sub, case + ".nii.gz"))
    >>> res = ss.score_dataset(os.path.join(tmp, "pred"), os.path.join(tmp, "ref"),
    ...                        output=os.path.join(tmp, "out", "results.csv"), metrics=["dice", "hd95"],
    ...                        plots=False, report=False, quiet=True)
    >>> res.exit_code, res.n_failed
    (0, 0)
    >>> print(res.table[["case", "label", "dice", "hd95"]].round(4))  # doctest: +NORMALIZE_WHITESPACE
      case  label    dice  hd95
    0    a      1  0.8889   0.8
    1    b      1  1.0000   0.0
    >>> sorted(os.listdir(os.path.join(tmp, "out")))  # doctest: +NORMALIZE_WHITESPACE
    ['results.csv', 'results.errors.csv', 'results.journal.jsonl', 'results.summary.csv',
     'results.summary.json']
    >>> shutil.rmtree(tmp)
    """
    from . import summary as _summary

    t_start = time.perf_counter()
    labels_value, ignore_from_map = _summary.load_labels(labels)
    if ignore_label is None:
        ignore_label = ignore_from_map
    lesion_options = _check_lesion_options(lesionwise, lesion_options, froc, froc_threshold, froc_hit, probs,
                                           ignore_label)
    if lesionwise is not None and labels_value is None:
        from .lesions import default_labels

        labels_value = default_labels(lesionwise, lesion_options)
    check_run_options(workers=workers, prefetch=prefetch, seed=seed, n_bootstrap=n_bootstrap,
                      geometry_tolerance=geometry_tolerance, n_bins=n_bins)
    cfg = Config(labels=labels_value, metrics=metrics, tolerance=tolerance, convention=convention, empty=empty,
                 ignore_label=ignore_label, threads=threads, device=device, geometry_tolerance=geometry_tolerance,
                 check_affine=check_affine, n_bins=n_bins, has_raters=bool(raters), has_probs=probs is not None,
                 scorers=list(scorers or []), lesionwise=lesionwise, lesion_options=lesion_options, froc=froc,
                 froc_threshold=float(froc_threshold), froc_hit=froc_hit)
    _validate_options(cfg)
    if format not in (None, "nnunet"):
        raise ValueError(f"unknown format {format!r}; use 'nnunet' (or None)")
    paths = output_paths(output)
    _summary.check_output_format(paths["table"])
    specs = pair_cases(pred, ref, raters, probs, cases)
    if not specs:
        from .io import SUFFIXES

        where = f"in the prediction folder {os.fspath(pred)} or in the reference folder {os.fspath(ref)}"
        if cases is not None:
            raise FileNotFoundError(f"none of the requested cases is {where}")
        raise FileNotFoundError(f"no image files ({', '.join(SUFFIXES)}) {where}; check the folders")
    check_outputs(paths, format=format, plots=plots, report=report)
    lock = RunLock(paths["lock"], paths["table"])
    try:
        return _score_locked(specs, pred, ref, raters, probs, cfg, paths, resume, scheduler, workers, prefetch,
                             threads, seed, n_bootstrap, format, plots, report, progress, quiet, log, convention,
                             t_start)
    finally:
        lock.release()


def _score_locked(specs, pred, ref, raters, probs, cfg, paths, resume, scheduler, workers, prefetch, threads, seed,
                  n_bootstrap, format, plots, report, progress, quiet, log, convention, t_start) -> DatasetResult:
    from . import report as _report
    from . import summary as _summary
    from .progress import Progress

    identities = {s.case: case_identity(s) for s in specs}
    folders = {"pred": os.path.abspath(os.fspath(pred)), "ref": os.path.abspath(os.fspath(ref)),
               "raters": {n: os.path.abspath(d) for n, d in rater_folders(raters).items()},
               "probs": None if probs is None else os.path.abspath(os.fspath(probs))}
    header = {"segscore_journal": JOURNAL_VERSION, "config": cfg.fingerprint(), "pred": folders["pred"],
              "ref": folders["ref"], "folders": folders}
    log = log or (lambda msg: None if quiet else print(f"segscore: {msg}", file=sys.stderr, flush=True))
    ncpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if workers is None:
        workers = 2 if scheduler == "local" else max(1, min(4, ncpu))
    if prefetch is None:
        prefetch = max(2, workers)
    dask = None
    if scheduler is not None:  # connected before the journal is touched: an unreachable one changes nothing
        if scheduler == "local" and threads is None:
            cfg.threads = max(1, ncpu // workers)
        dask = DaskRunner(scheduler, workers, cfg.threads)
    try:
        journal = Journal(paths["journal"], header, resume)
    except BaseException:
        if dask is not None:
            dask.close()
        raise
    done = journal.done(identities)
    todo = [s for s in specs if s.case not in done]
    if resume and journal.legacy and journal.records:
        log(f"{paths['journal']} records no file identities (an older segscore wrote it): every case is scored again")
    elif resume:
        changed = [c for c in journal.done() if c in identities and c not in done]
        if changed:
            log(f"{len(changed)} cases changed since the journal was written (file size or time): scoring them again"
                f" ({', '.join(changed[:5])}{', ...' if len(changed) > 5 else ''})")
    prog = Progress(len(specs), initial=len(specs) - len(todo), enabled=not quiet if progress is None else progress,
                    log=log)
    if resume and done:
        log(f"resuming: {len(specs) - len(todo)} of {len(specs)} cases already scored in {paths['journal']}")
    stop = threading.Event()
    interrupted = False
    records = None
    write_s = 0.0
    try:
        if dask is not None:
            window = prefetch if prefetch is not None else 2 * dask.nworkers()
            records = dask_records(todo, cfg, dask.client, max(window, dask.nworkers()), stop)
            mode = f"dask ({scheduler if isinstance(scheduler, str) else 'client'}, {dask.nworkers()} workers)"
        else:
            records = local_records(todo, cfg, workers, prefetch, stop)
            mode = f"local ({workers} loader threads, {prefetch} cases ahead)"
        if todo:
            log(f"scoring {len(todo)} cases: {mode}")
        for rec in records:
            t0 = time.perf_counter()
            rec["files"] = identities.get(rec["case"])
            journal.append(rec)
            write_s += time.perf_counter() - t0
            prog.update(rec)
    except KeyboardInterrupt:
        interrupted = True
        stop.set()
        if records is not None:
            records.close()
        log("interrupted: finished cases are kept in the journal; run again with --resume to go on")
    finally:
        journal.close()
        prog.close()
        if dask is not None:
            dask.close()
    # ------------------------------------------------------------------ outputs
    t0 = time.perf_counter()
    _, records, _ = read_journal(paths["journal"])
    # only records of the files as they are now (a changed case not scored again yet is left out)
    order = [s.case for s in specs if s.case in records and records[s.case].get("files") == identities[s.case]]
    records = {c: records[c] for c in order}
    table, errors, extras = _summary.tables(records, has_raters=cfg.has_raters)
    summ = _summary.summarize(table, seed=seed, n_bootstrap=n_bootstrap)
    lesion = None
    if cfg.lesionwise is not None or cfg.froc is not None:
        from . import lesions as _lesions

        lesion = {"paths": _lesions.paths_for(paths)}
        if cfg.lesionwise is not None:
            lesion["lesions"], lesion["matches"] = _lesions.tables(records)
            lesion["aggregate"] = _lesions.aggregates(records, cfg)
            lesion["convention"] = cfg.lesionwise
            lesion["options"] = dict(cfg.lesion_options)
        lesion["froc"] = _lesions.froc_result(records, cfg, seed, n_bootstrap)
    timing = _summary.timing(records, wall_s=time.perf_counter() - t_start, write_s=write_s)
    info = {"n_cases": len(specs), "n_scored": int(table["case"].nunique()) if len(table) else 0,
            "n_failed": len(errors), "interrupted": interrupted, "device": _summary.devices(records),
            "seed": seed, "n_bootstrap": n_bootstrap, "convention": convention, "pred": os.fspath(pred),
            "ref": os.fspath(ref), "raters": rater_folders(raters), "probs": None if probs is None else os.fspath(probs),
            "decompressor": __import__("segscore.app.io", fromlist=["decompressor"]).decompressor()[0],
            "mode": "dask" if scheduler is not None else "local", "workers": workers}
    _summary.write_table(table, paths["table"])
    _summary.write_errors(errors, paths["errors"])
    if lesion is not None:
        from . import lesions as _lesions

        _lesions.write_outputs(lesion.get("lesions"), lesion.get("matches"), lesion["froc"], lesion["paths"])
        lp = lesion["paths"]
        if "lesions" in lesion:
            paths = {**paths, "lesions": lp["lesions"], "lesion_matches": lp["lesion_matches"]}
        if lesion["froc"] is not None:
            paths = {**paths, "froc": lp["froc"]}
    _summary.write_summary(summ, paths["summary"], paths["summary_json"], info, timing, errors,
                           lesion=_summary.lesion_section(lesion))
    if format == "nnunet":
        _summary.write_nnunet(table, records, specs, paths["nnunet"], cfg)
    plot_files = {}
    if plots:
        from . import plots as _plots

        plot_files = _plots.make_plots(table, summ, extras, paths["plots"])
        if lesion is not None and lesion.get("froc") and "error" not in lesion["froc"]:
            p = _plots.froc_plot(lesion["froc"], os.path.join(paths["plots"], "froc.png"))
            if p:
                plot_files["froc"] = p
    if report:
        _report.write_report(paths, table, summ, errors, info, timing, plot_files, lesion=lesion)
    timing["output_s"] = time.perf_counter() - t0
    res = DatasetResult(table, errors, summ, paths, timing, info)
    res.lesion = lesion
    return res


def _check_lesion_options(lesionwise, lesion_options, froc, froc_threshold, froc_hit, probs, ignore_label) -> dict:
    """The lesion-wise and FROC options checked (ValueError / TypeError naming the option)
    before anything is read; returns the lesion options as a dict."""
    opts = dict(lesion_options or {})
    if lesionwise is None:
        if opts:
            raise ValueError("lesion options need a lesion-wise convention (lesionwise=...)")
    else:
        from .lesions import check

        if not isinstance(lesionwise, str):
            raise TypeError(f"lesionwise must be a convention name, got {lesionwise!r}")
        if ignore_label is not None:
            raise ValueError("lesion-wise scoring does not take an ignore label (components would run through "
                             "ignored voxels); drop the ignore label")
        check(lesionwise, opts)
    if froc is not None:
        from ..lesion.froc import CONVENTIONS as FROC_CONVENTIONS

        if froc not in FROC_CONVENTIONS:
            raise ValueError(f"froc={froc!r} is not a FROC convention; use one of {', '.join(FROC_CONVENTIONS)}")
        if probs is None:
            raise ValueError("FROC needs the probability maps: give the probability folder (probs=..., --probs DIR)")
        if isinstance(froc_threshold, bool) or not isinstance(froc_threshold, (int, float)) or \
                not 0.0 <= float(froc_threshold) < 1.0:
            raise ValueError(f"froc_threshold must be a number in [0, 1), got {froc_threshold!r}")
        if froc_hit not in ("point", "overlap"):
            raise ValueError(f"froc_hit must be 'point' or 'overlap', got {froc_hit!r}")
    return opts


def _validate_options(cfg: Config) -> None:
    """Fail before reading any file when an option is wrong (evaluate on a tiny dummy case)."""
    from ..metrics.evaluate import evaluate

    _check_device(cfg.device)
    dummy = np.zeros((2, 2, 2), np.uint8)
    kw = evaluate_kwargs(cfg, (1.0, 1.0, 1.0))
    try:
        evaluate(dummy, dummy, **kw)
    except CaseError as exc:
        raise ValueError(exc.reason) from None
    except RuntimeError as exc:  # e.g. a device that cannot run here
        raise ValueError(str(exc)) from None

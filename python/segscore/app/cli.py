"""Command line: ``segscore score`` (a whole test set), ``segscore demo`` (a small example) and
``segscore compare`` (one's own cases under every convention, and the reference libraries).

Exit codes: 0 all cases scored; 3 some cases failed (see the errors table); 2 bad options
(checked before any case is read); 1 a fatal error (no input images, an output that cannot be
written, another run writing the same output, an unreachable scheduler); 130 interrupted
(finished cases are kept: run again with --resume).  ``segscore compare``: 0, 1, 2 as above, 3 some
cases could not be compared, 4 an installed reference library disagrees with its convention.
Errors print as ``segscore: error: ...``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from ..metrics import registry as _registry
from ..metrics.surface.conventions import CONVENTIONS

EXIT_FAILED_CASES = 3


def _metrics(s):
    return [m.strip() for m in s.split(",") if m.strip()] if s else None


class OptionError(ValueError):
    """A command-line option with a bad value (exit code 2)."""


def _empty(s):
    if s is None:
        return None
    t = s.strip()
    if t.startswith("{"):
        try:
            return json.loads(t)
        except ValueError as exc:
            raise OptionError(f"--empty {s!r}: not valid JSON ({exc})") from None
    if os.path.isfile(t):
        try:
            with open(t, encoding="utf-8") as f:
                return json.load(f)
        except (ValueError, UnicodeDecodeError) as exc:
            raise OptionError(f"--empty file {t}: not valid JSON ({exc})") from None
    try:
        return float(t)
    except ValueError:
        return t


def _metrics_help() -> str:
    """--metrics help, from the metric registry."""
    evaluate = _registry.select(scope=_registry.EVALUATE)
    always = [m.name for m in evaluate if m.default is True]
    given = [f"{m.name} with --{m.default}" for m in evaluate if isinstance(m.default, str)]
    return ("comma list of ss.evaluate metric names, e.g. dice,hd95,nsd@2; known: "
            + ", ".join(_registry.known(_registry.EVALUATE))
            + f"; default: {', '.join(always)} (those the convention defines)"
            + "".join(f", {g}" for g in given))


def _add_score_args(p: argparse.ArgumentParser, positional: bool = True) -> None:
    if positional:
        p.add_argument("pred", help="folder of predicted label maps (.nii.gz, .nii; .nrrd, .mha with SimpleITK)")
        p.add_argument("ref", help="folder of reference label maps; files are paired by case id")
        p.add_argument("-o", "--output", default="results.parquet",
                       help="per-case-per-label table: .parquet, .csv or .json (default results.parquet); "
                            "summary, errors, plots and report are written next to it")
    p.add_argument("--rater", action="append", default=None, metavar="[NAME=]DIR",
                   help="a further rater's folder (repeat for each rater)")
    p.add_argument("--probs", default=None, metavar="DIR",
                   help="folder of probability maps, (x, y, z, C) with channel c = label c, or (x, y, z) = P(label 1)")
    g = p.add_argument_group("metrics")
    g.add_argument("--labels", default=None,
                   help="label map: a JSON file (nnU-Net dataset.json, {name: value | [values]}), inline JSON, "
                        "or a comma list of label values; default: labels present in each case")
    g.add_argument("--metrics", default=None,
                   help=_metrics_help())
    g.add_argument("--tolerance", type=float, default=None, help="NSD tolerance in mm")
    g.add_argument("--convention", default="segscore", help=", ".join(CONVENTIONS))
    g.add_argument("--empty", default=None,
                   help="empty-mask policy: a value (nan, inf, 0, 1, worst) or JSON {metric: {ref|pred|both: value}}")
    g.add_argument("--ignore-label", type=int, default=None, help="reference label whose voxels are not counted")
    g.add_argument("--bins", type=int, default=15, help="calibration bins (default 15)")
    g = p.add_argument_group("lesion-wise")
    g.add_argument("--lesionwise", default=None, metavar="CONVENTION",
                   help="also score lesion-wise (ss.lesionwise) under a convention: " + ", ".join(_lesion_names())
                        + "; writes <stem>.lesions.<ext> (one row per lesion per case), <stem>.lesion_matches.<ext>, "
                          "lesion_ columns in the table and dataset aggregates in the summary and report "
                          "(brats2023 without --labels: its regions WT, TC, ET)")
    g.add_argument("--lesion-option", action="append", default=None, metavar="KEY=VALUE",
                   help="an option of the lesion-wise convention (repeat), e.g. threshold=0.3, connectivity=6, "
                        "metrics=dice,hd95, challenge=MET, fn_penalty='{\"dice\": 0}'; values are typed "
                        "(int, float, true/false, none, JSON, comma lists as tuples)")
    g.add_argument("--froc", choices=["monai", "luna16"], default=None,
                   help="with --probs: FROC of the probability maps (components of P(foreground) > "
                        "--froc-threshold against the reference lesions) to <stem>.froc.json and a plot")
    g.add_argument("--froc-threshold", type=float, default=0.5, metavar="P",
                   help="probability above which voxels form detections (default 0.5)")
    g.add_argument("--froc-hit", choices=["point", "overlap"], default="point",
                   help="point: a detection hits the lesion under its most probable voxel (MONAI); overlap: every "
                        "lesion it touches (default point)")
    g = p.add_argument_group("execution")
    g.add_argument("--device", default=None, help="cpu, cuda or cupy (default: the best usable)")
    g.add_argument("--threads", type=int, default=None, help="compute threads per case (default: all cores)")
    g.add_argument("--workers", type=int, default=None,
                   help="loader threads (default min(4, cores)); Dask local cluster size (default 2)")
    g.add_argument("--prefetch", type=int, default=None,
                   help="cases loaded ahead of the compute, bounds memory (default max(2, workers))")
    g.add_argument("--resume", action="store_true", help="skip cases already in the journal of a previous run (same options and folders); "
                        "cases whose files changed since are scored again")
    g.add_argument("--scheduler", default=None, metavar="ADDRESS", help="run on a Dask distributed scheduler")
    g.add_argument("--dask", choices=["local"], default=None, help="run on a local Dask cluster (--workers processes)")
    g.add_argument("--geometry-tolerance", type=float, default=1e-3,
                   help="tolerance of the spacing (relative) and affine (mm) checks (default 1e-3)")
    g.add_argument("--ignore-affine", action="store_true", help="check shape and spacing only, not orientation")
    g = p.add_argument_group("output")
    g.add_argument("--format", choices=["nnunet"], default=None, help="nnunet: also write nnU-Net v2's summary.json")
    g.add_argument("--seed", type=int, default=0, help="seed of the bootstrap confidence intervals (default 0)")
    g.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (default 1000)")
    g.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    g.add_argument("--no-report", action="store_true", help="skip the Markdown/HTML report")
    g.add_argument("-q", "--quiet", action="store_true", help="print nothing but fatal errors")
    g.add_argument("--progress", choices=["auto", "bar", "log", "none"], default="auto",
                   help=argparse.SUPPRESS)


def _lesion_names() -> list:
    from ..lesion.conventions import names

    return names()


def check_lesion_options(a) -> dict:
    """The --lesion-option values typed and checked by the convention (OptionError naming
    the option), before anything is read."""
    from . import lesions as L

    if a.froc is not None and a.probs is None:
        raise OptionError(f"--froc {a.froc} needs the probability maps: add --probs DIR")
    if not 0.0 <= a.froc_threshold < 1.0:
        raise OptionError(f"--froc-threshold must be in [0, 1), got {a.froc_threshold}")
    if a.lesionwise is None:
        if a.lesion_option:
            raise OptionError("--lesion-option needs --lesionwise CONVENTION")
        return {}
    names = _lesion_names()
    if a.lesionwise not in names:
        raise OptionError(f"--lesionwise {a.lesionwise}: unknown lesion-wise convention {a.lesionwise!r}; "
                          f"known: {', '.join(names)}")
    if a.ignore_label is not None:
        raise OptionError("--lesionwise does not take --ignore-label (components would run through ignored voxels)")
    try:
        opts = L.parse_options(a.lesion_option)
    except ValueError as exc:
        raise OptionError(str(exc)) from None
    try:
        L.check(a.lesionwise, opts)
    except (ValueError, TypeError) as exc:
        given = " ".join(a.lesion_option or [])
        raise OptionError(f"--lesion-option {given}: {exc}" if given else f"--lesionwise {a.lesionwise}: {exc}") \
            from None
    return opts


def _raters(values):
    if not values:
        return None
    out = {}
    for i, v in enumerate(values):
        if "=" in v and not os.path.exists(v):
            name, d = v.split("=", 1)
        else:
            d = v
            name = os.path.basename(os.path.normpath(v)) or f"rater{i + 1}"
        if name in out or name == "ref":
            name = f"{name}_{i + 1}"
        out[name] = d
    return out


def check_options(a) -> None:
    """OptionError naming the option, before anything is read or written."""
    import math

    def at_least(name, v, lo, hi=None):
        if v is not None and (v < lo or (hi is not None and v > hi)):
            rng = f">= {lo}" if hi is None else f"between {lo} and {hi}"
            raise OptionError(f"{name} must be {rng}, got {v}")

    if a.scheduler and a.dask:
        raise OptionError("give --scheduler or --dask, not both")
    at_least("--prefetch (cases loaded ahead)", a.prefetch, 1)
    at_least("--workers", a.workers, 1)
    at_least("--threads", a.threads, 1)
    at_least("--bootstrap (resamples; 0: no confidence interval)", a.bootstrap, 0, 10_000_000)
    at_least("--seed", a.seed, 0)
    at_least("--bins", a.bins, 1, 100_000)
    if not math.isfinite(a.geometry_tolerance) or a.geometry_tolerance < 0:
        raise OptionError(f"--geometry-tolerance must be a finite number >= 0, got {a.geometry_tolerance}")
    if a.tolerance is not None and (not math.isfinite(a.tolerance) or a.tolerance < 0):
        raise OptionError(f"--tolerance must be a finite number of mm >= 0, got {a.tolerance}")
    if a.labels is not None:
        from .summary import load_labels

        try:
            load_labels(a.labels)
        except (ValueError, TypeError, OSError) as exc:
            raise OptionError(f"--labels: {exc}") from None
    if a.device not in (None, "auto"):
        from .._core.backends import backends

        b = backends().get(a.device.strip().lower().split(":")[0])
        if b is not None and not b.get("usable"):
            raise OptionError(f"--device {a.device} is not usable here: {b.get('reason')}; use --device cpu, or "
                              "leave --device out to use the best usable backend")


def run_score(a) -> int:
    from .dataset import score_dataset

    check_options(a)
    lesion_options = check_lesion_options(a)
    empty = _empty(a.empty)
    res = score_dataset(
        a.pred, a.ref, raters=_raters(a.rater), probs=a.probs, output=a.output, labels=a.labels,
        metrics=_metrics(a.metrics), tolerance=a.tolerance, convention=a.convention, empty=empty,
        ignore_label=a.ignore_label, device=a.device, threads=a.threads, workers=a.workers, prefetch=a.prefetch,
        resume=a.resume, scheduler=a.scheduler or a.dask, seed=a.seed, n_bootstrap=a.bootstrap, format=a.format,
        plots=not a.no_plots, report=not a.no_report, quiet=a.quiet, geometry_tolerance=a.geometry_tolerance,
        check_affine=not a.ignore_affine, n_bins=a.bins,
        progress=None if a.progress == "auto" else a.progress in ("bar", "log"),
        lesionwise=a.lesionwise, lesion_options=lesion_options, froc=a.froc, froc_threshold=a.froc_threshold,
        froc_hit=a.froc_hit,
    )
    if not a.quiet:
        from .summary import print_summary

        print_summary(res)
    if res.info.get("interrupted"):
        # a loader thread may be stuck in a read; the results are written: leave now
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    return res.exit_code


def run_demo(a) -> int:
    from .demo import run_demo as demo

    return demo(a.directory, cases=a.cases, seed=a.seed, quiet=a.quiet, score=not a.no_score, workers=a.workers)


def run_compare(a) -> int:
    import math

    from . import compare as C

    if a.cases is not None and a.cases < 1:
        raise OptionError(f"--cases must be >= 1, got {a.cases}")
    if a.seed < 0:
        raise OptionError(f"--seed must be >= 0, got {a.seed}")
    if not math.isfinite(a.tolerance) or a.tolerance < 0:
        raise OptionError(f"--tolerance must be a finite number of mm >= 0, got {a.tolerance}")
    if a.threads is not None and a.threads < 1:
        raise OptionError(f"--threads must be >= 1, got {a.threads}")
    metrics = C.surface_metrics(_metrics(a.metrics), a.tolerance)  # a bad name: exit 2 before any read
    labels = None
    if a.labels is not None:
        from .summary import load_labels

        try:
            labels, _ = load_labels(a.labels)
        except (ValueError, TypeError, OSError) as exc:
            raise OptionError(f"--labels: {exc}") from None
    if a.plot is not None:
        import matplotlib  # noqa: F401  (ModuleNotFoundError: the I/O extras)
    for option, path in (("--json", a.json), ("--plot", a.plot)):
        if path is not None and path != "-":
            C.check_output(path, option)  # before any case is compared
    progress = None
    if not a.quiet and sys.stderr.isatty():
        def progress(i, n, case):
            print(f"\rcomparing case {i + 1}/{n}: {case}\033[K", end="" if i + 1 < n else "\n", file=sys.stderr)

    report = C.compare(a.pred, a.ref, probs=a.probs, labels=labels, metrics=metrics, tolerance=a.tolerance,
                       cases=a.cases, seed=a.seed, peers=a.peers, metricsreloaded=a.metricsreloaded,
                       threads=a.threads, geometry_tolerance=a.geometry_tolerance,
                       check_affine=not a.ignore_affine, progress=progress)
    if a.json == "-":
        sys.stdout.write(C.to_json(report) + "\n")
    else:
        if a.json is not None:
            C.write_json(report, a.json)
        if not a.quiet:
            C.render(report)
    if a.plot is not None and report["cases"]:
        C.plot_spread(report, a.plot)
    if not report["cases"]:
        why = "; ".join(f"case {e['case']}: {e['reason']}" for e in report["errors"][:5])
        print(f"segscore: error: no case could be compared: {why}", file=sys.stderr)
        return 1
    return C.exit_code(report)


def _add_compare_args(c: argparse.ArgumentParser) -> None:
    c.add_argument("pred", help="a predicted label map (.nii.gz, .nii; .nrrd, .mha with SimpleITK), or a folder of them")
    c.add_argument("ref", help="the reference label map, or a folder of them (paired by case id as `segscore score` does)")
    c.add_argument("--probs", default=None, metavar="PATH",
                   help="probability map(s) (a file, or a folder paired by case id): (x, y, z, C) with channel c = "
                        "label c, or (x, y, z) = P(label 1); adds ECE / MCE / ACE under every calibration convention")
    c.add_argument("--cases", type=int, default=None, metavar="N",
                   help="compare a random sample of N cases (default: all)")
    c.add_argument("--seed", type=int, default=0, help="seed of the --cases sample (default 0)")
    c.add_argument("--labels", default=None,
                   help="label map as for `segscore score` (JSON file, inline JSON or a comma list); "
                        "default: labels present in each case")
    c.add_argument("--metrics", default=None,
                   help="comma list of boundary metrics: hd, hd95, hd<p>, assd, masd, nsd, nsd@<mm>, biou, biou@<w> "
                        "(default hd,hd95,assd,masd,nsd,biou)")
    c.add_argument("--tolerance", type=float, default=1.0,
                   help="NSD tolerance in mm, the same for every convention (default 1)")
    c.add_argument("--peers", action="store_true",
                   help="also run the installed reference libraries (MONAI, DeepMind surface-distance, MedPy, "
                        "MetricsReloaded, panoptica, torchmetrics, scipy / edt) on the same inputs, check each "
                        "against the segscore convention named after it (1e-9 relative; 1e-5 for float32 "
                        "libraries) and time them; a library that is not installed is reported, not an error")
    c.add_argument("--metricsreloaded", default=None, metavar="PATH",
                   help="a checkout of MetricsReloaded (not on PyPI) for --peers")
    c.add_argument("--json", nargs="?", const="-", default=None, metavar="PATH",
                   help="write the report as JSON to PATH (--json alone: to stdout, instead of the tables)")
    c.add_argument("--plot", default=None, metavar="PATH", help="save a PNG of the spread per metric and label")
    c.add_argument("--threads", type=int, default=None, help="compute threads (default: all cores)")
    c.add_argument("--geometry-tolerance", type=float, default=1e-3,
                   help="tolerance of the spacing (relative) and affine (mm) checks (default 1e-3)")
    c.add_argument("--ignore-affine", action="store_true", help="check shape and spacing only, not orientation")
    c.add_argument("-q", "--quiet", action="store_true", help="print no tables")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="segscore", description="Score medical image segmentations.")
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"segscore {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("score", help="score a folder of predictions against references",
                       description="Score every case: pairs PRED and REF files by case id, writes a per-case-per-label "
                                   "table, a per-label summary, plots and a report. Exit code 3 when some cases failed.")
    _add_score_args(p)
    p.set_defaults(fn=run_score)
    d = sub.add_parser("demo", help="generate a small example data set and score it end to end")
    d.add_argument("directory", nargs="?", default="segscore-demo", help="where to write it (default ./segscore-demo)")
    d.add_argument("--cases", type=int, default=3)
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--workers", type=int, default=None)
    d.add_argument("--no-score", action="store_true", help="only generate the files")
    d.add_argument("-q", "--quiet", action="store_true")
    d.set_defaults(fn=run_demo)
    c = sub.add_parser("compare", help="one's own cases under every convention, and the reference libraries",
                       description="Score PRED against REF (two files, or two folders paired by case id) under "
                                   "every surface convention (and calibration convention with --probs) and print, "
                                   "per metric and label, the value in each and the spread (max - min). --peers "
                                   "also runs the installed reference libraries, checks each against its "
                                   "convention and times it. Exit codes: 0 done; 1 no input / no case could be "
                                   "compared; 2 bad options; 3 some cases could not be compared; 4 a reference "
                                   "library disagrees.")
    _add_compare_args(c)
    c.set_defaults(fn=run_compare)
    a = parser.parse_args(argv)
    try:
        return a.fn(a)
    except KeyboardInterrupt:
        print("segscore: interrupted", file=sys.stderr)
        return 130
    except ModuleNotFoundError as exc:
        print(f"segscore: error: {exc}; the command line needs the I/O extras: pip install 'segscore[io]'",
              file=sys.stderr)
        return 1
    except (ValueError, TypeError, OSError, ImportError) as exc:
        # OSError: an unwritable output, a locked output, an unreachable scheduler, no input files...
        print(f"segscore: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, (ValueError, TypeError)) else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""ECE speed: segscore against a vectorised numpy implementation and torchmetrics, same run.

    python bench/bench_calibration.py [--size 256] [--bins 15] [--threads N] [--repeat 7]

The case: a 256^3 float32 probability map P(class 1) and a uint8 label map
drawn from it (a binary segmentation's calibration), ECE with 15 uniform bins.

  * segscore:     ss.ece(probs, target, n_bins=15)   (one C++ pass, all bins; default threads)
  * numpy:        bin index (probs * 15 -> int, clipped), then np.bincount for the
                  counts, the summed confidence and the summed labels (the usual
                  vectorised implementation; three passes, int64 temporaries)
  * torchmetrics: torchmetrics.functional.classification.binary_calibration_error
                  (n_bins=15, norm="l1"), torch CPU tensors made with torch.from_numpy

Timing: one warm-up call each, then --repeat rounds in which every method runs
once, round robin, so load drift on a shared machine hits every method alike;
the table shows each method's median (and best) wall time, the ratio of
medians, and the median process CPU time (all threads) with its ratio, which
is less sensitive to other load on the machine.
Writes bench/results/calibration.json.  Target: >= 10x both.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np


def numpy_ece(p: np.ndarray, t: np.ndarray, n_bins: int) -> float:
    pf = p.reshape(-1)
    tf = t.reshape(-1)
    idx = (pf * np.float32(n_bins)).astype(np.intp)
    np.minimum(idx, n_bins - 1, out=idx)
    cnt = np.bincount(idx, minlength=n_bins)
    conf = np.bincount(idx, weights=pf, minlength=n_bins)
    acc = np.bincount(idx, weights=tf, minlength=n_bins)
    return float(np.sum(np.abs(acc - conf)) / cnt.sum())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=256, help="edge of the cubic map (default 256)")
    ap.add_argument("--bins", type=int, default=15)
    ap.add_argument("--threads", type=int, default=None, help="segscore threads (default: all usable cores)")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "calibration.json"))
    args = ap.parse_args(argv)

    import segscore as ss
    from segscore._core.backends import resolve_threads

    threads = resolve_threads(args.threads)
    n, nb = args.size, args.bins
    rng = np.random.default_rng(0)
    probs = rng.random((n, n, n), dtype=np.float32)
    target = (rng.random((n, n, n), dtype=np.float32) < probs).astype(np.uint8)

    methods = {"segscore": lambda: ss.ece(probs, target, n_bins=nb, threads=threads),
               "numpy": lambda: numpy_ece(probs, target, nb)}
    versions = {"segscore": ss.__version__, "numpy": np.__version__}
    try:
        import torch
        import torchmetrics
        from torchmetrics.functional.classification import binary_calibration_error

        tp, tt = torch.from_numpy(probs), torch.from_numpy(target)
        methods["torchmetrics"] = lambda: float(binary_calibration_error(tp, tt, n_bins=nb, norm="l1"))
        versions.update(torch=torch.__version__, torchmetrics=torchmetrics.__version__,
                        torch_threads=torch.get_num_threads())
    except ImportError:
        print("torchmetrics is not installed: its column is skipped", file=sys.stderr)

    values = {k: f() for k, f in methods.items()}  # warm-up, and the values to compare
    times = {k: [] for k in methods}
    cpu = {k: [] for k in methods}
    for _ in range(args.repeat):
        for k, f in methods.items():
            c0, t0 = time.process_time(), time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
            cpu[k].append(time.process_time() - c0)

    med = {k: statistics.median(v) for k, v in times.items()}
    base = med["segscore"]
    print(f"ECE, {nb} bins, {n}^3 float32 probability map ({probs.size / 1e6:.1f} M voxels), "
          f"segscore threads={threads}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    cpu_med = {k: statistics.median(v) for k, v in cpu.items()}
    print(f"{'method':<14}{'median ms':>11}{'best ms':>10}{'x slower':>10}{'cpu ms':>9}{'x cpu':>7}  ECE")
    for k in methods:
        ratio = med[k] / base
        print(f"{k:<14}{med[k] * 1e3:>11.1f}{min(times[k]) * 1e3:>10.1f}{ratio:>10.1f}"
              f"{cpu_med[k] * 1e3:>9.1f}{cpu_med[k] / cpu_med['segscore']:>7.1f}  {values[k]:.9g}")
    ok = all(med[k] / base >= 10 for k in methods if k != "segscore")
    print("target >= 10x numpy and torchmetrics:", "met" if ok else "NOT met")
    # torchmetrics accumulates in float32: its own ECE differs on a map this size
    result = {
        "case": {"shape": [n, n, n], "dtype": "float32", "target": "uint8", "n_bins": nb},
        "threads": threads,
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(),
                    "loadavg": os.getloadavg(), "python": platform.python_version()},
        "versions": versions,
        "date": _dt.datetime.now().isoformat(timespec="seconds"),
        "median_s": med,
        "best_s": {k: min(v) for k, v in times.items()},
        "samples_s": times,
        "cpu_median_s": cpu_med,
        "cpu_ratio_vs_segscore": {k: cpu_med[k] / cpu_med["segscore"] for k in methods},
        "ratio_vs_segscore": {k: med[k] / base for k in methods},
        "ece": values,
        "target_10x_met": ok,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""FROC speed: segscore against MONAI 1.6.1 and an sklearn roc_curve construction, same run.

    python bench/bench_froc.py [--sizes 1e4 1e5 1e6] [--repeat 3] [--monai-budget 120]

Input per size n: n detections over n / 10 images (8 false positives per image), 80 % false positives (float64
probabilities) and 20 % true positives (float32, as MONAI stores them), num_targets = n / 4.
Two probability kinds:

  * ``continuous``: all values distinct (n thresholds), MONAI's worst case;
  * ``3 decimals``: values rounded to 0.001 (at most 1001 thresholds).

Methods (curve and score from the pooled probabilities):

  * segscore monai:   ss.froc({fp_probs, tp_probs, num_targets, num_images})  (one sort, binary searches)
  * MONAI:            compute_froc_curve_data + compute_froc_score  (one pass over all
                      probabilities per threshold: O(n * thresholds))
  * segscore luna16:  ss.froc(..., convention="luna16")
  * sklearn luna16:   sklearn.metrics.roc_curve on the candidate list, LUNA16's scaling, CPM

MONAI runs only when its time, predicted from the previous size (it grows with n times the
number of thresholds), fits --monai-budget seconds; otherwise the row says "not run" and the
prediction.  Timing: one warm-up, then --repeat rounds, round robin; median wall time.
Writes bench/results/froc.json.  Target: O(n log n) for segscore (time per detection
roughly flat from 1e4 to 1e6).
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


def make(n, kind, rng):
    n_fp = int(0.8 * n)
    fp = rng.random(n_fp)
    tp = rng.random(n - n_fp)
    if kind == "3 decimals":
        fp, tp = np.round(fp, 3), np.round(tp, 3)
    return fp, tp.astype(np.float32), n // 4, max(1, n // 10)


def sklearn_luna16(fp, tp, num_targets, num_images, rates=(0.125, 0.25, 0.5, 1, 2, 4, 8)):
    from sklearn.metrics import roc_curve

    y = np.r_[np.ones(tp.size), np.zeros(fp.size)]
    s = np.r_[tp.astype(np.float64), fp]
    fpr, tpr, _ = roc_curve(y, s)
    fps = fpr * fp.size / num_images
    sens = tpr * tp.size / num_targets
    return float(np.mean(np.interp(rates, fps, sens)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=float, nargs="+", default=[1e4, 1e5, 1e6])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--monai-budget", type=float, default=120.0, help="seconds MONAI may take per call")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "froc.json"))
    args = ap.parse_args(argv)

    import segscore as ss

    try:
        import monai
        from monai.metrics import compute_froc_curve_data, compute_froc_score
    except ImportError:
        monai = None
        print("MONAI is not installed: its column is not run", file=sys.stderr)
    try:
        import sklearn
    except ImportError:
        sklearn = None
        print("scikit-learn is not installed: its column is not run", file=sys.stderr)

    rng = np.random.default_rng(0)
    rows = []
    print(f"FROC curve + score, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    print(f"{'probabilities':<14}{'n':>9}{'method':>18}{'median ms':>12}{'best ms':>10}{'ns/det (best)':>15}"
          f"{'x vs segscore':>15}  score")
    for kind in ("continuous", "3 decimals"):
        monai_pred = None
        for n in (int(s) for s in args.sizes):
            fp, tp, nt, ni = make(n, kind, rng)
            pre = {"fp_probs": fp, "tp_probs": tp, "num_targets": nt, "num_images": ni}
            methods = {"segscore monai": lambda: ss.froc(pre).score,
                       "segscore luna16": lambda: ss.froc(pre, convention="luna16").score}
            skipped = {}
            if monai is not None:
                if monai_pred is None or monai_pred <= args.monai_budget:
                    methods["MONAI"] = lambda: float(compute_froc_score(*compute_froc_curve_data(fp, tp, nt, ni)))
                else:
                    skipped["MONAI"] = f"not run (predicted {monai_pred:.0f} s > budget {args.monai_budget:.0f} s)"
            if sklearn is not None:
                methods["sklearn luna16"] = lambda: sklearn_luna16(fp, tp, nt, ni)
            values, times = {}, {k: [] for k in methods}
            for k, f in methods.items():      # warm-up (MONAI: once only, it is the slow one)
                t0 = time.perf_counter()
                values[k] = f()
                times[k].append(time.perf_counter() - t0)
            for _ in range(max(args.repeat - 1, 0)):
                for k, f in methods.items():
                    if k == "MONAI" and times[k][0] > 5.0:
                        continue
                    t0 = time.perf_counter()
                    f()
                    times[k].append(time.perf_counter() - t0)
            med = {k: statistics.median(v) for k, v in times.items()}
            against = {"MONAI": "segscore monai", "sklearn luna16": "segscore luna16"}
            for k in methods:
                ratio = med[k] / med[against.get(k, k)]
                best = min(times[k])
                print(f"{kind:<14}{n:>9}{k:>18}{med[k] * 1e3:>12.2f}{best * 1e3:>10.2f}{best / n * 1e9:>15.1f}"
                      f"{ratio:>15.1f}  {values[k]:.12g}")
                rows.append({"probabilities": kind, "n": n, "method": k, "median_s": med[k], "best_s": min(times[k]), "samples_s": times[k],
                             "ratio_vs_segscore": ratio, "score": values[k]})
            for k, why in skipped.items():
                print(f"{kind:<14}{n:>9}{k:>18}  {why}")
                rows.append({"probabilities": kind, "n": n, "method": k, "not_run": why})
            if "MONAI" in med:
                assert abs(values["MONAI"] - values["segscore monai"]) <= 1e-9 * max(1.0, abs(values["MONAI"]))
                # MONAI: thresholds x probabilities; 10x the detections is ~10x of each (continuous)
                # or ~10x probabilities at the same <= 1001 thresholds (3 decimals)
                monai_pred = med["MONAI"] * (100 if kind == "continuous" else 10)
            if "sklearn luna16" in med:
                assert abs(values["sklearn luna16"] - values["segscore luna16"]) <= 1e-9
    result = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "loadavg": os.getloadavg(),
                    "python": platform.python_version()},
        "versions": {"segscore": ss.__version__, "numpy": np.__version__,
                     "monai": getattr(monai, "__version__", None), "sklearn": getattr(sklearn, "__version__", None)},
        "date": _dt.datetime.now().isoformat(timespec="seconds"),
        "rows": rows,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

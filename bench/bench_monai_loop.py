"""A MONAI validation loop: segscore.monai's classes against monai.metrics', same run.

    python bench/bench_monai_loop.py [--size 128] [--labels 14] [--batches 1] [--repeat 3]
                                     [--device cpu|cuda]

The workload: batches of 2 one-hot cases, 14 organs + background (15 channels) on a
128^3 grid, spacing (1.2, 1.2, 2.0) mm (bench/cases.py's perturbed ellipsoids, predictions
with false-positive specks), scored as a validation loop does after each epoch:

    hd95 = HausdorffDistanceMetric(include_background=False, percentile=95)
    nsd = SurfaceDiceMetric(class_thresholds=[1.0] * 14, include_background=False)
    for pred, ref in batches:
        hd95(pred, ref, spacing=...); nsd(pred, ref, spacing=...)
    hd95.aggregate(); nsd.aggregate()

once with ``from monai.metrics import ...`` and once with ``from segscore.monai import ...``
(the one-line change).  Timing: one warm-up loop each (MONAI's is also the reference
values), then --repeat rounds, round robin; median wall and process CPU time.  The per-channel
values of both are compared (1e-5, MONAI being float32), nan positions included.  With
--device cuda the tensors live on the GPU (MONAI then uses cuCIM / its EDT where installed).
Writes bench/results/monai_loop.json.  Target: segscore >= 20x faster.
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
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cases import multilabel_case  # noqa: E402

SPACING = (1.2, 1.2, 2.0)


def make_batches(size, n_labels, n_batches, device):
    import torch

    batches = []
    for i in range(n_batches):
        items = [multilabel_case(n_labels, shape=(size,) * 3, spacing=SPACING, seed=100 + 2 * i + k,
                                 rmin=0.05 * size, rmax=0.17 * size) for k in range(2)]

        def onehot(a):
            return torch.nn.functional.one_hot(torch.from_numpy(a.astype(np.int64)), n_labels + 1).movedim(-1, 0)

        pred = torch.stack([onehot(c.pred) for c in items]).float().to(device)
        ref = torch.stack([onehot(c.ref) for c in items]).float().to(device)
        batches.append((pred, ref))
    return batches


def loop(lib, batches, n_labels):
    hd = lib.HausdorffDistanceMetric(include_background=False, percentile=95)
    nsd = lib.SurfaceDiceMetric(class_thresholds=[1.0] * n_labels, include_background=False)
    for pred, ref in batches:
        hd(pred, ref, spacing=SPACING)
        nsd(pred, ref, spacing=SPACING)
    out = (hd.get_buffer().cpu(), nsd.get_buffer().cpu(), float(hd.aggregate()), float(nsd.aggregate()))
    if pred.is_cuda:
        import torch

        torch.cuda.synchronize()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--labels", type=int, default=14)
    ap.add_argument("--batches", type=int, default=1, help="batches of 2 cases per loop (default 1)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "monai_loop.json"))
    args = ap.parse_args(argv)

    import monai
    import monai.metrics as M
    import torch

    import segscore
    import segscore.monai as S
    from segscore._core.backends import resolve_threads

    warnings.filterwarnings("ignore")  # MONAI's "class is all 0" / deprecation warnings
    batches = make_batches(args.size, args.labels, args.batches, args.device)
    libs = {"segscore": S, "monai": M}
    values = {k: loop(lib, batches, args.labels) for k, lib in libs.items()}
    for i, what in enumerate(("HD95", "NSD@1mm")):
        got, want = values["segscore"][i], values["monai"][i]
        assert torch.equal(torch.isnan(got), torch.isnan(want)), f"{what}: nan positions differ"
        fin = ~torch.isnan(want)
        assert torch.allclose(got[fin], want[fin], rtol=1e-5, atol=1e-6), f"{what}: values differ"
    times = {k: [] for k in libs}
    cpu = {k: [] for k in libs}
    for _ in range(args.repeat):
        for k, lib in libs.items():
            c0, t0 = time.process_time(), time.perf_counter()
            loop(lib, batches, args.labels)
            times[k].append(time.perf_counter() - t0)
            cpu[k].append(time.process_time() - c0)
    med = {k: statistics.median(v) for k, v in times.items()}
    cpu_med = {k: statistics.median(v) for k, v in cpu.items()}
    ratio = med["monai"] / med["segscore"]
    cases = 2 * args.batches
    print(f"MONAI validation loop: {args.batches} batch(es) of 2 x {args.labels + 1}-channel one-hot "
          f"{args.size}^3 float32 on {args.device}, HausdorffDistanceMetric(percentile=95) + "
          f"SurfaceDiceMetric(1 mm); segscore threads={resolve_threads(None)}, torch threads="
          f"{torch.get_num_threads()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    print(f"{'library':<10}{'median s':>10}{'best s':>9}{'s/case':>9}{'cpu s':>9}  HD95 mean  NSD mean")
    for k in libs:
        print(f"{k:<10}{med[k]:>10.3f}{min(times[k]):>9.3f}{med[k] / cases:>9.3f}{cpu_med[k]:>9.2f}"
              f"  {values[k][2]:9.4f}  {values[k][3]:8.4f}")
    ok = ratio >= 20
    print(f"segscore is {ratio:.0f}x faster (cpu time {cpu_med['monai'] / cpu_med['segscore']:.0f}x); "
          f"target >= 20x: {'met' if ok else 'NOT met'}; per-channel values equal (1e-5)")
    result = {
        "case": {"shape": [args.size] * 3, "channels": args.labels + 1, "batch": 2, "batches": args.batches,
                 "spacing": SPACING, "device": args.device,
                 "metrics": ["HausdorffDistanceMetric(percentile=95)", "SurfaceDiceMetric([1.0]*14)"]},
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "loadavg": os.getloadavg(),
                    "python": platform.python_version()},
        "versions": {"segscore": segscore.__version__, "monai": monai.__version__, "torch": torch.__version__},
        "date": _dt.datetime.now().isoformat(timespec="seconds"),
        "median_s": med, "best_s": {k: min(v) for k, v in times.items()}, "samples_s": times,
        "cpu_median_s": cpu_med, "ratio_monai_over_segscore": ratio,
        "hd95_mean": {k: v[2] for k, v in values.items()}, "nsd_mean": {k: v[3] for k, v in values.items()},
        "target_20x_met": ok,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

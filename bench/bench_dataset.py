"""Dataset throughput: `segscore score` versus a straightforward nibabel + MONAI loop.

20 generated CT-like cases (512 x 512 x 200, 14 labels, spacing 0.8 x 0.8 x 1.5 mm, .nii.gz;
prediction = a perturbed drawing of the reference organs, some with a stray false positive).
Both run in the same invocation on the same files:

* segscore: the real CLI (`segscore score PRED REF --metrics dice,hd95`, a subprocess, default
  settings: loader threads reading ahead, compute threads over labels); cases/s from its wall
  time, and its own split (read + decode vs compute, summed over cases) and peak RSS;
* baseline: for each case, nibabel load (`np.asanyarray(img.dataobj)`), then for each label
  MONAI's compute_dice and compute_hausdorff_distance(percentile=95, spacing=...) on the
  (1, 1, X, Y, Z) masks; time split load vs compute.

Run:  python bench/bench_dataset.py [--cases 20] [--baseline-cases N] [--data DIR] [--json OUT]
The data set is generated once into --data (default bench/results/dataset_ct) and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

SHAPE = (512, 512, 200)
SPACING = (0.8, 0.8, 1.5)
N_LABELS = 14


def generate(root, n_cases, seed=2024):
    from segscore.app.demo import make_case
    from segscore.app.io import write_nifti

    pred_dir, ref_dir = os.path.join(root, "pred"), os.path.join(root, "ref")
    os.makedirs(pred_dir, exist_ok=True)
    os.makedirs(ref_dir, exist_ok=True)
    affine = np.diag([-SPACING[0], -SPACING[1], SPACING[2], 1.0])
    t0 = time.perf_counter()
    made = 0
    for i, child in enumerate(np.random.SeedSequence(seed).spawn(n_cases)):
        name = f"ct_{i + 1:03d}.nii.gz"
        if os.path.exists(os.path.join(pred_dir, name)) and os.path.exists(os.path.join(ref_dir, name)):
            continue
        rng = np.random.default_rng(child)
        c = make_case(SHAPE, SPACING, N_LABELS, rng, fp_rate=0.3, pred_shift_mm=1.5, pred_scale=0.04)
        write_nifti(os.path.join(ref_dir, name), c["ref"], SPACING, affine)
        write_nifti(os.path.join(pred_dir, name), c["pred"], SPACING, affine)
        made += 1
    if made:
        print(f"generated {made} cases in {time.perf_counter() - t0:.1f} s under {root}", file=sys.stderr)
    return pred_dir, ref_dir


def run_segscore(pred_dir, ref_dir, out_dir, metrics, extra=()):
    out = os.path.join(out_dir, "segscore_results.parquet")
    code = ("import sys, atexit, resource\n"
            "atexit.register(lambda: sys.stderr.write('PEAK_RSS_KB=%d\\n' % "
            "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))\n"
            "from segscore.app.cli import main\nsys.exit(main())")
    cmd = [sys.executable, "-c", code, "score", pred_dir, ref_dir, "-o", out, "--metrics", metrics, "--no-plots",
           "--no-report", "-q", *extra]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"segscore score failed ({r.returncode}): {r.stderr}")
    peak_kb = max([int(x.split("=")[1]) for x in r.stderr.split() if x.startswith("PEAK_RSS_KB=")] or [0])
    with open(os.path.join(out_dir, "segscore_results.summary.json")) as f:
        summ = json.load(f)
    t = summ["timing"]
    n = summ["info"]["n_scored"]
    return {"cases": n, "process_wall_s": wall, "scoring_wall_s": t["wall_s"],
            "cases_per_s": n / wall, "read_decode_s": t["read_s"] + t["decode_s"], "compute_s": t["compute_s"],
            "peak_rss_mb": peak_kb / 1024, "device": summ["info"]["device"],
            "decompressor": summ["info"]["decompressor"], "workers": summ["info"]["workers"], "table": out}


def run_monai(pred_dir, ref_dir, cases):
    import nibabel as nib
    import torch
    from monai.metrics import compute_dice, compute_hausdorff_distance

    torch.set_num_threads(len(os.sched_getaffinity(0)))
    rows = []
    load_s = compute_s = 0.0
    t_start = time.perf_counter()
    for name in cases:
        t0 = time.perf_counter()
        pimg = nib.load(os.path.join(pred_dir, name))
        rimg = nib.load(os.path.join(ref_dir, name))
        p = np.asanyarray(pimg.dataobj)
        r = np.asanyarray(rimg.dataobj)
        spacing = [float(z) for z in rimg.header.get_zooms()[:3]]
        t1 = time.perf_counter()
        pt = torch.from_numpy(np.ascontiguousarray(p))
        rt = torch.from_numpy(np.ascontiguousarray(r))
        for k in range(1, N_LABELS + 1):
            pk = (pt == k)[None, None]
            rk = (rt == k)[None, None]
            d = compute_dice(pk, rk, include_background=True)
            h = compute_hausdorff_distance(pk, rk, include_background=True, percentile=95, spacing=spacing)
            rows.append((name, k, float(d.item()), float(h.item())))
        t2 = time.perf_counter()
        load_s += t1 - t0
        compute_s += t2 - t1
    wall = time.perf_counter() - t_start
    return {"cases": len(cases), "wall_s": wall, "cases_per_s": len(cases) / wall, "read_decode_s": load_s,
            "compute_s": compute_s, "rows": rows}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--cases", type=int, default=20)
    ap.add_argument("--baseline-cases", type=int, default=3,
                    help="cases for the MONAI loop (default 3: about 80 s each on 2 cores; 0 = all); every case "
                         "has the same size and labels, so its cases/s is steady")
    ap.add_argument("--data", default=os.path.join(here, "results", "dataset_ct"))
    ap.add_argument("--json", default=os.path.join(here, "results", "bench_dataset.json"))
    ap.add_argument("--metrics", default="dice,hd95")
    a = ap.parse_args(argv)
    pred_dir, ref_dir = generate(a.data, a.cases)
    names = sorted(os.listdir(ref_dir))[: a.cases]
    out_dir = os.path.join(a.data, "out")
    os.makedirs(out_dir, exist_ok=True)
    size = sum(os.path.getsize(os.path.join(d, n)) for d in (pred_dir, ref_dir) for n in names)
    print(f"{len(names)} cases {SHAPE}, {N_LABELS} labels, {size / 1e6:.0f} MB of .nii.gz, "
          f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()})", file=sys.stderr)

    seg = run_segscore(pred_dir, ref_dir, out_dir, a.metrics)
    print(f"segscore score : {seg['cases_per_s']:.3f} cases/s ({seg['process_wall_s']:.1f} s for {seg['cases']} "
          f"cases, process start included); summed over cases: read+decode {seg['read_decode_s']:.1f} s, "
          f"compute {seg['compute_s']:.1f} s; peak RSS {seg['peak_rss_mb']:.0f} MB; "
          f"device {seg['device']}, gzip {seg['decompressor']}", file=sys.stderr)
    bn = names[: a.baseline_cases] if a.baseline_cases else names
    mon = run_monai(pred_dir, ref_dir, bn)
    print(f"nibabel + MONAI: {mon['cases_per_s']:.3f} cases/s ({mon['wall_s']:.1f} s for {mon['cases']} cases); "
          f"load {mon['read_decode_s']:.1f} s, compute {mon['compute_s']:.1f} s", file=sys.stderr)
    ratio = seg["cases_per_s"] / mon["cases_per_s"]
    print(f"ratio: segscore is {ratio:.1f}x the loop's throughput", file=sys.stderr)

    # agreement: same Dice; HD95 under MONAI's own convention is checked in the peer tests
    import pandas as pd

    t = pd.read_parquet(seg["table"]).set_index(["case", "label"])
    dmax = 0.0
    for name, k, d, _ in mon["rows"]:
        cid = name[: -len(".nii.gz")]
        if (cid, k) in t.index:
            v = float(t.loc[(cid, k), "dice"])
            if not (np.isnan(v) and np.isnan(d)):
                dmax = max(dmax, abs(v - d))
    print(f"max |dice(segscore) - dice(MONAI)| = {dmax:.2e}", file=sys.stderr)
    res = {"shape": SHAPE, "labels": N_LABELS, "cases": len(names), "metrics": a.metrics,
           "segscore": {k: v for k, v in seg.items() if k != "table"},
           "monai_loop": {k: v for k, v in mon.items() if k != "rows"}, "ratio": ratio, "max_dice_diff": dmax,
           "cpus": os.cpu_count()}
    os.makedirs(os.path.dirname(a.json), exist_ok=True)
    with open(a.json, "w") as f:
        json.dump(res, f, indent=1)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()

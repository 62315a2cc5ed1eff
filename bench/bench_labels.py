"""Cost against the number of labels: every per-label path must stay linear.

    python bench/bench_labels.py            # 5k, 10k, 20k, 40k, 200k labels
    python bench/bench_labels.py --quick    # 1k, 2k, 4k, 8k labels (smoke run)

Instance maps (lesions, cells) carry thousands of labels; a per-label step that
scans every pair, box or voxel makes the whole call quadratic.  Two kinds of map:

* ``cubes``: n labels as 2x2x2 cubes tiling a volume (8 n voxels); the prediction
  is the reference shifted by one voxel along the last axis, so every label
  overlaps itself and its neighbour; raters are the reference shifted along the
  other axes.
* ``noise``: pred and ref drawn independently, uniform in [0, n] on 64^3 voxels
  (every pair (p, r) is its own count; label boxes span the volume).

What is timed (seconds; one call, or the best of 3 below 2 s): ss.dice;
ss.evaluate with the overlap metrics and counts; ss.hd95 (cubes only: noise
labels' boxes span the whole volume, see the note printed at the end);
ss.consensus_dice and ss.multirater (overlap metrics) with 3 raters.  Once a
function takes longer than --cap seconds its larger sizes are skipped ("-").
The last column is the growth of the time from the smallest to the largest size
timed, against the growth of the label count: for cubes (voxels grow with the
labels) a linear cost grows like the labels and a quadratic one like their
square; for noise (fixed volume, every voxel its own pair) a linear cost barely
grows.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

OVERLAP_METRICS = ["dice", "iou", "precision", "recall", "specificity", "vs", "tp", "fp", "fn", "tn"]


def cubes(n, rng):
    """Reference with labels 1..n as 2x2x2 cubes (shuffled over the grid)."""
    side = math.ceil(n ** (1.0 / 3.0))
    while side ** 3 < n:
        side += 1
    ids = np.zeros(side ** 3, dtype=np.int32)
    ids[:n] = np.arange(1, n + 1, dtype=np.int32)
    rng.shuffle(ids)
    grid = ids.reshape(side, side, side)
    ref = np.repeat(np.repeat(np.repeat(grid, 2, 0), 2, 1), 2, 2)
    pred = np.roll(ref, 1, axis=2)
    raters = [ref, np.roll(ref, 1, axis=0), np.roll(ref, -1, axis=1)]
    return pred, ref, raters


def noise(n, rng, shape=(64, 64, 64)):
    pred = rng.integers(0, n + 1, size=shape, dtype=np.int32)
    ref = rng.integers(0, n + 1, size=shape, dtype=np.int32)
    raters = [ref, rng.integers(0, n + 1, size=shape, dtype=np.int32),
              rng.integers(0, n + 1, size=shape, dtype=np.int32)]
    return pred, ref, raters


def timed(fn, fast=2.0, repeat=3):
    """Seconds of one call; calls faster than `fast` s: the best of `repeat`."""
    best = math.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
        if best > fast:
            break
    return best


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1k..8k labels (smoke run)")
    ap.add_argument("--sizes", type=str, default=None, help="comma-separated label counts")
    ap.add_argument("--threads", type=int, default=None, help="segscore threads (default: all usable cores)")
    ap.add_argument("--cap", type=float, default=60.0,
                    help="skip the larger sizes of a function once one call took longer (s)")
    ap.add_argument("--kinds", default="cubes,noise")
    ap.add_argument("--json", default=None, help="also write the timings to this JSON file")
    args = ap.parse_args(argv)

    import segscore as ss

    if args.sizes:
        sizes = [int(s) for s in args.sizes.split(",")]
    else:
        sizes = [1000, 2000, 4000, 8000] if args.quick else [5000, 10000, 20000, 40000, 200000]
    th = args.threads
    funcs = {
        "dice": lambda p, r, rs: ss.dice(p, r, threads=th),
        "evaluate": lambda p, r, rs: ss.evaluate(p, r, metrics=OVERLAP_METRICS, threads=th),
        "hd95": lambda p, r, rs: ss.hd95(p, r, threads=th),
        "consensus_dice": lambda p, r, rs: ss.consensus_dice(p, rs, threads=th),
        "multirater": lambda p, r, rs: ss.multirater(p, rs, metrics=["dice", "iou"], threads=th),
    }
    skip_for = {"noise": {"hd95"}}
    results = {}
    for kind in args.kinds.split(","):
        make = cubes if kind == "cubes" else noise
        over = set()
        for n in sizes:
            rng = np.random.default_rng(n)
            p, r, rs = make(n, rng)
            for name, fn in funcs.items():
                key = (kind, name)
                if name in skip_for.get(kind, ()):
                    continue
                if key in over:
                    results.setdefault(key, {})[n] = None
                    continue
                t = timed(lambda: fn(p, r, rs))
                results.setdefault(key, {})[n] = t
                if t > args.cap:
                    over.add(key)
                print(f"  {kind:6s} {name:15s} n={n:>7d} voxels={p.size:>9d}  {t:8.3f} s", file=sys.stderr,
                      flush=True)

    head = f"{'map':6s} {'function':15s}" + "".join(f"{n:>10d}" for n in sizes) + "   time growth (labels)"
    print(head)
    print("-" * len(head))
    for (kind, name), row in results.items():
        cells = "".join(f"{row[n]:10.3f}" if row.get(n) is not None else f"{'-':>10s}" for n in sizes)
        done = [n for n in sizes if row.get(n) is not None]
        ratio = ""
        if len(done) >= 2 and row[done[0]] > 0:
            ratio = f"{row[done[-1]] / row[done[0]]:8.1f}x ({done[-1] / done[0]:g}x)"
        print(f"{kind:6s} {name:15s}{cells}   {ratio}")
    print("\nnote: noise labels scatter over the whole volume, so each label's surface crop is the whole "
          "volume; surface metrics on such maps cost labels x volume by construction (not timed).")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(
            {f"{k}/{f}": {str(n): t for n, t in row.items()} for (k, f), row in results.items()}, indent=1))


if __name__ == "__main__":
    main()

"""segscore.torchmetrics against torchmetrics 1.9 in one run, same machine.

    python bench/bench_torchmetrics.py [--quick] [--threads N]

Workload: a validation batch of 2 cases x 14 labels, 96^3 (``--quick``: 48^3), as label
maps, one-hot int64 tensors and softmax probabilities; ``forward`` of DiceScore and MeanIoU
(both libraries), HausdorffDistance (segscore only in 3-D: torchmetrics' raises there; its
2-D time is measured on the middle slices, one-hot), CalibrationError (multiclass
top-label; torchmetrics' MulticlassCalibrationError keeps every voxel's confidence, segscore
the bin sums). Each time is the best of 3 after a warm-up. Prints ratios (torchmetrics time /
segscore time) and writes bench/results/torchmetrics.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import warnings
from pathlib import Path


def best_of(fn, repeat=3):
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=None)
    a = ap.parse_args(argv)

    import torch
    from torchmetrics.classification import MulticlassCalibrationError
    from torchmetrics.segmentation import DiceScore, HausdorffDistance, MeanIoU

    import segscore.torchmetrics as sst

    warnings.simplefilter("ignore")
    n = 48 if a.quick else 96
    c = 14
    g = torch.Generator().manual_seed(0)
    k = n // 8
    ref = torch.randint(0, c, (2, k, k, k), generator=g)
    for ax in (1, 2, 3):
        ref = ref.repeat_interleave(8, ax)
    pred = ref.clone()
    flip = torch.rand(ref.shape, generator=g) < 0.05
    pred[flip] = torch.randint(0, c, (int(flip.sum()),), generator=g)
    oh_p = torch.nn.functional.one_hot(pred, c).movedim(-1, 1).contiguous()
    oh_r = torch.nn.functional.one_hot(ref, c).movedim(-1, 1).contiguous()
    probs = torch.softmax(oh_p.float() * 4 + torch.rand(oh_p.shape, generator=g), 1)
    th = a.threads
    rows = []

    def row(name, ours, theirs):
        t_s = best_of(ours)
        t_t = best_of(theirs) if theirs is not None else None
        rows.append(dict(workload=name, segscore_s=t_s, torchmetrics_s=t_t,
                         ratio=None if t_t is None else t_t / t_s))
        r = "" if t_t is None else f"{t_t:9.3f} s  x{t_t / t_s:6.1f}"
        print(f"{name:44s} {t_s:9.3f} s  {r}")

    print(f"2 x {c} labels, {n}^3; times: segscore, torchmetrics, ratio")
    row("DiceScore, label maps", lambda: sst.DiceScore(c, input_format="index", threads=th)(pred, ref),
        lambda: DiceScore(c, input_format="index")(pred, ref))
    row("DiceScore, probabilities vs one-hot", lambda: sst.DiceScore(c, threads=th)(probs, oh_r),
        lambda: DiceScore(c)(probs, oh_r))
    row("DiceScore, one-hot int64", lambda: sst.DiceScore(c, threads=th)(oh_p, oh_r), lambda: DiceScore(c)(oh_p, oh_r))
    row("MeanIoU, label maps", lambda: sst.MeanIoU(c, input_format="index", threads=th)(pred, ref),
        lambda: MeanIoU(c, input_format="index")(pred, ref))
    row("HausdorffDistance 3-D, label maps", lambda: sst.HausdorffDistance(c, input_format="index", threads=th)(pred, ref),
        None)
    row("HausdorffDistance percentile=95 3-D", lambda: sst.HausdorffDistance(
        c, input_format="index", percentile=95, threads=th)(pred, ref), None)
    s2p, s2r = oh_p[:, :, n // 2], oh_r[:, :, n // 2]  # 2-D slices (square)
    row("HausdorffDistance 2-D slices, one-hot", lambda: sst.HausdorffDistance(c, threads=th)(s2p, s2r),
        lambda: HausdorffDistance(c)(s2p, s2r))
    row("CalibrationError multiclass top-label", lambda: sst.CalibrationError(
        "multiclass", num_classes=c, threads=th)(probs, ref), lambda: MulticlassCalibrationError(c)(probs, ref))
    out = Path(__file__).parent / "results" / "torchmetrics.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(dict(machine=platform.platform(), size=n, labels=c, rows=rows), indent=1))


if __name__ == "__main__":
    main()

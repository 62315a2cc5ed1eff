"""Two-process DDP run (torch.distributed, gloo, CPU) of segscore.torchmetrics' classes.

``python ddp_torchmetrics.py PORT OUT`` spawns 2 ranks; rank r updates every metric of
:func:`make_metrics` with the batches i where i % 2 == r (as a DistributedSampler deals
them), then each metric's states are synchronised (``Metric.sync``) and rank 0 saves the
synced states and ``compute()`` values to OUT (torch.save).  :func:`single_process` gives
the same over all batches in one process, for the test to compare.
"""

from __future__ import annotations

import os
import sys

import torch

N_BATCHES = 4
SEGMENTATION = ("hd", "hd95", "nsd", "assd", "dice", "iou", "gdice")  # the metrics fed (pred, ref) label maps


def make_metrics() -> dict:
    import segscore.torchmetrics as sst

    return {
        "hd": sst.HausdorffDistance(3, spacing=[0.9, 1.0, 2.5], input_format="index"),
        "hd95": sst.HausdorffDistance(3, percentile=95, convention="segscore", input_format="index",
                                      reduction="class"),
        "nsd": sst.SurfaceDice(3, tolerance=1.5, input_format="index", include_background=True),
        "assd": sst.AverageSurfaceDistance(3, input_format="index", reduction="nanmean"),
        "dice": sst.DiceScore(3, input_format="index", average="none"),
        "iou": sst.MeanIoU(3, input_format="index", per_class=True),
        "gdice": sst.GeneralizedDiceScore(3, input_format="index"),
        "ece_binary": sst.CalibrationError("binary", norm="l2"),
        "ece_top": sst.CalibrationError("multiclass", num_classes=3, convention="segscore"),
        "brier": sst.CalibrationError("multiclass", num_classes=3, convention="segscore", metric="brier"),
        "ece_classwise": sst.CalibrationError("multiclass", num_classes=3, convention="monai"),
        "crps": sst.ContinuousRankedProbabilityScore(),
    }


def batch(i: int) -> dict:
    """Batch i: two 3-D label-map cases with probabilities and an ensemble, fixed by i."""
    g = torch.Generator().manual_seed(1000 + i)
    shape = (2, 12, 10, 8)
    ref = torch.zeros(shape, dtype=torch.long)
    ref[:, 2:8, 2:7, 2:6] = 1
    ref[:, 6:11, 5:9, 3:7] = 2
    pred = ref.clone()
    flip = torch.rand(shape, generator=g) < 0.08
    pred[flip] = torch.randint(0, 3, (int(flip.sum()),), generator=g)
    logits = torch.randn(2, 3, *shape[1:], generator=g, dtype=torch.float64) + 2.0 * torch.nn.functional.one_hot(
        ref, 3).movedim(-1, 1)
    probs = torch.softmax(logits, 1)
    members = torch.randn(40, 7, generator=g, dtype=torch.float64)
    obs = torch.randn(40, generator=g, dtype=torch.float64)
    return dict(pred=pred, ref=ref, probs=probs, members=members, obs=obs)


def feed(metrics: dict, b: dict) -> None:
    for name, m in metrics.items():
        if name in SEGMENTATION:
            m.update(b["pred"], b["ref"])
        elif name == "ece_binary":
            m.update(b["probs"][:, 1], (b["ref"] == 1).long())
        elif name == "crps":
            m.update(b["members"], b["obs"])
        else:
            m.update(b["probs"], b["ref"])


def states(metrics: dict) -> dict:
    out = {}
    for name, m in metrics.items():
        st = {}
        for attr in m._defaults:
            v = getattr(m, attr)
            st[attr] = torch.cat([x.reshape(-1) for x in v]) if isinstance(v, list) else v.clone()
        out[name] = st
    return out


def single_process() -> dict:
    metrics = make_metrics()
    for i in range(N_BATCHES):
        feed(metrics, batch(i))
    first = make_metrics()
    feed(first, batch(0))
    return {"states": states(metrics), "values": {k: m.compute() for k, m in metrics.items()},
            "uneven": {k: m.compute() for k, m in first.items()}}


def _rank(rank: int, world: int, port: int, out: str) -> None:
    import torch.distributed as dist

    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        metrics = make_metrics()
        for i in range(rank, N_BATCHES, world):
            feed(metrics, batch(i))
        values = {k: m.compute() for k, m in metrics.items()}  # syncs, computes, unsyncs
        for m in metrics.values():
            m.sync()
        synced = states(metrics)
        for m in metrics.values():
            m.unsync()
        # a rank without any batch (rank 1 here): its empty "cat" states still gather
        uneven = make_metrics()
        if rank == 0:
            feed(uneven, batch(0))
        uneven_values = {k: m.compute() for k, m in uneven.items()}
        if rank == 0:
            torch.save({"states": synced, "values": values, "uneven": uneven_values}, out)
        dist.barrier()
    finally:
        dist.destroy_process_group()


def main(port: int, out: str) -> None:
    import torch.multiprocessing as mp

    import segscore.torchmetrics  # noqa: F401  imported once, before the fork (no re-import per rank)

    # fork: the ranks inherit the imports (spawn would import torch again in each, seconds each)
    mp.start_processes(_rank, args=(2, port, out), nprocs=2, join=True, start_method="fork")
    ddp = torch.load(out)
    torch.save({"ddp": ddp, "single": single_process()}, out)  # the reference, after the ranks are gone


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])

"""Two-process DDP run (torch.distributed, gloo, CPU) of segscore.monai's classes (and
MONAI's, when installed).

``python ddp_monai.py PORT OUT`` forks 2 ranks; rank r calls each metric on the batches i
where i % 2 == r (rank 0 gets one batch more, of another batch size: uneven ranks), then rank 0
saves every metric's get_buffer() and aggregate() (both gather over the ranks) to OUT.
:func:`single_process` gives the same over the batches in rank order, for the test to compare.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import torch

N_BATCHES = 5


def batch(i: int):
    rng = np.random.default_rng(100 + i)
    b = 2 if i < 4 else 1
    y = torch.from_numpy(rng.random((b, 3, 10, 9, 8)) < 0.3).float()
    p = torch.from_numpy(rng.random((b, 3, 10, 9, 8)) < 0.3).float()
    p[0, 2] = 0  # an empty prediction: nan HD95
    return p, y


def make_metrics(lib) -> dict:
    return {"hd95": lib.HausdorffDistanceMetric(percentile=95, get_not_nans=True),
            "dice": lib.DiceMetric(reduction="mean_batch"),
            "nsd": lib.SurfaceDiceMetric([1.0, 1.5], reduction="sum_channel")}


def libraries() -> dict:
    import segscore.monai as S

    libs = {"segscore": S}
    try:
        import monai.metrics as M

        libs["monai"] = M
    except ImportError:
        pass
    return libs


def run(libs, indices) -> dict:
    out = {}
    for name, lib in libs.items():
        metrics = make_metrics(lib)
        for i in indices:
            p, y = batch(i)
            for m in metrics.values():
                m(p, y, spacing=(0.9, 1.1, 2.0)) if not isinstance(m, lib.DiceMetric) else m(p, y)
        out[name] = {k: {"buffer": m.get_buffer(), "aggregate": m.aggregate(), "len": len(m)}
                     for k, m in metrics.items()}
    return out


def single_process() -> dict:
    order = [i for r in range(2) for i in range(r, N_BATCHES, 2)]
    return run(libraries(), order)


def _rank(rank: int, world: int, port: int, out: str) -> None:
    import warnings

    import torch.distributed as dist

    warnings.filterwarnings("ignore")
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        res = run(libraries(), range(rank, N_BATCHES, world))
        if rank == 0:
            torch.save(res, out)
        dist.barrier()
    finally:
        dist.destroy_process_group()


def main(port: int, out: str) -> None:
    import warnings

    import torch.multiprocessing as mp

    warnings.filterwarnings("ignore")
    libraries()  # imported once, before the fork
    mp.start_processes(_rank, args=(2, port, out), nprocs=2, join=True, start_method="fork")
    ddp = torch.load(out)
    torch.save({"ddp": ddp, "single": single_process()}, out)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])

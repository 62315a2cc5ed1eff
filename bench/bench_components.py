"""Connected components and the overlap table against cc3d and scipy, same run, same inputs.

    python bench/bench_components.py [--repeat 5] [--threads N] [--seed 0] [--gpu]

The volume: 256 x 256 x 96 voxels with ~30 ellipsoidal lesions (radii 3-12 voxels, z squashed
2.5x, ~0.5 % foreground), the anchor of the lesion-wise research notes; the prediction is
the reference with every lesion shifted by a voxel or two, a few lesions missed and a few
false positives added.  Timed (best of --repeat, ms):

* CC of the reference at 6 / 18 / 26: cc3d.connected_components, scipy.ndimage.label with
  generate_binary_structure(3, 1 | 2 | 3), ss.connected_components;
* two masks + overlap table: cc3d on both + np.unique(pred_id * K + ref_id) table (and the
  per-id voxel counts by np.bincount), against ss.connected_components on both +
  segscore.lesion.overlap_table;
* ss.component_stats with a probability map, against cc3d.statistics (no values).

Ratios are peer time / segscore time (> 1: segscore faster).  The labels are checked equal to
cc3d's before timing.  --gpu adds the same CC and overlap table on CuPy arrays (device time
with a synchronisation, labels checked equal to the CPU's).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def lesion_volume(shape=(256, 256, 96), n=30, seed=0):
    """(ref, pred, prob): bool reference, bool prediction, float32 probability map."""
    rng = np.random.default_rng(seed)
    ref = np.zeros(shape, bool)
    pred = np.zeros(shape, bool)
    grid = np.ogrid[tuple(slice(0, s) for s in shape)]

    def blob(out, c, r):
        lo = [max(0, int(c[i] - r[i]) - 1) for i in range(3)]
        hi = [min(shape[i], int(c[i] + r[i]) + 2) for i in range(3)]
        sl = tuple(slice(lo[i], hi[i]) for i in range(3))
        d = sum(((grid[i][sl[i]] if i == 0 else grid[i][:, sl[i]] if i == 1 else grid[i][:, :, sl[i]])
                 - c[i]) ** 2 / r[i] ** 2 for i in range(3))
        out[sl] |= d <= 1.0

    for k in range(n):
        rad = rng.uniform(3, 12)
        r = (rad, rad * rng.uniform(0.7, 1.3), rad / 2.5)
        c = [rng.uniform(r[i] + 1, shape[i] - r[i] - 1) for i in range(3)]
        blob(ref, c, r)
        if k % 10 == 9:
            continue  # a missed lesion
        shift = rng.integers(-2, 3, size=3)
        blob(pred, [c[i] + shift[i] for i in range(3)], [x * rng.uniform(0.85, 1.15) for x in r])
    for _ in range(4):  # false positives
        c = [rng.uniform(5, s - 5) for s in shape]
        blob(pred, c, (3.0, 3.0, 1.5))
    prob = np.where(pred, 0.5 + 0.5 * rng.random(shape, dtype=np.float32), 0.0).astype(np.float32)
    return ref, pred, prob


def best(fn, repeat):
    t = []
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        t.append(time.perf_counter() - t0)
    return min(t) * 1e3, out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--gpu", action="store_true", help="also time the GPU path on CuPy arrays")
    args = ap.parse_args(argv)

    import segscore as ss
    from segscore.lesion import overlap_table

    try:
        import cc3d
    except ImportError:
        cc3d = None
    from scipy import ndimage as ndi

    ref, pred, prob = lesion_volume(seed=args.seed)
    th = args.threads
    n_ref = ss.connected_components(ref)[1]
    n_pred = ss.connected_components(pred)[1]
    print(f"volume {ref.shape}, foreground {ref.mean():.2%} (ref, {n_ref} components), {pred.mean():.2%} "
          f"(pred, {n_pred} components); threads {th or 'default'}; best of {args.repeat}; ms")
    rows = []
    for conn, struct in ((6, 1), (18, 2), (26, 3)):
        s_ms, (lab, _) = best(lambda: ss.connected_components(ref, conn, threads=th), args.repeat)
        structure = ndi.generate_binary_structure(3, struct)
        sp_ms, _ = best(lambda: ndi.label(ref, structure=structure), args.repeat)
        c_ms = float("nan")
        if cc3d is not None:
            c_ms, clab = best(lambda: cc3d.connected_components(ref, connectivity=conn), args.repeat)
            assert np.array_equal(clab, lab), f"labels differ from cc3d at connectivity {conn}"
        rows.append((f"CC {conn}", s_ms, c_ms, sp_ms))

    def ours():
        p, _ = ss.connected_components(pred, threads=th)
        r, _ = ss.connected_components(ref, threads=th)
        return overlap_table(p, r, threads=th)

    def peer():
        p = cc3d.connected_components(pred, connectivity=26)
        r = cc3d.connected_components(ref, connectivity=26)
        k = np.int64(r.max()) + 1
        key = p.astype(np.int64) * k + r
        u, c = np.unique(key[(p > 0) & (r > 0)], return_counts=True)
        return u // k, u % k, c, np.bincount(p.ravel())[1:], np.bincount(r.ravel())[1:]

    s_ms, t = best(ours, args.repeat)
    if cc3d is not None:
        c_ms, pt = best(peer, args.repeat)
        assert np.array_equal(pt[0], t.pred_id) and np.array_equal(pt[1], t.ref_id) and np.array_equal(pt[2], t.count)
        assert np.array_equal(pt[3], t.pred_voxels) and np.array_equal(pt[4], t.ref_voxels)
        cc_both, _ = best(lambda: (cc3d.connected_components(pred, connectivity=26),
                                   cc3d.connected_components(ref, connectivity=26)), args.repeat)
    else:
        c_ms = cc_both = float("nan")
    rows.append(("2 masks + overlap table", s_ms, c_ms, float("nan")))
    lab = ss.connected_components(pred, threads=th)[0]
    s_ms, _ = best(lambda: ss.component_stats(lab, spacing=(0.75, 0.75, 2.0), values=prob, threads=th), args.repeat)
    c_ms = float("nan")
    if cc3d is not None:
        c_ms, _ = best(lambda: cc3d.statistics(lab), args.repeat)
    rows.append(("component_stats (+ prob map)", s_ms, c_ms, float("nan")))

    print(f"{'operation':<30}{'segscore':>10}{'cc3d':>10}{'scipy':>10}{'cc3d/ss':>10}{'scipy/ss':>10}")
    for name, s, c, sp in rows:
        print(f"{name:<30}{s:10.2f}{c:10.2f}{sp:10.2f}{c / s:10.2f}{sp / s:10.2f}")
    if args.gpu:
        gpu_rows(ss, overlap_table, ref, pred, rows, args.repeat)
    if cc3d is not None:
        print(f"segscore 2 masks + overlap table vs cc3d on both masks alone ({cc_both:.2f} ms): "
              f"{rows[3][1] / cc_both:.2f}x (target <= 2)")


def gpu_rows(ss, overlap_table, ref, pred, rows, repeat):
    try:
        import cupy as cp
    except ImportError:
        print("--gpu: CuPy is not installed: not run")
        return
    dref, dpred = cp.asarray(ref), cp.asarray(pred)

    def synced(fn):
        def run():
            out = fn()
            cp.cuda.get_current_stream().synchronize()
            return out
        return run

    for conn in (6, 18, 26):
        ms, (lab, n) = best(synced(lambda: ss.connected_components(dref, conn)), repeat)
        assert np.array_equal(cp.asnumpy(lab), ss.connected_components(ref, conn)[0]), conn
        cpu_ms = next(r[1] for r in rows if r[0] == f"CC {conn}")
        print(f"GPU CC {conn}: {ms:.2f} ms (CPU {cpu_ms:.2f} ms, {cpu_ms / ms:.1f}x)")

    def both():
        p, _ = ss.connected_components(dpred)
        r, _ = ss.connected_components(dref)
        return overlap_table(p, r)

    ms, t = best(synced(both), repeat)
    cpu_ms = next(r[1] for r in rows if r[0] == "2 masks + overlap table")
    print(f"GPU 2 masks + overlap table: {ms:.2f} ms (CPU {cpu_ms:.2f} ms, {cpu_ms / ms:.1f}x)")


if __name__ == "__main__":
    main()

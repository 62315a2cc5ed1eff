"""Fixed lesion-wise inputs, reproducible from a seed.

The expected values in ``tests/data/lesion/*.json`` were produced by running
the peers (the BraTS 2023 script, MetricsReloaded, the ATLAS v2 scoring script)
on exactly these arrays; ``tests/data/lesion/cases.npz`` holds the same arrays
so the tests do not depend on this generator staying bit-identical, and
``test_lesion_data`` checks that they still agree.

Semantic cases (:func:`semantic_cases`): BraTS-style label maps (0 background,
1 necrosis / non-enhancing core, 2 oedema, 3 enhancing tumour), shape
``SHAPE``, with a voxel spacing in mm (the NIfTI zooms given to the peers).
Instance cases (:func:`instance_cases`): 2-D or 3-D instance maps (0
background, 1..n instances) with a confidence per predicted instance.

Regenerate the stored file with ``python tests/support/lesion_cases.py OUT.npz``.
"""

from __future__ import annotations

import numpy as np

SHAPE = (32, 32, 20)


def _ball(shape, center, radii):
    g = np.indices(shape, dtype=float)
    return sum(((g[i] - center[i]) / radii[i]) ** 2 for i in range(len(shape))) <= 1.0


def _tumour(shape, center, r):
    """Oedema (2) shell around a core (1) with an enhancing rim (3)."""
    out = np.zeros(shape, np.uint8)
    out[_ball(shape, center, (r, r, max(r / 1.6, 1.0)))] = 2
    core = _ball(shape, center, (0.6 * r, 0.6 * r, max(0.6 * r / 1.6, 0.8)))
    out[core] = 3
    out[_ball(shape, center, (0.3 * r, 0.3 * r, max(0.3 * r / 1.6, 0.6)))] = 1
    return out


def _paste(dst, src):
    dst[src > 0] = src[src > 0]
    return dst


def _random_case(seed, n_lesions):
    rng = np.random.default_rng(seed)
    ref = np.zeros(SHAPE, np.uint8)
    pred = np.zeros(SHAPE, np.uint8)
    for k in range(n_lesions):
        c = rng.uniform([4, 4, 3], [SHAPE[0] - 4, SHAPE[1] - 4, SHAPE[2] - 3])
        r = rng.uniform(1.5, 4.5)
        _paste(ref, _tumour(SHAPE, c, r))
        fate = rng.random()
        if fate < 0.2:      # missed
            continue
        shift = rng.normal(0.0, 1.0, 3)
        _paste(pred, _tumour(SHAPE, c + shift, r * rng.uniform(0.7, 1.3)))
    for _ in range(rng.integers(0, 3)):   # false positives
        c = rng.uniform([3, 3, 2], [SHAPE[0] - 3, SHAPE[1] - 3, SHAPE[2] - 2])
        _paste(pred, _tumour(SHAPE, c, rng.uniform(1.0, 2.5)))
    # a few flipped voxels on the labels inside the prediction
    inside = np.flatnonzero(pred)
    flip = rng.choice(inside, size=min(len(inside), 15), replace=False) if len(inside) else []
    pred.flat[flip] = rng.integers(1, 4, size=len(flip))
    spacing = tuple(float(s) for s in rng.choice([0.7, 0.9375, 1.0, 1.2, 2.2], size=3))
    return pred, ref, spacing


def semantic_cases():
    """name -> dict(pred=uint8 array, ref=uint8 array, spacing=(sx, sy, sz), note=str)."""
    out = {}
    z = np.zeros(SHAPE, np.uint8)

    def box(lo, hi, label=1, base=None):
        a = z.copy() if base is None else base
        a[tuple(slice(l, h) for l, h in zip(lo, hi))] = label
        return a

    # a prediction with 2 empty voxels between it and the lesion (no overlap)
    ref = box((10, 10, 8), (16, 16, 12), 3)
    pred = box((18, 10, 8), (24, 16, 12), 3)
    out["pred_near_not_overlapping"] = dict(
        pred=pred, ref=ref, spacing=(1.0, 1.0, 1.0),
        note="ref box x 10..15, pred box x 18..23: two empty voxels (x 16, 17) between them")

    # one prediction bridging two lesions that are too far apart to merge
    ref = box((4, 10, 8), (10, 16, 12), 2)
    box((22, 10, 8), (28, 16, 12), 2, base=ref)
    pred = box((7, 12, 9), (25, 14, 11), 2)
    out["pred_bridges_two_lesions"] = dict(
        pred=pred, ref=ref, spacing=(1.0, 1.0, 1.0),
        note="two ref boxes 12 voxels apart; one prediction bar overlapping both")

    # two reference components with two empty voxels between them
    ref = box((6, 10, 8), (12, 16, 12), 1)
    box((14, 10, 8), (20, 16, 12), 1, base=ref)
    pred = box((6, 10, 8), (12, 16, 12), 1)
    out["ref_merged_by_dilation"] = dict(
        pred=pred, ref=ref, spacing=(1.0, 1.0, 1.0),
        note="ref boxes x 6..11 and x 14..19 (two empty voxels between); prediction = the first box")

    # lesions at and around the size thresholds, spacing 1 x 1 x 2 (2 mm^3 voxels)
    ref = box((2, 2, 2), (7, 7, 3), 3)            # 25 voxels = 50 mm^3 (dropped by <= 50)
    box((2, 12, 2), (7, 17, 3), 3, base=ref)      # 25 + 1 voxels = 52 mm^3 (kept)
    ref[7, 12, 2] = 3
    ref[12, 2, 10] = 3                            # 1 voxel = 2 mm^3 (dropped by MET's <= 2)
    ref[20, 2, 10] = 3                            # 2 voxels = 4 mm^3 (kept by MET)
    ref[21, 2, 10] = 3
    box((16, 16, 8), (24, 24, 14), 3, base=ref)   # a large lesion
    pred = box((3, 3, 2), (6, 6, 3), 3)           # touches the 50 mm^3 lesion
    pred[20, 2, 10] = 3                           # hits the 2-voxel lesion
    box((16, 16, 8), (22, 22, 13), 3, base=pred)  # the large lesion
    box((28, 28, 16), (30, 30, 17), 3, base=pred)  # a small false positive (4 voxels)
    out["small_lesions"] = dict(
        pred=pred, ref=ref, spacing=(1.0, 1.0, 2.0),
        note="ref lesions of 50, 52, 2, 4 mm^3 and a large one; the 52 mm^3 and 2 mm^3 ones are missed")

    # empty prediction / empty reference / both empty
    pred, ref, _ = _random_case(101, 3)
    out["empty_pred"] = dict(pred=z.copy(), ref=ref, spacing=(1.0, 1.0, 1.0),
                             note="random reference (seed 101), empty prediction")
    out["empty_ref"] = dict(pred=pred, ref=z.copy(), spacing=(1.0, 1.0, 1.0),
                            note="random prediction (seed 101), empty reference")
    out["both_empty"] = dict(pred=z.copy(), ref=z.copy(), spacing=(1.0, 1.0, 1.0), note="both empty")

    # corner-touching voxels: one component with 26-connectivity, two with 6
    ref = box((4, 4, 4), (8, 8, 8), 2)
    box((8, 8, 8), (12, 12, 12), 2, base=ref)
    pred = box((9, 9, 9), (12, 12, 12), 2)
    box((20, 20, 10), (22, 22, 12), 2, base=pred)
    out["corner_touching"] = dict(
        pred=pred, ref=ref, spacing=(1.0, 1.0, 1.0),
        note="two ref boxes touching at one corner (1 lesion at 26-connectivity, 2 at 6); "
             "prediction overlaps the second box, plus one false positive")

    # several predictions on one lesion
    ref = box((8, 8, 6), (20, 20, 14), 3)
    pred = box((8, 8, 6), (12, 12, 10), 3)
    box((16, 16, 10), (20, 20, 14), 3, base=pred)
    box((14, 8, 6), (16, 10, 8), 3, base=pred)
    out["split_prediction"] = dict(
        pred=pred, ref=ref, spacing=(0.7, 0.7, 2.2),
        note="one ref lesion, three disjoint predictions inside it; spacing not exact in float32")

    # random multi-label cases with anisotropic spacing
    for i, (seed, n) in enumerate([(7, 4), (11, 5), (13, 3), (17, 6), (19, 2)]):
        pred, ref, spacing = _random_case(seed, n)
        out[f"random_{i}"] = dict(pred=pred, ref=ref, spacing=spacing,
                                  note=f"_random_case(seed={seed}, n_lesions={n})")
    return out


def instance_cases():
    """name -> dict(pred=int32 instance map, ref=int32 instance map, prob=float64 per pred id 1..n, note)."""
    out = {}

    # MetricsReloaded's panoptic-quality fixture (its test expects PQ 0.350): 2-D, 18 x 18
    p = np.zeros((18, 18), np.int32)
    p[3:7, 1:3] = 1
    p[3:6, 3:7] = 1
    p[13:16, 4:6] = 2
    p[7:12, 13:17] = 3
    p[13:15, 13:17] = 4
    p[15, 15] = 4
    r = np.zeros((18, 18), np.int32)
    r[2:7, 1:3] = 1
    r[2:5, 3:6] = 1
    r[6:12, 12:17] = 2
    r[14:15, 7:10] = 3
    r[13:16, 8:9] = 3
    out["mr_pq_fixture"] = dict(pred=p, ref=r, prob=np.ones(4),
                                note="MetricsReloaded test_panoptic_quality fixture (expects PQ 0.350)")

    # one prediction overlapping two references, IoU 0.4 and 0.33: ambiguous below 0.5
    p = np.zeros((20, 20), np.int32)
    r = np.zeros((20, 20), np.int32)
    r[2:6, 2:7] = 1          # 20 px
    r[2:6, 8:12] = 2         # 16 px
    p[2:6, 4:10] = 1         # 24 px: overlaps ref 1 by 12 (IoU 12/32), ref 2 by 8 (IoU 8/32)
    p[12:16, 12:16] = 2      # false positive
    r[12:15, 2:5] = 3        # missed
    out["one_pred_two_refs"] = dict(pred=p, ref=r, prob=np.array([0.9, 0.4]),
                                    note="pred 1 overlaps ref 1 (IoU 0.375) and ref 2 (IoU 0.25)")

    # two predictions on one reference, different confidences
    p = np.zeros((20, 20), np.int32)
    r = np.zeros((20, 20), np.int32)
    r[4:12, 4:12] = 1        # 64 px
    p[4:12, 4:8] = 1         # 32 px, IoU 0.5
    p[4:12, 8:11] = 2        # 24 px, IoU 0.375
    r[14:18, 14:18] = 2
    p[14:18, 14:17] = 3      # IoU 0.75
    out["two_preds_one_ref"] = dict(pred=p, ref=r, prob=np.array([0.3, 0.8, 0.6]),
                                    note="preds 1 (IoU 0.5) and 2 (IoU 0.375) on ref 1; pred 3 on ref 2 (IoU 0.75)")

    # a 3-D random instance case
    rng = np.random.default_rng(23)
    shape = (24, 24, 12)
    r = np.zeros(shape, np.int32)
    p = np.zeros(shape, np.int32)
    np_ = 0
    for k in range(6):
        c = rng.uniform([4, 4, 3], [20, 20, 9])
        rad = rng.uniform(1.5, 3.5)
        r[_ball(shape, c, (rad, rad, rad / 1.5)) & (r == 0)] = k + 1
        if rng.random() < 0.8:
            np_ += 1
            c2 = c + rng.normal(0, 0.8, 3)
            p[_ball(shape, c2, (rad, rad, rad / 1.5) ) & (p == 0)] = np_
    np_ += 1
    p[_ball(shape, (3, 20, 9), (1.5, 1.5, 1.5)) & (p == 0)] = np_
    prob = np.round(rng.uniform(0.05, 0.95, np_), 3)
    out["random_3d"] = dict(pred=p, ref=r, prob=prob, note="random_3d: seed 23, 6 ref balls, perturbed predictions")

    # no instances at all / only predictions / only references
    e = np.zeros((10, 10), np.int32)
    q = e.copy()
    q[2:5, 2:5] = 1
    out["inst_both_empty"] = dict(pred=e, ref=e.copy(), prob=np.zeros(0), note="no instances")
    out["inst_empty_ref"] = dict(pred=q, ref=e.copy(), prob=np.array([0.7]), note="one prediction, no reference")
    out["inst_empty_pred"] = dict(pred=e.copy(), ref=q, prob=np.zeros(0), note="one reference, no prediction")
    return out


def save(path):
    arrays = {}
    for name, c in semantic_cases().items():
        arrays[f"sem/{name}/pred"] = c["pred"]
        arrays[f"sem/{name}/ref"] = c["ref"]
        arrays[f"sem/{name}/spacing"] = np.asarray(c["spacing"], float)
    for name, c in instance_cases().items():
        arrays[f"inst/{name}/pred"] = c["pred"]
        arrays[f"inst/{name}/ref"] = c["ref"]
        arrays[f"inst/{name}/prob"] = np.asarray(c["prob"], float)
    np.savez_compressed(path, **arrays)


def load(path):
    """Read the stored file back as {"sem": {name: {...}}, "inst": {name: {...}}}."""
    out = {"sem": {}, "inst": {}}
    with np.load(path) as f:
        for key in f.files:
            kind, name, field = key.split("/")
            out[kind].setdefault(name, {})[field] = f[key]
    for c in out["sem"].values():
        c["spacing"] = tuple(float(s) for s in c["spacing"])
    return out


if __name__ == "__main__":
    import sys

    save(sys.argv[1])

"""Seeded synthetic CURVAS-like cases: a CT with a body region, three raters' label maps of
three organs (1 pancreas, 2 kidney, 3 liver) and float32 organ probabilities, deterministic
for a seed (numpy's PCG64 and elementwise float arithmetic only).

The expected numbers in tests/data/curvas/official.json were produced by running the
challenge's own evaluation code on exactly these inputs (see that file's "source")."""

from __future__ import annotations

import numpy as np

ORGANS = (1, 2, 3)


def make_case(seed: int, shape=(80, 512, 512), soft: float = 1.0, floor: float = 0.0):
    """(ct, raters, prob, pred) of one case.

    ct: int16 (slices, X, Y), -1000 outside a body box and 40 inside (the challenge crops to
    ct > 0 over the last two axes); raters: three uint8 label maps; prob: (3, *shape) float32
    organ probabilities, exactly 0 far from the organs (so most background voxels have
    confidence 1.0) and soft near them, with 1 - ((p1 + p2) + p3) >= 0 in float32 (torch's
    order), scaled by `soft` (< 1: no confident organ voxel), plus uniform noise in
    [0, floor) on every organ channel (floor > 0: no background voxel has confidence 1.0);
    pred: the argmax label map (uint8)."""
    rng = np.random.default_rng(seed)
    s, h, w = shape
    y0, y1 = int(rng.integers(h // 40, h // 20)), h - int(rng.integers(h // 60 + 1, h // 30 + 2))
    x0, x1 = int(rng.integers(w // 30, w // 15)), w - int(rng.integers(w // 50 + 1, w // 25 + 2))
    ct = np.full(shape, -1000, dtype=np.int16)
    ct[:, y0:y1, x0:x1] = 40
    # organs: ellipsoids inside the body box (centre, radii), as fractions of the box
    boxes = []
    for _ in ORGANS:
        c = (rng.uniform(0.3, 0.7) * s, rng.uniform(y0 + 0.25 * (y1 - y0), y1 - 0.25 * (y1 - y0)),
             rng.uniform(x0 + 0.25 * (x1 - x0), x1 - 0.25 * (x1 - x0)))
        r = (rng.uniform(0.15, 0.3) * s, rng.uniform(0.06, 0.14) * (y1 - y0), rng.uniform(0.06, 0.14) * (x1 - x0))
        boxes.append((c, r))
    jitter = rng.uniform(0.93, 1.07, size=(3, len(ORGANS), 3))  # per rater and organ: radius scale
    shift = rng.uniform(-1.5, 1.5, size=(3, len(ORGANS), 3))
    raters = [np.zeros(shape, dtype=np.uint8) for _ in range(3)]
    prob = np.zeros((len(ORGANS),) + tuple(shape), dtype=np.float32)
    zz = np.arange(s, dtype=np.float64)[:, None, None]
    yy = np.arange(h, dtype=np.float64)[None, :, None]
    xx = np.arange(w, dtype=np.float64)[None, None, :]
    noise_seed = int(rng.integers(0, 2**31))
    for k, (c, r) in enumerate(boxes):
        sl = tuple(slice(max(0, int(c[i] - 1.6 * r[i])), min(shape[i], int(c[i] + 1.6 * r[i]) + 1)) for i in range(3))
        z, y, x = zz[sl[0]], yy[:, sl[1]], xx[:, :, sl[2]]
        q = ((z - c[0]) / r[0]) ** 2 + ((y - c[1]) / r[1]) ** 2 + ((x - c[2]) / r[2]) ** 2
        for j in range(3):
            cj = [c[i] + shift[j, k, i] for i in range(3)]
            rj = [r[i] * jitter[j, k, i] for i in range(3)]
            qj = ((z - cj[0]) / rj[0]) ** 2 + ((y - cj[1]) / rj[1]) ** 2 + ((x - cj[2]) / rj[2]) ** 2
            view = raters[j][sl]
            view[(qj <= 1.0) & (view == 0)] = ORGANS[k]
        # probability: a smoothstep of the ellipsoid's radius with uniform noise, exactly 0 beyond
        # 1.5 radii (IEEE-exact operations only: +, *, sqrt, so every platform makes the same bits)
        nz = np.random.default_rng(noise_seed + k).uniform(-0.08, 0.08, size=q.shape)
        t = np.clip((1.5 - np.sqrt(q)) + nz, 0.0, 1.0)
        pk = soft * (t * t * (3.0 - 2.0 * t))
        pk = np.where(q <= 2.25, pk, 0.0)
        prob[(k,) + sl] = np.maximum(prob[(k,) + sl], pk.astype(np.float32))
    if floor > 0:
        frng = np.random.default_rng(noise_seed + 99)
        for k in range(len(ORGANS)):
            prob[k] += frng.uniform(0.0, floor, size=shape).astype(np.float32)
    # keep 1 - ((p1 + p2) + p3) >= 0 in float32, as the challenge computes the background
    tot = (prob[0] + prob[1]) + prob[2]
    over = tot > np.float32(1.0)
    if over.any():
        scale = (np.float32(0.999) / tot[over]).astype(np.float32)
        for k in range(len(ORGANS)):
            prob[k][over] = (prob[k][over] * scale).astype(np.float32)
    bg = np.float32(1.0) - ((prob[0] + prob[1]) + prob[2])
    allp = np.concatenate([bg[None], prob])
    pred = np.argmax(allp, axis=0).astype(np.uint8)
    return ct, raters, prob, pred

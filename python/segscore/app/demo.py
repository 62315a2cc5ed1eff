"""`segscore demo`: a small, realistic example data set, written as NIfTI and scored end to end.

The phantom is an abdomen-like body with up to 14 organs (ellipsoids with a low-frequency
surface wobble, in millimetres, on an anisotropic grid).  Three raters each draw the organs with
small disagreements; the reference is their majority vote; the prediction is a coarser
drawing (shifted, resized, one organ sometimes missed, a stray false positive sometimes
added); the probability map is a soft version of the prediction, stored as uint8 with a
1/255 scale slope (small files).  The same generator makes the benchmark's CT-sized cases.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time

import numpy as np

# name, centre (fraction of the field of view, x y z), semi-axes in mm
ORGANS = [
    ("liver", (0.33, 0.45, 0.55), (80, 65, 70)),
    ("spleen", (0.72, 0.60, 0.60), (45, 30, 50)),
    ("kidney_left", (0.68, 0.70, 0.45), (28, 25, 45)),
    ("kidney_right", (0.32, 0.70, 0.42), (28, 25, 45)),
    ("pancreas", (0.52, 0.55, 0.52), (45, 14, 15)),
    ("stomach", (0.62, 0.42, 0.65), (45, 35, 45)),
    ("gallbladder", (0.40, 0.38, 0.45), (15, 15, 25)),
    ("aorta", (0.52, 0.68, 0.50), (11, 11, 120)),
    ("ivc", (0.45, 0.66, 0.50), (11, 13, 110)),
    ("adrenal_left", (0.63, 0.64, 0.70), (8, 6, 16)),
    ("adrenal_right", (0.39, 0.64, 0.70), (8, 6, 16)),
    ("duodenum", (0.47, 0.48, 0.40), (20, 14, 25)),
    ("bladder", (0.50, 0.45, 0.08), (35, 30, 25)),
    ("vertebra", (0.50, 0.80, 0.50), (22, 18, 140)),
]


def label_names(n_labels: int) -> dict:
    return {name: i + 1 for i, (name, _, _) in enumerate(ORGANS[:n_labels])}


def dataset_json(n_labels: int) -> dict:
    return {"name": "segscore-demo", "labels": {"background": 0, **label_names(n_labels)},
            "file_ending": ".nii.gz"}


class _Organ:
    def __init__(self, label, center_vox, radii_vox, wobble):
        self.label = label
        self.c = np.asarray(center_vox, float)
        self.r = np.asarray(radii_vox, float)
        self.wobble = wobble  # (amplitude, fx, fy, fz, phase1, phase2)

    def perturbed(self, rng, shift_mm, scale, wobble_amp, spacing):
        c = self.c + rng.normal(0, shift_mm, 3) / np.asarray(spacing)
        r = self.r * (1 + rng.normal(0, scale, 3))
        a, fx, fy, fz, p1, p2 = self.wobble
        w = (a + rng.normal(0, wobble_amp), fx, fy, fz, p1 + rng.normal(0, 0.3), p2 + rng.normal(0, 0.3))
        return _Organ(self.label, c, np.maximum(r, 1.5), w)

    def box(self, shape):
        lo = np.maximum(np.floor(self.c - 1.3 * self.r).astype(int), 0)
        hi = np.minimum(np.ceil(self.c + 1.3 * self.r).astype(int) + 1, shape)
        return lo, hi

    def field(self, shape):
        """(box, rho): rho < 1 inside the organ (a distorted normalised radius)."""
        lo, hi = self.box(shape)
        if np.any(hi <= lo):
            return None, None
        g = np.ogrid[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
        u = [(g[i] - self.c[i]) / self.r[i] for i in range(3)]
        d = np.sqrt(u[0] ** 2 + u[1] ** 2 + u[2] ** 2)
        a, fx, fy, fz, p1, p2 = self.wobble
        wob = a * np.sin(fx * u[0] + p1) * np.cos(fy * u[1] + p2) * np.cos(fz * u[2])
        return (lo, hi), (d / (1.0 + wob)).astype(np.float32)


def _organs(shape, spacing, n_labels, rng):
    fov = np.asarray(shape) * np.asarray(spacing)
    scale = min(fov[0] / 400.0, fov[1] / 400.0)
    out = []
    for i, (_, cf, rmm) in enumerate(ORGANS[:n_labels]):
        c_mm = np.asarray(cf) * fov + rng.normal(0, 4, 3)
        r_mm = np.asarray(rmm, float) * np.array([scale, scale, min(1.0, fov[2] / 300.0)]) * rng.uniform(0.9, 1.1, 3)
        wob = (rng.uniform(0.03, 0.1), rng.uniform(2, 5), rng.uniform(2, 5), rng.uniform(1, 3),
               rng.uniform(0, 2 * math.pi), rng.uniform(0, 2 * math.pi))
        out.append(_Organ(i + 1, c_mm / np.asarray(spacing), r_mm / np.asarray(spacing), wob))
    return out


def _paint(shape, organs, dtype=np.uint8):
    lab = np.zeros(shape, dtype=dtype, order="F")
    for o in organs:
        box, rho = o.field(shape)
        if box is None:
            continue
        (lo, hi) = box
        sub = lab[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
        sub[rho <= 1.0] = o.label
    return lab


def _soft(shape, organs, n_labels, temperature_vox=1.5):
    """(x, y, z, C) uint8 probabilities (scale 1/255): softmax-like maps around each organ."""
    scores = np.zeros(shape + (n_labels + 1,), dtype=np.float32)
    for o in organs:
        box, rho = o.field(shape)
        if box is None:
            continue
        lo, hi = box
        s = 1.0 / (1.0 + np.exp(np.clip((rho - 1.0) * float(o.r.min()) / temperature_vox, -30, 30)))
        scores[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2], o.label] = np.maximum(
            scores[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2], o.label], s)
    fg = scores[..., 1:].sum(axis=-1)
    over = fg > 1.0
    if over.any():
        scores[over, 1:] /= fg[over, None]
        fg[over] = 1.0
    scores[..., 0] = 1.0 - fg
    # quantise to 1/255 steps so that each voxel's classes still sum to exactly 255 (= 1 after
    # scaling): largest-remainder rounding, as a softmax map must sum to 1
    x = np.clip(scores, 0.0, 1.0) * 255.0
    q = np.floor(x)
    deficit = (255 - q.sum(axis=-1)).astype(np.int64)
    rank = np.argsort(np.argsort(q - x, axis=-1, kind="stable"), axis=-1, kind="stable")
    q += rank < deficit[..., None]
    return np.asfortranarray(q.astype(np.uint8))


def make_case(shape, spacing, n_labels, rng, n_raters=0, probs=False, miss_rate=0.0, fp_rate=0.0,
              pred_shift_mm=2.0, pred_scale=0.06, missed=()):
    """Arrays of one phantom case: {"ref", "pred", "raters": [...], "probs"} in (x, y, z) order."""
    truth = _organs(shape, spacing, n_labels, rng)
    dtype = np.uint8 if n_labels < 256 else np.uint16
    out = {}
    if n_raters:
        raters = [[o.perturbed(rng, 0.8, 0.02, 0.01, spacing) for o in truth] for _ in range(n_raters)]
        maps = [_paint(shape, r, dtype) for r in raters]
        out["raters"] = maps
        if n_raters >= 3:  # majority vote of the first three (rater 1 where all disagree)
            a, b, c = maps[:3]
            out["ref"] = np.where(b == c, b, a)
        else:
            out["ref"] = maps[0].copy()
    else:
        out["ref"] = _paint(shape, truth, dtype)
    pred_org = []
    for o in truth:
        if rng.random() < miss_rate or o.label in missed:
            continue
        pred_org.append(o.perturbed(rng, pred_shift_mm, pred_scale, 0.03, spacing))
    out["pred"] = _paint(shape, pred_org, dtype)
    if fp_rate and rng.random() < fp_rate:  # a stray false-positive blob far from its organ
        k = int(rng.integers(1, n_labels + 1))
        c = rng.uniform(0.15, 0.85, 3) * np.asarray(shape)
        blob = _Organ(k, c, np.array([4.0, 4.0, 2.0]), (0.0, 1, 1, 1, 0, 0))
        box, rho = blob.field(shape)
        if box is not None:
            lo, hi = box
            sub = out["pred"][lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
            sub[(rho <= 1.0) & (sub == 0)] = k
    if probs:
        out["probs"] = _soft(shape, pred_org, n_labels)
    return out


def generate(directory, cases=3, shape=(256, 256, 96), spacing=(0.8, 0.8, 2.5), n_labels=5, n_raters=3,
             probs=True, seed=0, miss_rate=0.0, fp_rate=0.5, prefix="case", quiet=True, missed=None) -> dict:
    """Write a phantom data set: pred/, ref/, rater1../, probs/ and dataset.json. Returns the paths.

    ``missed``: {case index: labels the prediction misses}; default: the last case misses label
    ``min(4, n_labels)`` (so that the empty-mask handling shows)."""
    if missed is None:
        missed = {cases - 1: (min(4, n_labels),)} if cases > 1 else {}
    from .io import write_nifti

    directory = os.fspath(directory)
    paths = {"root": directory, "pred": os.path.join(directory, "pred"), "ref": os.path.join(directory, "ref"),
             "raters": [os.path.join(directory, f"rater{i + 1}") for i in range(n_raters)],
             "probs": os.path.join(directory, "probs") if probs else None,
             "labels": os.path.join(directory, "dataset.json")}
    for d in [paths["pred"], paths["ref"], *paths["raters"]] + ([paths["probs"]] if probs else []):
        os.makedirs(d, exist_ok=True)
    with open(paths["labels"], "w", encoding="utf-8") as f:
        json.dump(dataset_json(n_labels), f, indent=1)
    ss = np.random.SeedSequence(seed)
    for i, child in enumerate(ss.spawn(cases)):
        rng = np.random.default_rng(child)
        c = make_case(tuple(shape), spacing, n_labels, rng, n_raters=n_raters, probs=probs, miss_rate=miss_rate,
                      fp_rate=fp_rate, missed=missed.get(i, ()))
        name = f"{prefix}_{i + 1:03d}"
        affine = np.diag([-spacing[0], -spacing[1], spacing[2], 1.0])
        affine[:3, 3] = [shape[0] * spacing[0] / 2, shape[1] * spacing[1] / 2, -shape[2] * spacing[2] / 2]
        write_nifti(os.path.join(paths["ref"], name + ".nii.gz"), c["ref"], spacing, affine)
        write_nifti(os.path.join(paths["pred"], name + ".nii.gz"), c["pred"], spacing, affine)
        for r, arr in zip(paths["raters"], c.get("raters", [])):
            write_nifti(os.path.join(r, name + ".nii.gz"), arr, spacing, affine)
        if probs:
            write_nifti(os.path.join(paths["probs"], name + ".nii.gz"), c["probs"], spacing, affine, slope=1 / 255)
        if not quiet:
            print(f"segscore demo: wrote {name}", file=sys.stderr, flush=True)
    return paths


def _du(path) -> int:
    tot = 0
    for root, _, files in os.walk(path):
        for f in files:
            tot += os.path.getsize(os.path.join(root, f))
    return tot


def run_demo(directory="segscore-demo", cases=3, seed=0, quiet=False, score=True, workers=None) -> int:
    """Generate the demo data set into `directory` and score it; returns the exit code."""
    from .dataset import score_dataset

    log = (lambda m: None) if quiet else (lambda m: print(f"segscore demo: {m}", file=sys.stderr, flush=True))
    t0 = time.perf_counter()
    paths = generate(directory, cases=cases, seed=seed)
    log(f"generated {cases} cases (256x256x96, spacing 0.8x0.8x2.5 mm, 5 labels, 3 raters, probabilities) "
        f"in {time.perf_counter() - t0:.1f} s, {_du(directory) / 1e6:.1f} MB, under {directory}")
    if not score:
        return 0
    out = os.path.join(directory, "results", "results.parquet")
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        out = os.path.join(directory, "results", "results.csv")
    cmd = (f"segscore score {paths['pred']} {paths['ref']} " + " ".join(f"--rater {r}" for r in paths["raters"])
           + f" --probs {paths['probs']} --labels {paths['labels']} -o {out}")
    log(f"scoring: {cmd}")
    res = score_dataset(paths["pred"], paths["ref"], raters=paths["raters"], probs=paths["probs"],
                        labels=paths["labels"], output=out, seed=seed, quiet=quiet, workers=workers)
    if not quiet:
        from .summary import print_summary

        print_summary(res)
        log(f"done in {time.perf_counter() - t0:.1f} s; open {res.paths['report_html']}")
    return res.exit_code

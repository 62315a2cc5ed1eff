"""segscore against the reference libraries, same inputs, one run.

    python bench/bench_compare.py            # full run (~10 min on 2 cores)
    python bench/bench_compare.py --quick    # small sizes, smoke run (~1 min)

Prints a table (median time per call, peer time / segscore time), checks the
speed targets, and writes bench/results/compare.json and compare.png.

Cases (bench/cases.py, deterministic numpy): organ-like perturbed-ellipsoid
pairs with a few far false-positive specks in the prediction, spacing
(0.8, 0.8, 2.5) mm:
  binary 256^3 (~0.4 M voxel organ), binary 512x512x256 (~1.5 M voxels),
  14-label 256^3, 104-label 256^3 (TotalSegmentator-sized label count).

What is timed (every library gets the same thread count, --threads, default 2):
  * surface, binary:  ss.evaluate(pred, ref, spacing, metrics=[hd, hd95, assd, nsd@1])
    vs MONAI compute_hausdorff_distance(percentile=95) on (1, 1, ...) tensors,
    DeepMind compute_surface_distances + compute_robust_hausdorff(95),
    MedPy hd95, seg-metrics write_metrics(metrics=["hd95"]).
  * surface, label maps: ss.evaluate(metrics=[dice, hd, hd95, assd, nsd@1]) for
    all labels vs a per-label MONAI HD95 loop and a per-label DeepMind loop
    (per-label masks/tensors are built outside the timed region).
  * edt: ss.edt(mask, spacing, dtype="float32") vs seung-lab edt.edt(anisotropy=,
    parallel=) vs scipy.ndimage.distance_transform_edt(sampling=), on the organ
    mask (sparse foreground) and on its complement (distance to the organ).
  * edt multilabel: ss.edt_multilabel vs edt.edt on the label maps.
  * memory: peak RSS of one ss.evaluate call beyond its inputs, in a fresh
    subprocess (/proc/self/status VmHWM after resetting it via clear_refs).

Timing: one warm-up call, then the median of N calls (peers: --repeats, 3 when
a call takes > 1 s, and the warm-up call itself as the only sample when it
takes > --slow seconds).  segscore is timed in blocks before and after every
peer and each ratio uses the segscore samples adjacent to that peer, so load
drift on a shared machine hits both sides of a ratio.  Missing peers are
skipped (their column disappears).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402

import cases as C  # noqa: E402

TARGETS = {
    # (task, peer) -> minimum ratio peer_time / segscore_time; "aim" is informational
    ("surface-binary", "monai"): 10.0,
    ("surface-binary", "deepmind"): 40.0,
    ("surface-labels14", "monai"): 15.0,
    ("edt", "edt"): 1.0,
    ("edt", "scipy"): 5.0,
    ("edt-multilabel", "edt"): 1.0,
}
AIMS = {("edt", "edt"): 1.5}

PEER_MODULES = {
    "monai": ("monai", "torch"),
    "deepmind": ("surface_distance",),
    "medpy": ("medpy",),
    "seg-metrics": ("seg_metrics", "SimpleITK"),
    "edt": ("edt",),
    "scipy": ("scipy",),
}


def have(peer: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in PEER_MODULES[peer])


def versions() -> dict:
    out = {"python": platform.python_version(), "numpy": np.__version__}
    for name, mod in [("segscore", "segscore"), ("monai", "monai"), ("torch", "torch"), ("scipy", "scipy"),
                      ("edt", "edt"), ("medpy", "medpy"), ("surface-distance", "surface_distance"),
                      ("seg-metrics", "seg_metrics"), ("SimpleITK", "SimpleITK")]:
        try:
            from importlib.metadata import version

            dist = {"surface_distance": "surface-distance", "seg_metrics": "seg-metrics", "medpy": "MedPy"}.get(mod, mod)
            out[name] = version(dist)
        except Exception:
            if importlib.util.find_spec(mod) is not None:
                out[name] = "installed (version unknown)"
    return out


def git_state() -> dict:
    root = HERE.parent
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return {"commit": head, "dirty": bool(dirty)}
    except Exception:
        return {}


# --------------------------------------------------------------------------- timing


def _samples(fn, n):
    out = []
    for _ in range(n):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def timeit(fn, repeats: int, slow_s: float, is_peer: bool):
    """Warm up once, then median of `repeats` calls; returns (median_s, samples, last_value)."""
    t0 = time.perf_counter()
    val = fn()
    warm = time.perf_counter() - t0
    if is_peer and warm > slow_s:
        return warm, [warm], val, "1 sample (warm-up call; > %.0f s)" % slow_s
    n = repeats
    if is_peer and warm > 1.0:
        n = min(repeats, 3)
    samples = _samples(fn, n)
    return statistics.median(samples), samples, val, ""


# --------------------------------------------------------------------------- peers


def set_threads(threads: int):
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"):
        os.environ.setdefault(var, str(threads))
    os.environ.setdefault("SEGSCORE_NUM_THREADS", str(threads))
    if have("monai"):
        import torch

        torch.set_num_threads(threads)
    if have("seg-metrics"):
        import SimpleITK as sitk

        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)


def monai_hd95(pred_t, ref_t, spacing):
    from monai.metrics import compute_hausdorff_distance

    return float(compute_hausdorff_distance(pred_t, ref_t, include_background=True, percentile=95,
                                            spacing=list(spacing)).item())


def as_tensor(mask):
    import torch

    return torch.from_numpy(np.ascontiguousarray(mask))[None, None]


def deepmind_hd95(pred, ref, spacing):
    from surface_distance import compute_robust_hausdorff, compute_surface_distances

    sd = compute_surface_distances(ref, pred, spacing)  # DeepMind takes the reference first
    return float(compute_robust_hausdorff(sd, 95))


def medpy_hd95(pred, ref, spacing):
    from medpy.metric.binary import hd95

    return float(hd95(pred, ref, voxelspacing=spacing))


def segmetrics_hd95(pred_u8, ref_u8, spacing, labels):
    import seg_metrics.seg_metrics as sg

    out = sg.write_metrics(labels=list(labels), gdth_img=ref_u8, pred_img=pred_u8, spacing=list(spacing),
                           metrics=["hd95"], verbose=False)
    return [float(v) for v in out[0]["hd95"]]


# --------------------------------------------------------------------------- the run


class Bench:
    def __init__(self, args):
        self.args = args
        self.threads = args.threads
        self.rows = []  # one dict per (group, library)
        self.peers = {p: have(p) for p in PEER_MODULES}
        if args.peers:
            wanted = set(args.peers.split(","))
            self.peers = {p: ok and p in wanted for p, ok in self.peers.items()}
        self.case_info = {}

    def log(self, msg):
        print(msg, flush=True)

    def add(self, group, task, case, library, what, med, samples, value=None, note=""):
        value = _small(value)
        row = {"group": group, "task": task, "case": case, "library": library, "what": what,
               "median_s": med, "samples_s": samples, "value": value, "note": note}
        self.rows.append(row)
        self.log(f"  {library:<26s} {med * 1e3:11.1f} ms  (n={len(samples)}) {note}")
        return row

    def run_group(self, group, task, case, ss_what, ss_fn, peers):
        """segscore and each peer on the same inputs.

        segscore is timed in blocks between the peers (a block before the
        first peer and one after every peer); each peer's ratio uses the
        segscore samples of the blocks just before and just after it, so slow
        drift of the machine's load hits both sides of the ratio alike.
        """
        a = self.args
        self.log(f"[{group}]")
        med1, block, val, _ = timeit(ss_fn, a.repeats, a.slow, False)
        val = _small(val)
        all_ss = list(block)
        results = []
        for lib, what, fn in peers:
            before = block
            try:
                med, samples, pv, note = timeit(fn, a.repeats, a.slow, True)
            except Exception as exc:  # a peer failing must not kill the run
                self.log(f"  {lib:<26s} FAILED: {type(exc).__name__}: {exc}")
                continue
            block = _samples(ss_fn, max(3, a.repeats // 2))
            all_ss += block
            paired = statistics.median(before + block)
            results.append((lib, what, med, samples, _small(pv), note, paired))
        row = self.add(group, task, case, "segscore", ss_what, statistics.median(all_ss), all_ss, val)
        row["load_avg"] = os.getloadavg()[0]
        for lib, what, med, samples_p, pv, note, paired in results:
            r = self.add(group, task, case, lib, what, med, samples_p, pv, note)
            r["segscore_paired_s"] = paired

    # ---------------------------------------------------------------- cases
    def make_cases(self):
        q = self.args.quick
        s = 0.375 if q else 1.0

        def sh(shape):
            return tuple(max(16, int(round(n * s))) for n in shape)

        def rad(r):
            return tuple(x * s for x in r)

        cs = {
            "binary256": lambda: C.binary_case(sh((256, 256, 256)), rad((60.0, 50.0, 51.0)),
                                               name=f"binary {'x'.join(map(str, sh((256,) * 3)))}"),
            "binary512": lambda: C.binary_case(sh((512, 512, 256)), rad((95.0, 75.0, 80.0)), seed=2,
                                               name=f"binary {'x'.join(map(str, sh((512, 512, 256))))}"),
            "labels14": lambda: C.multilabel_case(14, sh((256, 256, 256)), rmin=8.0 * s, rmax=40.0 * s),
            "labels104": lambda: C.multilabel_case(104, sh((256, 256, 256)) if not q else (128, 128, 128),
                                                   rmin=4.0 * (0.5 if q else 1.0), rmax=16.0 * (0.5 if q else 1.0)),
        }
        return cs

    def describe(self, key, c):
        info = {"name": c.name, "shape": list(c.pred.shape), "spacing": list(c.spacing),
                "dtype": str(c.pred.dtype)}
        if c.is_mask:
            info.update(ref_voxels=int(c.ref.sum()), pred_voxels=int(c.pred.sum()),
                        union_bbox_voxels=C.bbox_voxels(c.pred | c.ref), ref_bbox_voxels=C.bbox_voxels(c.ref))
        else:
            info.update(n_labels=len(c.labels),
                        ref_voxels_per_label_min_median_max=[
                            int(x) for x in np.percentile(np.bincount(c.ref.ravel())[1:], [0, 50, 100])])
        self.case_info[key] = info
        self.log(f"case {key}: {info}")

    # ---------------------------------------------------------------- groups
    def surface_binary(self, key, c):
        import segscore as ss

        t = self.threads
        sp = c.spacing
        metrics = ["hd", "hd95", "assd", "nsd@1"]
        ss_fn = lambda: ss.evaluate(c.pred, c.ref, sp, metrics=metrics, threads=t)[1]["hd95"]  # noqa: E731
        peers = []
        if self.args.monai_conv_row:
            peers.append(("segscore[monai conv, hd95]", "ss.hd95(convention='monai')",
                          lambda: ss.hd95(c.pred, c.ref, spacing=sp, convention="monai", threads=t)))
        if self.peers["monai"]:
            pt, rt = as_tensor(c.pred), as_tensor(c.ref)
            peers.append(("monai", "compute_hausdorff_distance(percentile=95)", lambda: monai_hd95(pt, rt, sp)))
        if self.peers["deepmind"]:
            peers.append(("deepmind", "compute_surface_distances + robust_hausdorff(95)",
                          lambda: deepmind_hd95(c.pred, c.ref, sp)))
        if self.peers["medpy"]:
            peers.append(("medpy", "medpy.metric.binary.hd95", lambda: medpy_hd95(c.pred, c.ref, sp)))
        if self.peers["seg-metrics"]:
            pu, ru = c.pred.view(np.uint8), c.ref.view(np.uint8)
            peers.append(("seg-metrics", "write_metrics(metrics=['hd95'])",
                          lambda: segmetrics_hd95(pu, ru, sp, [1])[0]))
        self.run_group(f"surface {c.name}", "surface-binary", key,
                       "ss.evaluate(hd, hd95, assd, nsd@1)", ss_fn, peers)

    def surface_labels(self, key, c, task):
        import segscore as ss

        t = self.threads
        sp = c.spacing
        metrics = ["dice", "hd", "hd95", "assd", "nsd@1"]
        ss_fn = lambda: ss.evaluate(c.pred, c.ref, sp, metrics=metrics, threads=t)  # noqa: E731
        peers = []
        masks = None
        if self.peers["monai"] or self.peers["deepmind"] or self.peers["medpy"]:
            masks = [(c.pred == k, c.ref == k) for k in c.labels]
        if self.peers["monai"]:
            tens = [(as_tensor(p), as_tensor(r)) for p, r in masks]
            peers.append(("monai", "per-label compute_hausdorff_distance(percentile=95)",
                          lambda: [monai_hd95(p, r, sp) for p, r in tens]))
        if self.peers["deepmind"]:
            peers.append(("deepmind", "per-label compute_surface_distances + robust_hausdorff(95)",
                          lambda: [deepmind_hd95(p, r, sp) for p, r in masks]))
        if self.args.all_peers and self.peers["medpy"]:
            peers.append(("medpy", "per-label medpy hd95", lambda: [medpy_hd95(p, r, sp) for p, r in masks]))
        if self.args.all_peers and self.peers["seg-metrics"]:
            peers.append(("seg-metrics", "write_metrics(labels=all, metrics=['hd95'])",
                          lambda: segmetrics_hd95(c.pred, c.ref, sp, c.labels)))
        self.run_group(f"surface {c.name}", task, key, f"ss.evaluate(dice, hd, hd95, assd, nsd@1), {len(c.labels)} labels",
                       ss_fn, peers)
        # per-label overhead: the counting pass alone (dice only) vs everything
        med_counts, s_counts, _, _ = timeit(lambda: ss.evaluate(c.pred, c.ref, sp, metrics=["dice"], threads=t),
                                            self.args.repeats, self.args.slow, False)
        full = next(r for r in self.rows if r["group"] == f"surface {c.name}" and r["library"] == "segscore")
        n = len(c.labels)
        full["per_label"] = {
            "labels": n,
            "counting_pass_and_overlap_s": med_counts,
            "surface_per_label_ms": (full["median_s"] - med_counts) / n * 1e3,
            "total_per_label_ms": full["median_s"] / n * 1e3,
        }
        for r in self.rows:
            if r["group"] == f"surface {c.name}" and r["library"] != "segscore":
                r["per_label_ms"] = r["median_s"] / n * 1e3
        self.log(f"  per-label: {full['per_label']}")
        # values for the record (first three labels)
        res = ss_fn()
        full["value"] = {int(k): res[k]["hd95"] for k in list(res)[:3]}
        for r in self.rows:
            if r["group"] == f"surface {c.name}" and r["library"] in ("monai", "deepmind") and isinstance(r["value"], list):
                r["value"] = {int(k): v for k, v in zip(c.labels[:3], r["value"][:3])}

    def edt_group(self, key, c):
        import segscore as ss

        t = self.threads
        sp = c.spacing
        for variant, mask in (("organ mask", c.ref), ("complement", ~c.ref)):
            m = np.ascontiguousarray(mask).view(np.uint8)  # same uint8 buffer for everyone
            peers = []
            if self.peers["edt"]:
                import edt as sledt

                peers.append(("edt", "edt.edt(anisotropy=, parallel=)",
                              lambda: sledt.edt(m, anisotropy=sp, parallel=t)))
            if self.peers["scipy"]:
                from scipy import ndimage

                peers.append(("scipy", "ndimage.distance_transform_edt(sampling=)",
                              lambda: ndimage.distance_transform_edt(m, sampling=sp)))
            self.run_group(f"edt {c.name.split()[-1]} {variant}", "edt", key, "ss.edt(dtype='float32')",
                           lambda: ss.edt(m, sp, dtype="float32", threads=t), peers)
            # agreement (max abs difference vs edt) for the record
            if self.peers["edt"]:
                import edt as sledt

                a = ss.edt(m, sp, dtype="float32", threads=t)
                b = sledt.edt(m, anisotropy=sp, parallel=t)
                fin = np.isfinite(a)
                row = next(r for r in self.rows if r["group"] == f"edt {c.name.split()[-1]} {variant}" and r["library"] == "segscore")
                row["value"] = {"max_abs_diff_vs_edt": float(np.max(np.abs(a[fin] - b[fin]))) if fin.any() else 0.0}
                del a, b

    def edt_multilabel_group(self, key, c):
        import segscore as ss

        t = self.threads
        sp = c.spacing
        lab = np.ascontiguousarray(c.ref)
        peers = []
        if self.peers["edt"]:
            import edt as sledt

            peers.append(("edt", "edt.edt(labels, anisotropy=, parallel=)",
                          lambda: sledt.edt(lab, anisotropy=sp, parallel=t)))
        self.run_group(f"edt-multilabel {c.name}", "edt-multilabel", key, "ss.edt_multilabel(dtype='float32')",
                       lambda: ss.edt_multilabel(lab, sp, dtype="float32", threads=t), peers)

    # ---------------------------------------------------------------- memory
    def memory(self, key, c, libs):
        out = {}
        with tempfile.TemporaryDirectory() as tmp:
            np.save(Path(tmp) / "pred.npy", c.pred)
            np.save(Path(tmp) / "ref.npy", c.ref)
            for lib in libs:
                cmd = [sys.executable, str(Path(__file__).resolve()), "--memory-child", lib, tmp,
                       json.dumps(list(c.spacing)), str(self.threads)]
                try:
                    p = subprocess.run(cmd, capture_output=True, text=True, timeout=self.args.memory_timeout)
                    line = [l for l in p.stdout.splitlines() if l.startswith("{")]
                    if p.returncode != 0 or not line:
                        self.log(f"  memory {lib}: failed ({p.stderr.strip()[-300:]})")
                        continue
                    out[lib] = json.loads(line[-1])
                    self.log(f"  memory {key} {lib}: peak beyond inputs {out[lib]['peak_beyond_inputs_mb']:.1f} MB")
                except subprocess.TimeoutExpired:
                    self.log(f"  memory {lib}: timed out")
        inputs_mb = (c.pred.nbytes + c.ref.nbytes) / 2**20
        info = self.case_info[key]
        return {"case": key, "inputs_mb": inputs_mb, "volume_voxels": int(c.pred.size),
                "union_bbox_voxels": info.get("union_bbox_voxels"), "by_library": out}


def memory_child(lib, folder, spacing_json, threads):
    """Fresh process: load inputs, reset the peak RSS, run one call, report the peak beyond the inputs."""
    spacing = tuple(json.loads(spacing_json))
    threads = int(threads)

    def status():
        d = {}
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(("VmHWM", "VmRSS")):
                    k, v = line.split(":")
                    d[k] = int(v.split()[0]) / 1024.0  # MB
        return d

    # import everything first so that library code/data is in the baseline
    if lib == "segscore":
        import segscore as ss

        fn = lambda p, r: ss.evaluate(p, r, spacing, metrics=["hd", "hd95", "assd", "nsd@1"], threads=threads)  # noqa
    elif lib == "monai":
        import torch

        torch.set_num_threads(threads)
        fn = lambda p, r: monai_hd95(as_tensor(p), as_tensor(r), spacing)  # noqa: E731
    elif lib == "deepmind":
        fn = lambda p, r: deepmind_hd95(p, r, spacing)  # noqa: E731
    elif lib == "medpy":
        fn = lambda p, r: medpy_hd95(p, r, spacing)  # noqa: E731
    else:
        raise SystemExit(f"unknown library {lib}")
    if lib == "monai":
        import monai.metrics  # noqa: F401
    elif lib == "deepmind":
        import surface_distance  # noqa: F401
    elif lib == "medpy":
        import medpy.metric  # noqa: F401
    pred = np.load(Path(folder) / "pred.npy")
    ref = np.load(Path(folder) / "ref.npy")
    gc.collect()
    reset = True
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current RSS
    except OSError:
        reset = False
    before = status()
    t0 = time.perf_counter()
    fn(pred, ref)
    dt = time.perf_counter() - t0
    after = status()
    base = before["VmRSS"] if reset else before["VmHWM"]
    print(json.dumps({"library": lib, "rss_before_mb": before["VmRSS"], "peak_mb": after["VmHWM"],
                      "peak_beyond_inputs_mb": after["VmHWM"] - base, "hwm_reset": reset, "seconds": dt}))


# --------------------------------------------------------------------------- reporting


def ratio_rows(rows):
    """Attach ratio = peer / segscore within each group (segscore samples taken next to that peer)."""
    base = {r["group"]: r["median_s"] for r in rows if r["library"] == "segscore"}
    for r in rows:
        b = r.get("segscore_paired_s") or base.get(r["group"])
        r["ratio_vs_segscore"] = (r["median_s"] / b) if b else None


def targets_table(rows):
    out = []
    for r in rows:
        key = (r["task"], r["library"])
        if key in TARGETS:
            tgt = TARGETS[key]
            ok = r["ratio_vs_segscore"] is not None and r["ratio_vs_segscore"] >= tgt
            out.append({"group": r["group"], "peer": r["library"], "ratio": r["ratio_vs_segscore"], "target": tgt,
                        "aim": AIMS.get(key), "met": bool(ok)})
    return out


def print_table(rows, peers_order):
    groups = list(dict.fromkeys(r["group"] for r in rows))
    libs = ["segscore"] + [p for p in peers_order if any(r["library"] == p for r in rows)]
    extra = [l for l in dict.fromkeys(r["library"] for r in rows) if l not in libs]
    libs += extra
    w0 = max(len(g) for g in groups) + 2
    head = f"{'case / task':<{w0}}" + "".join(f"{l:>26s}" for l in libs)
    print("\nmedian time per call (ratio = that library's time / segscore's time)")
    print(head)
    print("-" * len(head))
    for g in groups:
        cells = []
        for l in libs:
            r = next((x for x in rows if x["group"] == g and x["library"] == l), None)
            if r is None:
                cells.append(f"{'-':>26s}")
            elif l == "segscore":
                cells.append(f"{_fmt_t(r['median_s']):>26s}")
            else:
                cell = "%s (%.1fx)" % (_fmt_t(r["median_s"]), r["ratio_vs_segscore"])
                cells.append(f"{cell:>26s}")
        print(f"{g:<{w0}}" + "".join(cells))


def _fmt_t(s):
    return f"{s * 1e3:.1f} ms" if s < 10 else f"{s:.1f} s"


def plot(rows, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no plot")
        return False
    groups = list(dict.fromkeys(r["group"] for r in rows))
    ncol = 2
    nrow = (len(groups) + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(13, 2.1 * nrow + 0.8), squeeze=False)
    colors = {"segscore": "#1f77b4", "monai": "#ff7f0e", "deepmind": "#2ca02c", "medpy": "#d62728",
              "seg-metrics": "#9467bd", "edt": "#8c564b", "scipy": "#7f7f7f"}
    for ax, g in zip(axes.ravel(), groups):
        rs = [r for r in rows if r["group"] == g]
        names = [r["library"] for r in rs]
        vals = [r["median_s"] * 1e3 for r in rs]
        ax.barh(range(len(rs)), vals, color=[colors.get(n, "#bcbd22") for n in names])
        ax.set_yticks(range(len(rs)))
        ax.set_yticklabels(names, fontsize=8)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.set_title(g, fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
        for i, r in enumerate(rs):
            lab = _fmt_t(r["median_s"])
            if r["library"] != "segscore" and r["ratio_vs_segscore"]:
                lab += f"  ({r['ratio_vs_segscore']:.1f}x)"
            ax.text(vals[i], i, " " + lab, va="center", fontsize=7)
        ax.set_xlim(min(vals) / 2, max(vals) * 30)
    for ax in axes.ravel()[len(groups):]:
        ax.axis("off")
    fig.suptitle("segscore vs reference libraries: median time per call (log scale); (N.Nx) = that library's time / segscore's",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


# --------------------------------------------------------------------------- main


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    ap.add_argument("--threads", type=int, default=2, help="threads for every library that has the option")
    ap.add_argument("--repeats", type=int, default=None, help="timed calls after the warm-up (default 5, quick 3)")
    ap.add_argument("--slow", type=float, default=10.0,
                    help="a peer call slower than this (s) is timed once (its warm-up call)")
    ap.add_argument("--only", default="", help="comma-separated groups: surface,edt,edt-multilabel,memory")
    ap.add_argument("--cases", default="", help="comma-separated: binary256,binary512,labels14,labels104")
    ap.add_argument("--peers", default="", help="comma-separated subset of peers to run (default: all installed)")
    ap.add_argument("--all-peers", action="store_true", help="also run MedPy and seg-metrics on the label maps (slow)")
    ap.add_argument("--no-monai-conv-row", dest="monai_conv_row", action="store_false",
                    help="skip the informational segscore hd95 row under convention='monai'")
    ap.add_argument("--memory-timeout", type=float, default=600)
    ap.add_argument("--out", default=str(HERE / "results"), help="output folder")
    ap.add_argument("--memory-child", nargs=4, metavar=("LIB", "DIR", "SPACING", "THREADS"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.memory_child:
        memory_child(*a.memory_child)
        return 0
    if a.repeats is None:
        a.repeats = 3 if a.quick else 5
    set_threads(a.threads)
    import segscore  # noqa: F401  (fail early if the package is missing)

    b = Bench(a)
    print(f"segscore benchmark; threads={a.threads}; peers: {b.peers}; load avg {os.getloadavg()}", flush=True)
    only = set(filter(None, a.only.split(","))) or {"surface", "edt", "edt-multilabel", "memory"}
    makers = b.make_cases()
    keys = [k for k in makers if not a.cases or k in a.cases.split(",")]
    memory = []
    load_before = os.getloadavg()
    git_at_start = git_state()  # the tree may move while a long run goes on
    t_start = time.perf_counter()
    for key in keys:
        c = makers[key]()
        b.describe(key, c)
        if "surface" in only:
            if c.is_mask:
                b.surface_binary(key, c)
            else:
                b.surface_labels(key, c, "surface-labels14" if len(c.labels) == 14 else "surface-labels")
        if c.is_mask and "edt" in only:
            b.edt_group(key, c)
        if not c.is_mask and "edt-multilabel" in only:
            b.edt_multilabel_group(key, c)
        if c.is_mask and "memory" in only:
            libs = ["segscore"]
            if key == "binary512" or a.quick:
                libs += [p for p in ("monai", "deepmind") if b.peers[p]]
            memory.append(b.memory(key, c, libs))
        del c
        gc.collect()
    rows = b.rows
    ratio_rows(rows)
    tt = targets_table(rows)
    print_table(rows, ["monai", "deepmind", "medpy", "seg-metrics", "edt", "scipy"])
    if tt:
        print("\ntargets (ratio = peer time / segscore time, same run)")
        for t in tt:
            aim = f", aim {t['aim']:.1f}x" if t["aim"] else ""
            print(f"  {t['group']:<34s} vs {t['peer']:<12s} {t['ratio']:7.2f}x  target >= {t['target']:.0f}x{aim}: "
                  f"{'met' if t['met'] else 'NOT met'}")
    per_label = [dict(group=r["group"], **r["per_label"]) for r in rows if r.get("per_label")]
    if per_label:
        print("\nper-label cost of ss.evaluate (label maps)")
        for p in per_label:
            print(f"  {p['group']:<34s} {p['labels']:4d} labels: total {p['total_per_label_ms']:.2f} ms/label, "
                  f"surface {p['surface_per_label_ms']:.2f} ms/label, counting pass + overlap "
                  f"{p['counting_pass_and_overlap_s'] * 1e3:.1f} ms")
    if memory:
        print("\npeak memory beyond the inputs (fresh subprocess, VmHWM)")
        for m in memory:
            for lib, v in m["by_library"].items():
                print(f"  {m['case']:<12s} {lib:<10s} {v['peak_beyond_inputs_mb']:8.1f} MB  (inputs {m['inputs_mb']:.0f} MB,"
                      f" volume {m['volume_voxels'] / 1e6:.1f} M voxels, union bbox {m['union_bbox_voxels'] / 1e6:.1f} M)")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    doc = {
        "meta": {"date": _dt.datetime.now().isoformat(timespec="seconds"), "quick": a.quick, "threads": a.threads,
                 "repeats": a.repeats, "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                                   "processor": platform.processor()},
                 "load_avg_before": load_before, "load_avg_after": os.getloadavg(),
                 "wall_s": time.perf_counter() - t_start, "versions": versions(), "git": git_at_start,
                 "peers": b.peers},
        "cases": b.case_info,
        "results": rows,
        "targets": tt,
        "per_label": per_label,
        "memory": memory,
    }
    (out / "compare.json").write_text(json.dumps(doc, indent=1, default=_json_default))
    ok = plot(rows, out / "compare.png")
    print(f"\nwrote {out / 'compare.json'}" + (f" and {out / 'compare.png'}" if ok else ""))
    return 0


def _small(v):
    """Keep a returned value for the JSON record only when it is small (numbers, short lists)."""
    if isinstance(v, (bool, int, float, str)) or v is None:
        return v
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, (list, tuple)) and len(v) <= 200 and all(isinstance(x, (int, float)) for x in v):
        return [float(x) for x in v]
    if isinstance(v, dict) and len(v) <= 200:
        return v
    return None


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


if __name__ == "__main__":
    sys.exit(main())

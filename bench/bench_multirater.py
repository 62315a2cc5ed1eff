"""Multi-rater scoring: the one C++ pass against the per-label / per-library way.

Two measurements, both in this run:

1. demo: the per-case compute of `segscore score` on the `segscore demo` data set (three
   256x256x96 cases, five labels, three raters, (x, y, z, 6) probability maps): the scorers of
   app/scorers.py as they run (the case's one pass) and, for comparison, the public functions
   called one by one (the scorers' `_separate` path).  The compute time is the journal's
   `compute_s` (wall, after the files are read) and the process CPU time (all threads), the
   median over --repeats; on a shared machine the CPU time is the steadier figure.
2. curvas: a CURVAS-like case (512 x 512 x 200 by default, three organs, three raters, float32
   organ probabilities, a prediction) scored end to end by the public ``ss.curvas`` (the
   challenge's numbers: MONAI's row-wise Dice quirk, torchmetrics' float32 ECE per rater with
   its softmax when the organs sum above 1, numpy's float32 predicted volume, the tabulated
   CDF CRPS), against a loop of the libraries the official CURVAS 2024 evaluation calls, driven
   as its code drives them: numpy consensus masks and volumes, MONAI's DiceMetric on the 3-D
   arrays, torchmetrics' MulticlassCalibrationError over (1 - sum of organs, organs) per rater,
   the tabulated-CDF CRPS with scipy's quad.  Both give the same numbers (the largest relative
   difference is printed; MONAI's Dice and torchmetrics' softmax are float32).
   Each side runs in its own subprocess (fresh interpreter: fair peak memory); peak memory
   beyond the inputs is VmHWM - VmRSS (Linux /proc) with the peak reset after the inputs are
   loaded, and tracemalloc's peak of the Python-side allocations.  The data is generated once
   into --data.  `--pass-only` times the bare one pass (segscore.probabilistic.onepass) instead,
   and `--light-official` the lighter library loop (volumetric Dice, background clipped so
   torchmetrics never softmaxes), as this benchmark did before ss.curvas ran on it.

Run:  python bench/bench_multirater.py [--demo-only | --curvas-only] [--shape 512 512 200]
                                       [--repeats 3] [--threads N] [--pass-only] [--json OUT]
Needs torch, monai and torchmetrics for the official-library loop.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

SPACING = (0.8, 0.8, 1.5)
N_BINS = 50


# ====================================================================== 1. the demo
def bench_demo(repeats: int) -> dict:
    from segscore.app import scorers
    from segscore.app.demo import generate
    from segscore.app.pairing import load_case, pair_cases

    with tempfile.TemporaryDirectory() as tmp:
        paths = generate(os.path.join(tmp, "demo"), cases=3, seed=0)
        with open(paths["labels"]) as f:
            labels = {k: v for k, v in json.load(f)["labels"].items() if v != 0}
        cfg = scorers.Config(labels=labels, has_raters=True, has_probs=True)
        specs = pair_cases(paths["pred"], paths["ref"], raters={f"rater{i + 1}": r for i, r in
                                                                  enumerate(paths["raters"])},
                           probs_dir=paths["probs"])
        cases = [load_case(s, cfg) for s in specs]

    def per_case(separate: bool) -> list:
        orig = getattr(scorers, "case_pass", None)  # (absent before the one pass: --demo-only on older code)
        if separate:
            scorers.case_pass = lambda case, cfg: None
        try:
            wall, cpu = [], []
            for c in cases:
                ts, cs = [], []
                for _ in range(repeats):
                    getattr(c, "cache", {}).clear()
                    t0 = time.process_time()
                    ts.append(scorers.score_case(c, cfg)["meta"]["compute_s"])
                    cs.append(time.process_time() - t0)
                wall.append(statistics.median(ts))
                cpu.append(statistics.median(cs))
            return wall, cpu
        finally:
            if orig is not None:
                scorers.case_pass = orig

    (one, one_cpu), (sep, sep_cpu) = per_case(False), per_case(True)
    return {"cases": len(cases), "shape": list(cases[0].ref.array.shape), "one_pass_s": one,
            "separate_s": sep, "one_pass_mean_s": statistics.mean(one), "separate_mean_s": statistics.mean(sep),
            "one_pass_cpu_s": one_cpu, "separate_cpu_s": sep_cpu, "one_pass_mean_cpu_s": statistics.mean(one_cpu),
            "separate_mean_cpu_s": statistics.mean(sep_cpu)}


# ====================================================================== 2. a CURVAS-like case
def make_curvas(root, shape, seed=2024):
    """raters, pred (uint8 label maps) and organ probabilities (3, *shape) float32, as .npy."""
    from segscore.app.demo import make_case

    files = {k: os.path.join(root, k + ".npy") for k in ("r0", "r1", "r2", "pred", "prob")}
    if all(os.path.exists(f) for f in files.values()):
        return files
    os.makedirs(root, exist_ok=True)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    c = make_case(tuple(shape), SPACING, 3, rng, n_raters=3, probs=True, pred_shift_mm=1.5, pred_scale=0.04)
    for k in range(3):
        np.save(files[f"r{k}"], np.ascontiguousarray(c["raters"][k]))
    np.save(files["pred"], np.ascontiguousarray(c["pred"]))
    organs = np.moveaxis(c["probs"][..., 1:], -1, 0).astype(np.float32) * np.float32(1 / 255)
    np.save(files["prob"], np.ascontiguousarray(organs))
    print(f"generated the CURVAS-like case {tuple(shape)} in {time.perf_counter() - t0:.1f} s under {root}",
          file=sys.stderr)
    return files


def _mem():
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM")):
                k, v = line.split(":")
                out[k] = int(v.split()[0]) * 1024
    return out


def _reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _background(prob):
    """The challenge's background channel, 1 - the organs' sum in float32, clipped at 0 (a
    float32 sum a little above 1 would make torchmetrics softmax the whole map: the official
    code's quirk, reproduced by ss.curvas, not what is timed here)."""
    return np.maximum(np.float32(1.0) - prob.sum(axis=0, dtype=np.float32), np.float32(0.0))


def _load(files, corner=False):
    if corner:
        c = (slice(0, 16),) * 3
        return ([np.ascontiguousarray(np.load(files[f"r{k}"], mmap_mode="r")[c]) for k in range(3)],
                np.ascontiguousarray(np.load(files["pred"], mmap_mode="r")[c]),
                np.ascontiguousarray(np.load(files["prob"], mmap_mode="r")[(slice(None),) + c]))
    raters = [np.load(files[f"r{k}"]) for k in range(3)]
    return raters, np.load(files["pred"]), np.load(files["prob"])


def run_curvas(files, warm=False, threads=None) -> dict:
    """ss.curvas end to end: the challenge's numbers (convention "curvas2024")."""
    import tracemalloc

    import segscore as ss

    raters, pred, prob = _load(files, warm)
    m0 = _mem()
    _reset_peak()
    tracemalloc.start()
    t0, c0 = time.perf_counter(), time.process_time()
    r = ss.curvas(prob, raters, spacing=SPACING, pred=pred, labels=list(range(1, prob.shape[0] + 1)),
                  threads=threads)
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    m1 = _mem()
    res = {"dice": r.dice, "confidence": r.confidence, "crps": r.crps, "ece": r.ece,
           "ece_softmax": r.meta["ece_softmax"]}
    return {"time_s": dt, "cpu_s": dc, "rss_inputs": m0["VmRSS"], "peak_beyond_inputs": m1["VmHWM"] - m0["VmRSS"],
            "tracemalloc_peak": traced, "results": res}


def run_segscore(files, warm=False, threads=None) -> dict:
    """Every CURVAS number from one read (segscore.probabilistic.onepass)."""
    from segscore.probabilistic.crps import _volume_score
    from segscore.probabilistic.onepass import rater_pass

    raters, pred, prob = _load(files, warm)
    m0 = _mem()
    _reset_peak()
    t0, c0 = time.perf_counter(), time.process_time()
    chans = [prob[i] for i in range(prob.shape[0])]
    edges = np.arange(N_BINS + 1) / N_BINS
    # the background channel (_background's float32 arithmetic) is computed inside the pass
    st = rater_pass(raters, pred, chans, list(range(len(chans) + 1)), target=raters[0], edges=edges, top=True,
                    implicit_background=True, channel_bins=False, threads=threads)
    voxel = float(np.prod(SPACING))
    K = len(raters)
    res = {"dice": {}, "confidence": {}, "crps": {}, "soft_dice": {}, "ece": []}
    for i, v in enumerate(range(1, prob.shape[0] + 1)):
        tp, fp, fn, _ = st.consensus_counts(v)
        res["dice"][v] = 2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn else math.nan
        votes = st.votes(v)
        m_fg = st.pfg[v] / votes[K] if votes[K] else math.nan
        m_bg = st.pbg[v] / votes[0] if votes[0] else math.nan
        res["confidence"][v] = ((1.0 - m_bg) + m_fg) / 2.0
        res["crps"][v] = _volume_score(st.prob_volume(v) * voxel, st.rater_counts(v).astype(np.float64) * voxel,
                                       "curvas2024", "quad")
        res["soft_dice"][v] = st.soft_dice(v)
    cnt = st.calib["top_count"][:, 0].astype(np.float64)
    conf = st.calib["top_conf"]
    for k in range(K):
        cor = st.calib["top_rater"][k].astype(np.float64)
        res["ece"].append(float(np.sum(np.abs(cor - conf)) / cnt.sum()))
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    m1 = _mem()
    return {"time_s": dt, "cpu_s": dc, "rss_inputs": m0["VmRSS"], "peak_beyond_inputs": m1["VmHWM"] - m0["VmRSS"],
            "results": res}


def _crps_tabulated(v, mu, sigma):
    """The challenge's volume CRPS: Normal CDF tabulated at 100 nodes between its 1st and 99th
    percentiles (scipy), the squared difference to the step at v integrated by scipy's quad
    over mu +- 3 sigma (numpy / scipy, as the official script)."""
    from scipy import integrate, stats

    if sigma == 0:
        return 0.0
    x = np.linspace(stats.norm.ppf(0.01, mu, sigma), stats.norm.ppf(0.99, mu, sigma), 100)
    f = stats.norm.cdf(x, mu, sigma)

    def g(t):
        cdf = 0.0 if t < x[0] else 1.0 if t > x[-1] else float(np.interp(t, x, f))
        return (cdf - 0.5 * (np.sign(t - v) + 1.0)) ** 2

    return integrate.quad(g, mu - 3 * sigma, mu + 3 * sigma)[0]


def run_official(files, warm=False, threads=None) -> dict:
    """A loop of the libraries the official CURVAS 2024 evaluation calls, as its code calls them."""
    import torch
    from monai.metrics import DiceMetric
    from torchmetrics.classification import MulticlassCalibrationError

    torch.set_num_threads(threads or 2)
    raters, pred, prob = _load(files, warm)
    m0 = _mem()
    _reset_peak()
    t0, c0 = time.perf_counter(), time.process_time()
    voxel = float(np.prod(SPACING))
    res = {"dice": {}, "confidence": {}, "crps": {}, "ece": []}
    for i, v in enumerate(range(1, prob.shape[0] + 1)):
        masks = [r == v for r in raters]
        votes = np.sum(masks, axis=0)
        fg = votes == len(raters)
        bg = votes == 0
        dis = ~(fg | bg)
        pm = (pred == v) & ~dis
        # the challenge hands MONAI the 3-D arrays (read as batch, channel, spatial)
        dm = DiceMetric(include_background=False, reduction="mean", get_not_nans=False, ignore_empty=True)
        dm(torch.from_numpy(pm.astype(np.uint8)), torch.from_numpy(fg.astype(np.uint8)))
        res["dice"][v] = float(dm.aggregate().item())
        ch = prob[i]
        m_fg = float(np.mean(ch[fg], dtype=np.float64)) if fg.any() else math.nan
        m_bg = float(np.mean(ch[bg], dtype=np.float64)) if bg.any() else math.nan
        res["confidence"][v] = ((1.0 - m_bg) + m_fg) / 2.0
        vols = np.array([m.sum() for m in masks], dtype=np.float64) * voxel
        res["crps"][v] = _crps_tabulated(float(ch.sum()) * voxel, vols.mean(), vols.std())
    # background = 1 - sum of organs, unclipped (torchmetrics softmaxes when it is < 0 anywhere)
    samples = torch.from_numpy(prob)
    allp = torch.cat((1 - samples.sum(dim=0, keepdim=True), samples), dim=0)
    flat = allp.permute(*range(1, allp.ndim), 0).reshape(-1, prob.shape[0] + 1)
    for r in raters:
        ece = MulticlassCalibrationError(num_classes=prob.shape[0] + 1, n_bins=N_BINS, norm="l1")
        res["ece"].append(float(ece(flat, torch.from_numpy(r.reshape(-1).astype(np.int64)))))
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    m1 = _mem()
    return {"time_s": dt, "cpu_s": dc, "rss_inputs": m0["VmRSS"], "peak_beyond_inputs": m1["VmHWM"] - m0["VmRSS"],
            "results": res}


def run_official_light(files, warm=False, threads=None) -> dict:
    """The lighter loop this benchmark timed before: the same libraries, but MONAI's Dice on
    (1, 1, *spatial) tensors (volumetric) and the background clipped at 0 (so torchmetrics
    never softmaxes): less work than the challenge's code does, and other numbers than
    ss.curvas's where the challenge's quirks apply."""
    import torch
    from monai.metrics import DiceMetric
    from torchmetrics.classification import MulticlassCalibrationError

    torch.set_num_threads(threads or 2)
    raters, pred, prob = _load(files, warm)
    m0 = _mem()
    _reset_peak()
    t0, c0 = time.perf_counter(), time.process_time()
    voxel = float(np.prod(SPACING))
    res = {"dice": {}, "confidence": {}, "crps": {}, "ece": []}
    for i, v in enumerate(range(1, prob.shape[0] + 1)):
        masks = [r == v for r in raters]
        votes = np.sum(masks, axis=0)
        fg = votes == len(raters)
        bg = votes == 0
        dis = ~(fg | bg)
        pm = (pred == v) & ~dis
        dm = DiceMetric(include_background=True, reduction="mean")
        dm(torch.from_numpy(pm[None, None]).float(), torch.from_numpy(fg[None, None]).float())
        res["dice"][v] = float(dm.aggregate())
        ch = prob[i]
        m_fg = float(ch[fg].mean()) if fg.any() else math.nan
        m_bg = float(ch[bg].mean()) if bg.any() else math.nan
        res["confidence"][v] = ((1.0 - m_bg) + m_fg) / 2.0
        vols = np.array([m.sum() for m in masks], dtype=np.float64) * voxel
        res["crps"][v] = _crps_tabulated(float(ch.sum()) * voxel, vols.mean(), vols.std())
    bgp = _background(prob)
    allp = torch.from_numpy(np.concatenate([bgp[None], prob]).reshape(prob.shape[0] + 1, -1).T.copy())
    for r in raters:
        ece = MulticlassCalibrationError(num_classes=prob.shape[0] + 1, n_bins=N_BINS, norm="l1")
        res["ece"].append(float(ece(allp, torch.from_numpy(r.reshape(-1).astype(np.int64)))))
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    m1 = _mem()
    return {"time_s": dt, "cpu_s": dc, "rss_inputs": m0["VmRSS"], "peak_beyond_inputs": m1["VmHWM"] - m0["VmRSS"],
            "results": res}


def bench_curvas(data, shape, repeats, threads=None, pass_only=False, official_repeats=None, light=False) -> dict:
    files = make_curvas(data, shape)
    out = {"shape": list(shape), "raters": 3, "organs": 3, "n_bins": N_BINS, "threads": threads,
           "timed": "the one pass (onepass.rater_pass)" if pass_only else "ss.curvas end to end",
           "official_loop": "light (volumetric Dice, clipped background)" if light else "as the challenge's code"}
    for side in ("segscore", "official"):
        runs = []
        n = repeats if side == "segscore" else (official_repeats or max(1, repeats // 2))
        for _ in range(n):
            child = "pass" if (side == "segscore" and pass_only) else ("light" if side == "official" and light else side)
            r = subprocess.run([sys.executable, __file__, "--_child", child, json.dumps(files)]
                               + (["--threads", str(threads)] if threads else []), capture_output=True,
                               text=True)
            if r.returncode != 0:
                raise RuntimeError(f"{side} run failed:\n{r.stderr[-3000:]}")
            runs.append(json.loads(r.stdout.strip().splitlines()[-1]))
        best = min(runs, key=lambda x: x["time_s"])
        out[side] = {"time_s": [x["time_s"] for x in runs], "median_s": statistics.median(x["time_s"] for x in runs),
                     "min_s": min(x["time_s"] for x in runs),
                     "cpu_s": [x["cpu_s"] for x in runs], "median_cpu_s": statistics.median(x["cpu_s"] for x in runs),
                     "min_cpu_s": min(x["cpu_s"] for x in runs),
                     "peak_beyond_inputs_mb": best["peak_beyond_inputs"] / 1e6,
                     "tracemalloc_peak_mb": best.get("tracemalloc_peak", 0) / 1e6,
                     "inputs_rss_mb": best["rss_inputs"] / 1e6, "results": best["results"]}
    s, o = out["segscore"]["results"], out["official"]["results"]
    out["ratio"] = out["official"]["median_s"] / out["segscore"]["median_s"]
    out["ratio_min"] = out["official"]["min_s"] / out["segscore"]["min_s"]
    out["ratio_cpu"] = out["official"]["median_cpu_s"] / out["segscore"]["median_cpu_s"]
    agree = {}
    for key in ("dice", "confidence", "crps"):
        sk = {int(k): v for k, v in s[key].items()}
        agree[key] = max(abs(sk[int(k)] - o[key][k]) / max(abs(o[key][k]), 1e-300) for k in o[key])
    agree["ece"] = max(abs(a - b) / b for a, b in zip(s["ece"], o["ece"]))
    out["max_rel_diff"] = agree
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--demo-only", action="store_true")
    ap.add_argument("--curvas-only", action="store_true")
    ap.add_argument("--shape", type=int, nargs=3, default=(512, 512, 200))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "results", "curvas_case"))
    ap.add_argument("--json", default=None)
    ap.add_argument("--threads", type=int, default=None, help="threads of both sides (default: segscore's "
                    "default, torch 2)")
    ap.add_argument("--pass-only", action="store_true", help="time the bare one pass instead of ss.curvas")
    ap.add_argument("--official-repeats", type=int, default=None)
    ap.add_argument("--light-official", action="store_true", help="the lighter official-library loop timed before "
                    "(volumetric Dice, clipped background: less work, other numbers)")
    ap.add_argument("--_child", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a._child:
        side, files = a._child[0], json.loads(a._child[1])
        run = {"segscore": run_curvas, "pass": run_segscore, "official": run_official,
               "light": run_official_light}[side]
        import scipy.integrate  # noqa: F401  (both sides' CRPS: imported before the clock)
        import scipy.stats  # noqa: F401

        run(files, warm=True, threads=a.threads)  # imports and first-call set-up, on a 16^3 corner
        print(json.dumps(run(files, threads=a.threads), default=float))
        return 0
    report = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
              "load_avg": os.getloadavg()}
    if not a.curvas_only:
        d = bench_demo(a.repeats)
        report["demo"] = d
        print(f"demo ({d['cases']} cases {tuple(d['shape'])}): compute per case {d['one_pass_mean_s']:.3f} s wall / "
              f"{d['one_pass_mean_cpu_s']:.3f} s CPU (one pass), {d['separate_mean_s']:.3f} s wall / "
              f"{d['separate_mean_cpu_s']:.3f} s CPU (public functions one by one)")
    if not a.demo_only:
        data = a.data if tuple(a.shape) == (512, 512, 200) else a.data + "_" + "x".join(map(str, a.shape))
        c = bench_curvas(data, a.shape, a.repeats, a.threads, a.pass_only, a.official_repeats, a.light_official)
        report["curvas"] = c
        print(f"CURVAS-like {tuple(c['shape'])} ({c['timed']}; official loop {c['official_loop']}): segscore {c['segscore']['median_s']:.2f} s wall "
              f"(min {c['segscore']['min_s']:.2f}) / {c['segscore']['median_cpu_s']:.2f} s CPU, official-library loop "
              f"{c['official']['median_s']:.1f} s wall (min {c['official']['min_s']:.1f}) / "
              f"{c['official']['median_cpu_s']:.1f} s CPU ({c['ratio']:.1f}x wall median, {c['ratio_min']:.1f}x min, "
              f"{c['ratio_cpu']:.1f}x CPU); peak beyond inputs "
              f"{c['segscore']['peak_beyond_inputs_mb']:.0f} MB (tracemalloc {c['segscore']['tracemalloc_peak_mb']:.1f} MB) "
              f"vs {c['official']['peak_beyond_inputs_mb']:.0f} MB; "
              f"largest relative difference {json.dumps({k: float(f'{v:.2g}') for k, v in c['max_rel_diff'].items()})}")
    print(f"load average {report['load_avg']}")
    if a.json:
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        with open(a.json, "w") as f:
            json.dump(report, f, indent=1, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())

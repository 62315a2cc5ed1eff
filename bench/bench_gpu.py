"""GPU benchmark: segscore's GPU path against its memory-bandwidth floor,
MONAI's GPU (cuCIM) path and segscore's CPU path, on the same inputs.

    python bench/bench_gpu.py                  # full run on CUDA device 0
    python bench/bench_gpu.py --quick          # small sizes (smoke run)
    python bench/bench_gpu.py --bandwidth 3350 # GB/s of the floor (else queried from the device)

Needs CuPy and a CUDA device; MONAI (monai + cucim-cu13 + a CUDA torch) and
the compiled module are optional (their rows are skipped with the reason).

Cases (bench/cases.py, deterministic; spacing 0.8 x 0.8 x 2.5 mm):
  * edt 512^3, float32 and float64: ss.edt of an organ mask's complement (the
    distance to the organ everywhere; long empty lines are the EDT's worst
    case), uint8 input, CuPy arrays in and out;
  * binary 512x512x256, all surface metrics: ss.evaluate(metrics=[dice, hd,
    hd95, assd, masd, nsd@1, biou@1]) on bool CuPy arrays;
  * 14 labels 256^3: ss.evaluate(metrics=[dice, hd, hd95, assd, nsd@1]) for
    every label, uint8 CuPy arrays.
For each: segscore compiled (device="cuda") and CuPy/NVRTC path (device="cupy",
warm cache), MONAI on torch CUDA tensors (EDT: monai.transforms.utils.
distance_transform_edt, which calls cuCIM for CUDA tensors, float32 only;
metrics: compute_hausdorff_distance(percentile=95 and None),
compute_average_surface_distance(symmetric=True), compute_surface_dice per
label, one-hot inputs built outside the timed region), and segscore on the
host (numpy inputs, default threads).

Rows "segscore-<backend>-dist" time ss.surface_distances alone (the GPU
pipeline and the transfer of the distances), so the host-side metric
reductions of SurfaceDistances (sorting for percentiles) show as the
difference.  Reported per row: median time (ms) of --repeat calls after a warm-up (each
call ends with a device synchronisation; evaluate returns host numbers, so it
includes the result transfer), the bytes of the floor, the achieved GB/s over
those bytes and time / floor time at the device bandwidth.  Floors:
  * EDT: the separable model, read the input once and write the output, then
    read + write the output once per further axis: V * (in + 5 T) bytes for 3
    axes (the unfused lower bound of any 3-pass exact EDT); the pure I/O floor
    V * (in + T) is listed too;
  * evaluate: one read of pred and ref, 2 * V * itemsize bytes (the counting
    pass; crops are much smaller than the volume).
Also: the cold NVRTC compile time of the CuPy path (a fresh process with an
empty CuPy kernel cache: first call minus warm call), the device's measured
device-to-device copy bandwidth, and the GPU targets (H100, ~3 TB/s):
EDT 512^3 <= 3 ms f32 / <= 5 ms f64, binary case <= 10 ms, 14-label case
<= 20 ms, >= 10x MONAI, CuPy path within 1.5x of the compiled module.
Calibration and CRPS: ss.ece over a 512^3 float32 P(class 1) map with
uint8 labels (target: >= 60 % of the memory bandwidth; floor = one read of both),
top-label and MONAI class-wise ECE of a (4, 256^3) float16 map, against
torchmetrics' binary_calibration_error on CUDA tensors and the CPU path;
crps_gaussian on 16 M float64 values (floor 32 bytes per value) and crps_ensemble
on 1 M x 50 members (compute-bound: one sort per observation).
Lesion-wise: ss.lesionwise on bench_components' lesion volume (256 x 256 x 96, 30 lesions;
--quick 128 x 128 x 48) under segscore and panoptica (components, counting pass and per-lesion
distances on the GPU) and lits (instances on the host, distances on the GPU), against the CPU path.
Writes bench/results/gpu.json.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import cases

TARGETS_MS = {"edt512_f32": 3.0, "edt512_f64": 5.0, "binary_512x512x256": 10.0, "labels14_256": 20.0}
KNOWN_BW = {"H100 SXM": 3350.0, "H100 NVL": 3900.0, "H100 PCIe": 2000.0, "H100": 3350.0, "H200": 4800.0,
            "A100-SXM4-80GB": 2039.0, "A100": 1555.0}


def _threads() -> int:
    """The CPU path's default thread count (for the notes of the CPU rows)."""
    from segscore._core.backends import default_threads

    return default_threads()


# ----------------------------------------------------------------------------- device helpers

class Gpu:
    """CuPy device helpers (or the sequential emulation with --emulate)."""

    def __init__(self, device, emulate=False):
        self.emulate = emulate
        self.device = device
        if emulate:
            sys.path.insert(0, str(HERE.parent / "tests"))
            from support import gpu_emulation as E

            self.E = E
            E.install()
            self.name = "sequential CUDA emulation (no GPU)"
            return
        import cupy

        self.cp = cupy
        cupy.cuda.Device(device).use()
        props = cupy.cuda.runtime.getDeviceProperties(device)
        self.name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
        self.cc = f"{props['major']}.{props['minor']}"

    def up(self, a):
        return self.E.EmuArray(np.array(a)) if self.emulate else self.cp.asarray(a)

    def sync(self):
        if not self.emulate:
            self.cp.cuda.get_current_stream().synchronize()

    def host(self, x):
        return x.a.copy() if self.emulate else self.cp.asnumpy(x)

    def nominal_bandwidth(self):
        """GB/s from the memory clock and bus width, else a table of known parts."""
        if self.emulate:
            return None, "none (emulation)"
        rt = self.cp.cuda.runtime
        try:
            clock_khz = rt.deviceGetAttribute(36, self.device)   # cudaDevAttrMemoryClockRate
            bus_bits = rt.deviceGetAttribute(37, self.device)    # cudaDevAttrGlobalMemoryBusWidth
            if clock_khz > 0 and bus_bits > 0:
                return 2.0 * clock_khz * 1e3 * bus_bits / 8 / 1e9, "memory clock x bus width (device attributes)"
        except Exception:
            pass
        for key, bw in KNOWN_BW.items():
            if key in self.name:
                return bw, f"table entry {key!r}"
        return None, "unknown (pass --bandwidth)"

    def copy_bandwidth(self, nbytes=1 << 30):
        """Measured device-to-device copy bandwidth (read + write), GB/s."""
        if self.emulate:
            return None
        cp = self.cp
        a = cp.empty(nbytes // 4, cp.float32)
        b = cp.empty_like(a)
        b[...] = a
        self.sync()
        best = 1e9
        for _ in range(5):
            t = time.perf_counter()
            b[...] = a
            self.sync()
            best = min(best, time.perf_counter() - t)
        return 2 * nbytes / best / 1e9


def timeit(fn, sync, repeat):
    fn()
    sync()
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        sync()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples), min(samples)


# ----------------------------------------------------------------------------- MONAI

def monai_status():
    try:
        import torch

        if not torch.cuda.is_available():
            return None, "torch has no CUDA device"
        import monai
        from monai.utils import optional_import

        _, has_cucim = optional_import("cucim.core.operations.morphology", name="distance_transform_edt")
        if not has_cucim:
            return None, "cucim (cucim-cu13) is not installed: MONAI would fall back to scipy on the host"
        return torch, None
    except ImportError as exc:
        return None, f"{exc.name} is not installed"


def monai_edt_fn(torch, mask_np, spacing):
    from monai.transforms.utils import distance_transform_edt

    t = torch.from_numpy(mask_np.astype(np.uint8)[None]).cuda()
    return lambda: distance_transform_edt(t, sampling=spacing, float64_distances=False)


def monai_metrics_fn(torch, pred_np, ref_np, labels, spacing, nsd_tol=1.0):
    from monai.metrics import compute_average_surface_distance, compute_hausdorff_distance, compute_surface_dice

    def onehot(a):
        return torch.stack([torch.from_numpy(a == lab) for lab in [0] + list(labels)])[None].cuda()

    yp, yr = onehot(pred_np), onehot(ref_np)
    tol = [nsd_tol] * len(labels)

    def run():
        compute_hausdorff_distance(yp, yr, include_background=False, spacing=spacing)
        compute_hausdorff_distance(yp, yr, include_background=False, percentile=95, spacing=spacing)
        compute_average_surface_distance(yp, yr, include_background=False, symmetric=True, spacing=spacing)
        compute_surface_dice(yp, yr, tol, include_background=False, spacing=spacing)
        torch.cuda.synchronize()

    return run


# ----------------------------------------------------------------------------- cold compile

COLD = r"""
import json, sys, time
import numpy as np, cupy, segscore as ss
m = np.zeros((64, 64, 64), np.uint8); m[10:50, 12:40, 20:44] = 1
x = cupy.asarray(m)
out = {}
for name, fn in (("edt_f32", lambda: ss.edt(x, dtype="float32", device="cupy")),
                 ("evaluate", lambda: ss.evaluate(x, x, spacing=(1, 1, 2), tolerance=1.0, device="cupy"))):
    t = time.perf_counter(); fn(); cupy.cuda.Device().synchronize(); first = time.perf_counter() - t
    t = time.perf_counter(); fn(); cupy.cuda.Device().synchronize(); warm = time.perf_counter() - t
    out[name] = {"first_s": first, "warm_s": warm, "compile_s": first - warm}
print(json.dumps(out))
"""


def cold_compile(device):
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, CUPY_CACHE_DIR=d, CUDA_VISIBLE_DEVICES=os.environ.get("CUDA_VISIBLE_DEVICES",
                                                                                       str(device)))
        r = subprocess.run([sys.executable, "-c", COLD], capture_output=True, text=True, env=env, timeout=900)
        if r.returncode:
            return {"error": r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "failed"}
        return json.loads(r.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- main

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    ap.add_argument("--bandwidth", type=float, default=None, help="memory bandwidth of the floor, GB/s")
    ap.add_argument("--device", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--cpu-repeat", type=int, default=3)
    ap.add_argument("--no-cpu", action="store_true", help="skip the CPU path rows")
    ap.add_argument("--no-monai", action="store_true")
    ap.add_argument("--no-cold", action="store_true", help="skip the cold NVRTC compile measurement")
    ap.add_argument("--emulate", action="store_true", help=argparse.SUPPRESS)  # smoke-test this script without a GPU
    ap.add_argument("--out", default=str(HERE / "results" / "gpu.json"))
    args = ap.parse_args(argv)

    import segscore as ss
    from segscore.gpu import backend as B

    gpu = Gpu(args.device, args.emulate)
    if args.emulate:
        args.quick, args.no_monai, args.no_cold, args.repeat, args.cpu_repeat = True, True, True, 1, 1
    bw, bw_src = (args.bandwidth, "--bandwidth") if args.bandwidth else gpu.nominal_bandwidth()
    copy_bw = gpu.copy_bandwidth()
    backends = {}
    for name in ("cuda", "cupy"):
        why = B.why_not(name, args.device)
        backends[name] = why
    torch, monai_why = (None, "--no-monai") if args.no_monai else monai_status()

    q = args.quick
    edt_shape = (128, 128, 128) if q else (512, 512, 512)
    bin_shape = (128, 128, 64) if q else (512, 512, 256)
    lab_shape = (96, 96, 96) if q else (256, 256, 256)
    lab_radii = {"rmin": 4.0, "rmax": 12.0}  # small label maps (--quick)
    if args.emulate:
        edt_shape, bin_shape, lab_shape = (24, 24, 24), (40, 40, 20), (64, 64, 48)
        lab_radii = {"rmin": 2.0, "rmax": 5.0}
    sp = cases.SPACING
    print(f"device: {gpu.name}; bandwidth {bw and f'{bw:.0f} GB/s'} ({bw_src}); measured copy "
          f"{copy_bw and f'{copy_bw:.0f} GB/s'}")
    print("backends: " + ", ".join(f"{k}: {'ok' if v is None else v}" for k, v in backends.items()))
    print(f"MONAI: {'ok' if monai_why is None else monai_why}")

    rows = []

    def floor_ms(nbytes):
        return nbytes / (bw * 1e9) * 1e3 if bw else None

    def add(case, impl, ms, best_ms, nbytes, note=""):
        row = {"case": case, "impl": impl, "median_ms": ms, "best_ms": best_ms, "floor_bytes": nbytes,
               "gbps": nbytes / (ms * 1e-3) / 1e9 if ms and nbytes else None,
               "x_floor": ms / floor_ms(nbytes) if ms and nbytes and bw else None, "note": note}
        rows.append(row)
        fl = f"{row['x_floor']:.2f}x floor" if row["x_floor"] else ""
        gb = f"{row['gbps']:.0f} GB/s" if row["gbps"] else ""
        print(f"  {case:22s} {impl:22s} {ms:10.3f} ms  {gb:>10s}  {fl:>12s}  {note}", flush=True)

    def gpu_rows(case, make_call, nbytes, check=None):
        for name in ("cuda", "cupy"):
            if backends[name]:
                print(f"  {case:22s} segscore-{name:13s} skipped: {backends[name]}")
                continue
            fn = make_call(name)
            if check is not None:
                check(name, fn())
            med, best = timeit(fn, gpu.sync, args.repeat)
            add(case, f"segscore-{name}", med * 1e3, best * 1e3, nbytes)

    # ---- EDT ---------------------------------------------------------------------------
    print(f"\nEDT {edt_shape}")
    big = cases.binary_case(shape=edt_shape, seed=3)
    mask = np.ascontiguousarray(~big.ref).astype(np.uint8)  # distance to the organ everywhere
    V = mask.size
    xm = gpu.up(mask)
    for dt, T in (("float32", 4), ("float64", 8)):
        case = f"edt{edt_shape[0]}_{'f32' if T == 4 else 'f64'}"
        sep = V * (1 + 5 * T)
        ref_cpu = {}

        def check(name, out, dt=dt, ref_cpu=ref_cpu):
            if "v" not in ref_cpu:
                ref_cpu["v"] = ss.edt(mask, spacing=sp, dtype=dt)
            got = gpu.host(out)
            tol = 1e-12 if dt == "float64" else 1e-6
            fin = np.isfinite(ref_cpu["v"])
            assert np.allclose(got[fin], ref_cpu["v"][fin], rtol=tol, atol=0), f"{name}: GPU EDT != CPU EDT"

        gpu_rows(case, lambda name, dt=dt, xm=xm: (lambda: ss.edt(xm, spacing=sp, dtype=dt, device=name)), sep, check)
        for r_ in rows:
            if r_["case"] == case:
                r_["io_floor_bytes"] = V * (1 + T)
                r_["x_io_floor"] = r_["median_ms"] / floor_ms(V * (1 + T)) if bw else None
        if T == 4 and torch is not None:
            fn = monai_edt_fn(torch, mask, sp)
            med, best = timeit(fn, torch.cuda.synchronize, args.repeat)
            add(case, "monai-cucim", med * 1e3, best * 1e3, sep, "float32 only")
        if not args.no_cpu:
            med, best = timeit(lambda dt=dt: ss.edt(mask, spacing=sp, dtype=dt), lambda: None, args.cpu_repeat)
            add(case, "segscore-cpu", med * 1e3, best * 1e3, sep, f"{_threads()} threads")
    del xm

    # ---- surface metrics -------------------------------------------------------------------
    for case, c, metrics in (
        (f"binary_{'x'.join(map(str, bin_shape))}", cases.binary_case(shape=bin_shape, seed=4),
         ["dice", "hd", "hd95", "assd", "masd", "nsd@1", "biou@1"]),
        (f"labels14_{lab_shape[0]}", cases.multilabel_case(14, shape=lab_shape, seed=5,
                                                           **({} if lab_shape[0] >= 256 else lab_radii)),
         ["dice", "hd", "hd95", "assd", "nsd@1"]),
    ):
        print(f"\n{case}: {metrics}")
        p, r = c.pred, c.ref
        if p.dtype != np.bool_:
            p, r = p.astype(np.uint8), r.astype(np.uint8)
        nbytes = 2 * p.size * p.itemsize
        pd, rd = gpu.up(p), gpu.up(r)
        want = ss.evaluate(p, r, spacing=c.spacing, metrics=metrics).to_dict()

        def check(name, res, want=want, case=case):
            got = res.to_dict()
            for k in want:
                for m, v in want[k].items():
                    g = got[k][m]
                    ok = (np.isnan(v) and np.isnan(g)) or g == v or abs(g - v) <= 1e-12 * abs(v)
                    assert ok, f"{name}: {case} label {k} {m}: GPU {g} != CPU {v}"

        gpu_rows(case, lambda name, pd=pd, rd=rd, c=c, metrics=metrics: (
            lambda: ss.evaluate(pd, rd, spacing=c.spacing, metrics=metrics, device=name)), nbytes, check)
        # the GPU pipeline alone (counting pass, crops, boundaries, EDTs, gather, transfer of the
        # distances), without the metric reductions that SurfaceDistances does on the host
        for name in ("cuda", "cupy"):
            if backends[name] is None:
                med_, best_ = timeit(lambda name=name, pd=pd, rd=rd, c=c: ss.surface_distances(
                    pd, rd, spacing=c.spacing, device=name), gpu.sync, args.repeat)
                add(case, f"segscore-{name}-dist", med_ * 1e3, best_ * 1e3, nbytes,
                    "surface_distances only (no host metric reductions)")
        if torch is not None:
            labels = [1] if c.is_mask else list(c.labels)
            fn = monai_metrics_fn(torch, c.pred.astype(np.uint8) if c.is_mask else c.pred,
                                  c.ref.astype(np.uint8) if c.is_mask else c.ref, labels, c.spacing)
            med, best = timeit(fn, torch.cuda.synchronize, max(1, args.repeat // 3))
            add(case, "monai-cucim", med * 1e3, best * 1e3, nbytes, "HD, HD95, ASSD, NSD per label")
        if not args.no_cpu:
            med, best = timeit(lambda p=p, r=r, c=c, metrics=metrics: ss.evaluate(p, r, spacing=c.spacing,
                                                                                  metrics=metrics),
                               lambda: None, args.cpu_repeat)
            add(case, "segscore-cpu", med * 1e3, best * 1e3, nbytes, f"{_threads()} threads")
        del pd, rd

    # ---- lesion-wise ---------------------------------------------------------------------------
    from bench_components import lesion_volume

    les_shape, les_n = ((128, 128, 48), 20) if q else ((256, 256, 96), 30)
    if args.emulate:
        les_shape, les_n = (48, 48, 24), 6
    lref, lpred, _ = lesion_volume(shape=les_shape, n=les_n)
    lpd, lrd = gpu.up(lpred), gpu.up(lref)
    for conv, lkw in (("segscore", dict(metrics=("dice", "iou", "hd", "hd95", "assd"))),
                      ("panoptica", {}), ("lits", {})):
        case = f"lesionwise_{conv}_{les_shape[0]}"
        print(f"\n{case}: ss.lesionwise(convention={conv!r})")
        nbytes = 2 * lpred.size * lpred.itemsize
        want = ss.lesionwise(lpred, lref, (0.8, 0.8, 2.5), convention=conv, **lkw)

        def check(name, got, want=want, case=case):
            assert len(got.lesions) == len(want.lesions), f"{name}: {case}: rows differ"
            for a, b in zip(got.lesions, want.lesions):
                for k, v in b.items():
                    g = a[k]
                    ok = g == v or (isinstance(v, float) and (np.isnan(v) and np.isnan(g) or
                                                               abs(g - v) <= 1e-9 * abs(v)))
                    assert ok, f"{name}: {case} lesion {b['ref_id']} {k}: GPU {g} != CPU {v}"

        gpu_rows(case, lambda name, conv=conv, lkw=lkw: (lambda: ss.lesionwise(
            lpd, lrd, (0.8, 0.8, 2.5), convention=conv, device=name, **lkw)), nbytes, check)
        if not args.no_cpu:
            med, best = timeit(lambda conv=conv, lkw=lkw: ss.lesionwise(lpred, lref, (0.8, 0.8, 2.5),
                                                                         convention=conv, **lkw),
                               lambda: None, args.cpu_repeat)
            add(case, "segscore-cpu", med * 1e3, best * 1e3, nbytes, f"{_threads()} threads")
    del lpd, lrd

    # ---- calibration and CRPS ---------------------------------------------------------------
    cal_shape = (128, 128, 128) if q else (512, 512, 512)
    mc_shape = (64, 64, 64) if q else (256, 256, 256)
    n_gauss, n_ens, m_ens = (1 << 20, 1 << 14, 50) if q else (1 << 24, 1 << 20, 50)
    if args.emulate:
        cal_shape, mc_shape, n_gauss, n_ens = (24, 24, 24), (16, 16, 16), 4096, 512
    rng = np.random.default_rng(6)
    t = (rng.random(cal_shape) < 0.15).astype(np.uint8)
    p = np.where(t == 1, rng.uniform(0.55, 1.0, cal_shape), rng.uniform(0.0, 0.1, cal_shape)).astype(np.float32)
    mt = rng.integers(0, 4, mc_shape).astype(np.uint8)
    mp = rng.dirichlet(np.ones(4) * 0.3, mc_shape).astype(np.float16)
    mp = np.ascontiguousarray(np.moveaxis(mp, -1, 0))
    for case, probs, target, kw in (
        (f"ece_binary_{cal_shape[0]}^3_f32", p, t, {}),
        (f"ece_top4_{mc_shape[0]}^3_f16", mp, mt, {}),
        # exact=True: the device pass (monai's float32 reference arithmetic is a host replay)
        (f"ece_classwise4_{mc_shape[0]}^3_f16", mp, mt, {"convention": "monai", "exact": True}),
    ):
        print(f"\n{case}: ss.ece{kw or ''}")
        nbytes = probs.nbytes + target.nbytes  # one read of probabilities and labels
        dp_, dt_ = gpu.up(probs), gpu.up(target)
        want = ss.ece(probs, target, **kw)

        def check(name, got, want=want, case=case):
            assert got == want or abs(got - want) <= 1e-12 * abs(want), f"{name}: {case}: GPU {got} != CPU {want}"

        gpu_rows(case, lambda name, dp_=dp_, dt_=dt_, kw=kw: (lambda: ss.ece(dp_, dt_, device=name, **kw)), nbytes,
                 check)
        if torch is not None and case.startswith("ece_binary"):
            from torchmetrics.functional.classification import binary_calibration_error

            tp_, tt_ = torch.from_numpy(probs).cuda(), torch.from_numpy(target).cuda()
            med, best = timeit(lambda: binary_calibration_error(tp_.ravel(), tt_.ravel(), n_bins=15),
                               torch.cuda.synchronize, args.repeat)
            add(case, "torchmetrics-cuda", med * 1e3, best * 1e3, nbytes, "binary_calibration_error")
            del tp_, tt_
        if not args.no_cpu:
            med, best = timeit(lambda probs=probs, target=target, kw=kw: ss.ece(probs, target, **kw), lambda: None,
                               args.cpu_repeat)
            add(case, "segscore-cpu", med * 1e3, best * 1e3, nbytes, f"{_threads()} threads")
        del dp_, dt_

    obs, mu, sig = (rng.normal(size=n_gauss) for _ in range(3))
    sig = np.abs(sig)
    case = f"crps_gaussian_{n_gauss}"
    print(f"\n{case}")
    do_, dm_, ds_ = gpu.up(obs), gpu.up(mu), gpu.up(sig)
    want = ss.crps_gaussian(obs, mu, sig)
    gpu_rows(case, lambda name: (lambda: ss.crps_gaussian(do_, dm_, ds_, device=name)), 32 * n_gauss,
             lambda name, out: np.testing.assert_allclose(gpu.host(out), want, rtol=1e-12))
    if not args.no_cpu:
        med, best = timeit(lambda: ss.crps_gaussian(obs, mu, sig), lambda: None, args.cpu_repeat)
        add(case, "segscore-cpu", med * 1e3, best * 1e3, 32 * n_gauss, f"{_threads()} threads")
    del do_, dm_, ds_
    eo, ex = rng.normal(size=n_ens), rng.normal(size=(n_ens, m_ens))
    case = f"crps_ensemble_{n_ens}x{m_ens}"
    print(f"\n{case}")
    do_, dx_ = gpu.up(eo), gpu.up(ex)
    want = ss.crps_ensemble(eo, ex)
    nb = 8 * n_ens * (m_ens + 2)
    gpu_rows(case, lambda name: (lambda: ss.crps_ensemble(do_, dx_, device=name)), nb,
             lambda name, out: np.testing.assert_allclose(gpu.host(out), want, rtol=1e-12))
    if not args.no_cpu:
        med, best = timeit(lambda: ss.crps_ensemble(eo, ex), lambda: None, args.cpu_repeat)
        add(case, "segscore-cpu", med * 1e3, best * 1e3, nb, f"{_threads()} threads")
    del do_, dx_

    # ---- cold NVRTC compile ---------------------------------------------------------------------
    cold = None
    if not args.no_cold and backends["cupy"] is None:
        print("\ncold NVRTC compile (fresh process, empty CuPy kernel cache):")
        cold = cold_compile(args.device)
        print("  " + json.dumps(cold))

    # ---- summary ------------------------------------------------------------------------------------
    def med(case, impl):
        for r_ in rows:
            if r_["case"] == case and r_["impl"] == impl:
                return r_["median_ms"]
        return None

    print("\ntargets (H100):")
    checks = {}
    for case in sorted({r_["case"] for r_ in rows}):
        key = case if case in TARGETS_MS else None
        comp, cpy, mon, cpu = (med(case, i) for i in ("segscore-cuda", "segscore-cupy", "monai-cucim",
                                                       "segscore-cpu"))
        best = comp if comp is not None else cpy
        line = {"case": case}
        if case.startswith("ece_binary") and best is not None and not q:
            fl = next(r_["x_floor"] for r_ in rows if r_["case"] == case and r_["median_ms"] == best)
            line["bandwidth_fraction"] = 1 / fl if fl else None
            line["meets_60pct_bandwidth"] = bool(fl and 1 / fl >= 0.6)
        if key and best is not None and not q:
            line["target_ms"] = TARGETS_MS[key]
            line["meets_time"] = best <= TARGETS_MS[key]
        if best is not None and mon is not None:
            line["x_vs_monai"] = mon / best
            line["meets_10x_monai"] = mon / best >= 10
        if best is not None and cpu is not None:
            line["x_vs_cpu"] = cpu / best
        if comp is not None and cpy is not None:
            line["cupy_over_compiled"] = cpy / comp
            line["meets_cupy_1p5"] = cpy / comp <= 1.5
        checks[case] = line
        print("  " + ", ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in line.items()))

    out = {
        "date": _dt.datetime.now().isoformat(timespec="seconds"),
        "device": gpu.name, "bandwidth_gbps": bw, "bandwidth_source": bw_src, "copy_gbps": copy_bw,
        "backends": backends, "monai": monai_why or "ok", "quick": q, "repeat": args.repeat,
        "python": platform.python_version(), "segscore": ss.__version__,
        "rows": rows, "checks": checks, "cold_compile": cold,
    }
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1))
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

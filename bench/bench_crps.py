"""CRPS speed against properscoring 0.1, same run, same machine.

    python bench/bench_crps.py [--quick] [--threads N]

* crps_gaussian on 16 M float64 values (obs, mu, sigma arrays) vs properscoring.crps_gaussian
  (target >= 3x);
* crps_ensemble, 1 M observations x 50 members (float64, unsorted) vs
  properscoring.crps_ensemble with numba (target >= 2x), unweighted and weighted.

Each timing is the best of several runs after a warm-up (numba compiles on the first call).
Prints a table with the ratios and writes JSON to bench/results/crps.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np


def best_of(fn, repeat):
    fn()  # warm-up (numba JIT, page faults)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1/16 of the sizes (smoke run)")
    ap.add_argument("--threads", type=int, default=None, help="segscore threads (default: all usable cores)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "crps.json"))
    args = ap.parse_args(argv)

    import properscoring as ps
    import properscoring._crps as psc

    import segscore as ss
    from segscore._core.backends import resolve_threads

    has_numba = psc._crps_ensemble_core is not psc._crps_ensemble_vectorized
    if not has_numba:
        print("warning: numba is not installed; properscoring's ensemble CRPS uses its O(m^2) fallback",
              file=sys.stderr)
    threads = resolve_threads(args.threads)
    div = 16 if args.quick else 1
    rng = np.random.default_rng(0)

    rows = []

    n = 16_000_000 // div
    x, mu = rng.normal(size=n), rng.normal(size=n)
    sig = rng.uniform(0.1, 2.0, size=n)
    np.testing.assert_allclose(ss.crps_gaussian(x[:1000], mu[:1000], sig[:1000]),
                               ps.crps_gaussian(x[:1000], mu[:1000], sig[:1000]), rtol=1e-9)
    t_ss = best_of(lambda: ss.crps_gaussian(x, mu, sig, threads=threads), args.repeat)
    t_ps = best_of(lambda: ps.crps_gaussian(x, mu, sig), args.repeat)
    rows.append({"case": f"crps_gaussian {n:,} values", "segscore_s": t_ss, "peer_s": t_ps, "target": 3.0})
    x = mu = sig = None  # free 384 MB before the ensemble case

    n, m = 1_000_000 // div, 50
    obs = rng.normal(size=n)
    fc = rng.normal(size=(n, m))
    w = rng.uniform(0.1, 1.0, size=(n, m))
    np.testing.assert_allclose(ss.crps_ensemble(obs[:1000], fc[:1000]), ps.crps_ensemble(obs[:1000], fc[:1000]),
                               rtol=1e-9)
    t_ss = best_of(lambda: ss.crps_ensemble(obs, fc, threads=threads), args.repeat)
    t_ps = best_of(lambda: ps.crps_ensemble(obs, fc), args.repeat)
    rows.append({"case": f"crps_ensemble {n:,} obs x {m} members", "segscore_s": t_ss, "peer_s": t_ps,
                 "target": 2.0})
    t_ss = best_of(lambda: ss.crps_ensemble(obs, fc, weights=w, threads=threads), args.repeat)
    t_ps = best_of(lambda: ps.crps_ensemble(obs, fc, weights=w), args.repeat)
    rows.append({"case": f"crps_ensemble weighted {n:,} x {m}", "segscore_s": t_ss, "peer_s": t_ps,
                 "target": 2.0})
    t_ss1 = best_of(lambda: ss.crps_ensemble(obs, fc, threads=1), args.repeat)
    rows.append({"case": f"crps_ensemble {n:,} x {m}, 1 thread", "segscore_s": t_ss1, "peer_s": rows[1]["peer_s"],
                 "target": None})

    for r in rows:
        r["ratio"] = r["peer_s"] / r["segscore_s"]
    print(f"load average (1, 5, 15 min): {os.getloadavg()}")
    print(f"\nCRPS vs properscoring {ps.__version__ if hasattr(ps, '__version__') else '0.1'} "
          f"(numba: {has_numba}); segscore threads={threads}, cores usable={len(os.sched_getaffinity(0))}")
    print(f"{'case':45s} {'segscore s':>11s} {'properscoring s':>16s} {'ratio':>7s} {'target':>7s}")
    for r in rows:
        tgt = f">={r['target']:g}x" if r["target"] else ""
        print(f"{r['case']:45s} {r['segscore_s']:11.4f} {r['peer_s']:16.4f} {r['ratio']:6.1f}x {tgt:>7s}")
    meta = {"machine": platform.machine(), "processor": platform.processor(), "python": platform.python_version(),
            "numpy": np.__version__, "segscore": ss.__version__, "threads": threads, "numba": has_numba,
            "quick": args.quick, "cores": len(os.sched_getaffinity(0)), "loadavg_after": os.getloadavg()}
    if has_numba:
        import numba

        meta["numba_version"] = numba.__version__
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"\nwritten {out}")


if __name__ == "__main__":
    main()

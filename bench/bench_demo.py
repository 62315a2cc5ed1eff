"""`segscore demo`'s scoring: per-case compute of the three demo cases, the first included.

The demo data set (segscore.app.demo.generate: 256 x 256 x 96, 5 labels, 3 raters, a
(x, y, z, 6) probability map stored as uint8 with a 1/255 slope) is generated once into
--data and scored two ways, each repeated --repeats times:

* demo: `score_dataset` exactly as `segscore demo` calls it (loader threads reading ahead
  while a case is scored), each repeat in a fresh process so that the first case pays
  whatever a first case pays (imports, thread pool start).  Per case: the compute seconds
  the run records in its journal (meta.compute_s) and their split by scorer (meta.stage_s:
  metrics = ss.evaluate against the reference and each rater, raters = the one multi-rater
  pass and the columns read off it, probabilities = calibration read off the same pass);
* isolated: the cases loaded first, then `score_case` on each with no loader running; per
  case wall and CPU seconds (process CPU time: the compute threads together), and the CPU
  split into the one pass (`case_pass`), `evaluate` against the reference and each rater,
  and the rest.

Min and median over the repeats per case position are printed and written to --json.  On a
shared machine wall times vary with the load; CPU seconds vary much less.

Run:  python bench/bench_demo.py [--repeats 5] [--data DIR] [--json OUT] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def ensure_data(root):
    from segscore.app.demo import generate

    if not os.path.exists(os.path.join(root, "dataset.json")):
        t0 = time.perf_counter()
        generate(root, cases=3, seed=0)
        print(f"generated the demo data set in {time.perf_counter() - t0:.1f} s under {root}", file=sys.stderr)
    return {"pred": os.path.join(root, "pred"), "ref": os.path.join(root, "ref"),
            "raters": [os.path.join(root, f"rater{i}") for i in (1, 2, 3)], "probs": os.path.join(root, "probs"),
            "labels": os.path.join(root, "dataset.json")}


def demo_once(root, threads):
    """One `segscore demo`-style scoring in this process: [{case, compute_s, stage_s, load_s}]."""
    from segscore.app.dataset import score_dataset
    from segscore.app.journal import read_journal

    paths = ensure_data(root)
    out = os.path.join(root, "bench_out", "results.csv")
    shutil.rmtree(os.path.dirname(out), ignore_errors=True)
    t0 = time.perf_counter()
    c0 = time.process_time()
    res = score_dataset(paths["pred"], paths["ref"], raters=paths["raters"], probs=paths["probs"],
                        labels=paths["labels"], output=out, quiet=True, plots=False, report=False, threads=threads)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    _, recs, _ = read_journal(res.paths["journal"])
    cases = [{"case": c, "compute_s": recs[c]["meta"]["compute_s"], "stage_s": recs[c]["meta"].get("stage_s", {}),
              "load_s": recs[c]["meta"].get("load_s")} for c in sorted(recs)]
    shutil.rmtree(os.path.dirname(out), ignore_errors=True)
    return {"cases": cases, "wall_s": wall, "cpu_s": cpu}


def isolated(root, threads, repeats):
    """Cases loaded first, then scored with no loader running: per case wall, CPU and the CPU split."""
    import segscore._cpu as C
    from segscore.app import pairing, scorers as S
    from segscore.app.summary import load_labels

    paths = ensure_data(root)
    labels, ignore = load_labels(paths["labels"])
    cfg = S.Config(labels=labels, ignore_label=ignore, has_raters=True, has_probs=True, threads=threads)
    specs = pairing.pair_cases(paths["pred"], paths["ref"], paths["raters"], paths["probs"], None)
    loaded = [pairing.load_case(s, cfg) for s in specs]
    spent = {}

    def timed(name, fn):
        def w(*a, **k):
            c0 = time.process_time()
            try:
                return fn(*a, **k)
            finally:
                spent[name] = spent.get(name, 0.0) + time.process_time() - c0
        return w

    orig = {n: getattr(C, n) for n in ("multirater_stats", "surface_distances", "overlap_stats")}
    evaluate_orig = S.MetricsScorer.__call__
    case_pass_orig = S.case_pass
    S.MetricsScorer.__call__ = timed("evaluate (ref + raters)", evaluate_orig)
    S.case_pass = timed("one pass", case_pass_orig)
    for n, f in orig.items():
        setattr(C, n, timed(f"  _cpu.{n}", f))
    runs = []
    try:
        for _ in range(repeats):
            rows = []
            for case in loaded:
                case.cache.clear()
                spent.clear()
                t0 = time.perf_counter()
                c0 = time.process_time()
                S.score_case(case, cfg)
                wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                split = dict(spent)
                split["rest"] = cpu - split.get("evaluate (ref + raters)", 0.0) - split.get("one pass", 0.0)
                rows.append({"case": case.case, "wall_s": wall, "cpu_s": cpu, "cpu_split_s": split})
            runs.append(rows)
    finally:
        S.MetricsScorer.__call__ = evaluate_orig
        S.case_pass = case_pass_orig
        for n, f in orig.items():
            setattr(C, n, f)
    return runs


def _mm(xs):
    return f"{min(xs):.3f}/{statistics.median(xs):.3f}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--data", default=os.path.join(HERE, "results", "demo"))
    ap.add_argument("--json", default=os.path.join(HERE, "results", "bench_demo.json"))
    ap.add_argument("--threads", type=int, default=None, help="compute threads (default: segscore's default)")
    ap.add_argument("--once", action="store_true", help=argparse.SUPPRESS)  # one demo run, JSON on stdout
    a = ap.parse_args(argv)
    if a.once:
        print(json.dumps(demo_once(a.data, a.threads)))
        return
    ensure_data(a.data)
    demo = []
    for _ in range(a.repeats):
        cmd = [sys.executable, os.path.abspath(__file__), "--once", "--data", a.data]
        if a.threads:
            cmd += ["--threads", str(a.threads)]
        r = subprocess.run(cmd, capture_output=True, text=True, check=True)
        demo.append(json.loads(r.stdout.strip().splitlines()[-1]))
    ncase = len(demo[0]["cases"])
    print(f"demo scoring ({a.repeats} fresh processes, loaders reading ahead), per case min/median s; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}:", file=sys.stderr)
    summary = {"demo": [], "isolated": []}
    for i in range(ncase):
        comp = [d["cases"][i]["compute_s"] for d in demo]
        stages = sorted({k for d in demo for k in d["cases"][i]["stage_s"]})
        st = {k: [d["cases"][i]["stage_s"].get(k, 0.0) for d in demo] for k in stages}
        print(f"  {demo[0]['cases'][i]['case']}: compute {_mm(comp)}  (" +
              ", ".join(f"{k} {_mm(v)}" for k, v in st.items()) + ")", file=sys.stderr)
        summary["demo"].append({"case": demo[0]["cases"][i]["case"], "compute_min_s": min(comp),
                                "compute_median_s": statistics.median(comp),
                                "stage_median_s": {k: statistics.median(v) for k, v in st.items()}})
    print(f"  run wall {_mm([d['wall_s'] for d in demo])}, process CPU {_mm([d['cpu_s'] for d in demo])} "
          "(loading, scoring, outputs)", file=sys.stderr)
    iso = isolated(a.data, a.threads, a.repeats)
    print("isolated scoring (cases loaded first), per case min/median s:", file=sys.stderr)
    for i in range(len(iso[0])):
        w = [r[i]["wall_s"] for r in iso]
        c = [r[i]["cpu_s"] for r in iso]
        keys = list(iso[0][i]["cpu_split_s"])
        split = {k: statistics.median(r[i]["cpu_split_s"].get(k, 0.0) for r in iso) for k in keys}
        print(f"  {iso[0][i]['case']}: wall {_mm(w)}, CPU {_mm(c)}; CPU median: " +
              ", ".join(f"{k.strip()} {v:.3f}" for k, v in split.items()), file=sys.stderr)
        summary["isolated"].append({"case": iso[0][i]["case"], "wall_min_s": min(w), "wall_median_s": statistics.median(w),
                                    "cpu_min_s": min(c), "cpu_median_s": statistics.median(c),
                                    "cpu_split_median_s": split})
    summary.update(repeats=a.repeats, threads=a.threads, cpus=os.cpu_count(), runs=demo)
    os.makedirs(os.path.dirname(a.json), exist_ok=True)
    with open(a.json, "w") as f:
        json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()

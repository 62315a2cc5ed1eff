"""ss.lesionwise against the peers, same run, same inputs.

    python bench/bench_lesionwise.py [--repeat 3] [--brats-script PATH/metrics.py]

The volume of bench_components.py: 256 x 256 x 96, ~30 ellipsoidal lesions (28 after
overlaps), spacing 0.75 x 0.75 x 2 mm; the prediction is the reference with each lesion
shifted and rescaled, some missed, a few false positives.  Timed (best of --repeat, s):

* cc3d 26 on both masks (the floor of any lesion-wise tool);
* segscore default (CC + overlap table + Dice / IoU), and with per-lesion HD95 + ASSD;
* convention "panoptica" with DSC, IoU, ASSD, RVD against panoptica 2.1.7 (naive IoU >= 0.5,
  the same metrics); their summaries are checked equal first;
* convention "brats2023" for a whole case (WT / TC / ET of a label map made from the masks)
  against the BraTS 2023 script's get_LesionWiseResults -- only with --brats-script (the
  script cannot ship here; it needs pandas < 2 or the shims of tests/support/lesion_peers);
  without it the row says "not run".

Ratios are peer time / segscore time (> 1: segscore faster).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from bench_components import lesion_volume  # noqa: E402

SP = (0.75, 0.75, 2.0)


def best(fn, repeat):
    t = []
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        t.append(time.perf_counter() - t0)
    return min(t), out


def semantic(mask, seed):
    """A BraTS-like label map: oedema 2, core 1 and enhancing 3 inside each component."""
    import segscore as ss

    rng = np.random.default_rng(seed)
    lab = np.where(mask, 2, 0).astype(np.uint8)
    cc, n = ss.connected_components(mask)
    st = ss.component_stats(cc)
    for i in range(n):
        c = np.round(st.centroid[i]).astype(int)
        lo = np.maximum(c - 2, 0)
        sl = tuple(slice(a, b) for a, b in zip(lo, c + 3))
        sub = lab[sl]
        sub[(sub > 0) & (rng.random(sub.shape) < 0.7)] = 3
        sub[(sub == 3) & (rng.random(sub.shape) < 0.3)] = 1
    return lab


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--brats-script", default=None, help="path of the BraTS 2023 metrics.py (not shipped)")
    a = ap.parse_args()
    import segscore as ss

    ref, pred, _ = lesion_volume(seed=a.seed)
    n_ref = ss.connected_components(ref)[1]
    print(f"volume {ref.shape}, {n_ref} reference lesions, spacing {SP}")
    rows = []
    try:
        import cc3d

        t_cc3d, _ = best(lambda: (cc3d.connected_components(ref, connectivity=26),
                                  cc3d.connected_components(pred, connectivity=26)), a.repeat)
        rows.append(("cc3d 26 on both masks", None, t_cc3d))
    except ImportError:
        t_cc3d = None
    t, _ = best(lambda: ss.lesionwise(pred, ref, SP, metrics=("dice", "iou")), a.repeat)
    rows.append(("segscore: CC + table + Dice/IoU", t, t_cc3d))
    t, _ = best(lambda: ss.lesionwise(pred, ref, SP, metrics=("dice", "iou", "hd95", "assd")), a.repeat)
    rows.append(("segscore: + per-lesion HD95, ASSD", t, t_cc3d))
    # panoptica
    t_seg, res = best(lambda: ss.lesionwise(pred, ref, SP, convention="panoptica"), a.repeat)
    try:
        os.environ["PANOPTICA_CITATION_REMINDER"] = "False"
        from panoptica import (ConnectedComponentsInstanceApproximator, InputType, Metric, NaiveThresholdMatching,
                               Panoptica_Evaluator)

        ev = Panoptica_Evaluator(expected_input=InputType.SEMANTIC,
                                 instance_approximator=ConnectedComponentsInstanceApproximator(),
                                 instance_matcher=NaiveThresholdMatching(),
                                 instance_metrics=[Metric.DSC, Metric.IOU, Metric.ASSD, Metric.RVD],
                                 global_metrics=[Metric.DSC], verbose=False, log_times=False)
        p8, r8 = pred.astype(np.uint8), ref.astype(np.uint8)
        t_pan, out = best(lambda: ev.evaluate(p8, r8, voxelspacing=SP, verbose=False)["ungrouped"], a.repeat)
        d = out.to_dict()
        assert abs(d["sq_assd"] - res.summary["sq_assd"]) <= 1e-9 * abs(d["sq_assd"]), "panoptica disagrees"
        rows.append(("convention panoptica (DSC, IoU, ASSD, RVD)", t_seg, t_pan))
    except ImportError:
        rows.append(("convention panoptica (DSC, IoU, ASSD, RVD)", t_seg, "not run (no panoptica)"))
    # brats2023, a whole case
    lab_r, lab_p = semantic(ref, 1), semantic(pred, 2)
    t_b, _ = best(lambda: ss.lesionwise(lab_p, lab_r, SP, convention="brats2023"), a.repeat)
    if a.brats_script:
        import importlib.util

        import nibabel as nib

        spec = importlib.util.spec_from_file_location("brats_metrics", a.brats_script)
        mod = importlib.util.module_from_spec(spec)
        sys.path.insert(0, os.path.dirname(os.path.abspath(a.brats_script)))
        spec.loader.exec_module(mod)
        with tempfile.TemporaryDirectory() as tmp:
            aff = np.diag([*SP, 1.0])
            pf, gf = os.path.join(tmp, "p.nii.gz"), os.path.join(tmp, "g.nii.gz")
            nib.save(nib.Nifti1Image(lab_p, aff), pf)
            nib.save(nib.Nifti1Image(lab_r, aff), gf)
            t_script, _ = best(lambda: mod.get_LesionWiseResults(pf, gf, "BraTS-GLI"), 1)
        rows.append(("convention brats2023, whole case (WT/TC/ET)", t_b, t_script))
    else:
        rows.append(("convention brats2023, whole case (WT/TC/ET)", t_b, "not run (pass --brats-script)"))
    print(f"{'operation':48s} {'segscore s':>11s} {'peer s':>10s} {'ratio':>8s}")
    for name, mine, peer in rows:
        m = f"{mine:11.4f}" if mine is not None else f"{'':11s}"
        if isinstance(peer, str):
            print(f"{name:48s} {m} {peer}")
        elif mine is None:
            print(f"{name:48s} {m} {peer:10.4f}")
        else:
            print(f"{name:48s} {m} {peer:10.4f} {peer / mine:8.1f}x")


if __name__ == "__main__":
    main()

import json, sys, io, contextlib, math, traceback
import numpy as np
sys.path.insert(0, "/work/scratch/froc/mr")
from MetricsReloaded.processes.mixed_measures_processes import MultiLabelLocSegPairwiseMeasure as MLIS
from MetricsReloaded.processes import mixed_measures_processes as MMP

# Recording wrapper (no arithmetic): when a case's detection results are gathered, also keep
# MetricsReloaded's own segmentation_quality() (SQ before its NaN rule) and detection_quality() (DQ).
quality = []
_orig_to_dict_det = MMP.MixedLocSegPairwiseMeasure.to_dict_det
def _recording_to_dict_det(self):
    quality.append((float(self.segmentation_quality()), float(self.detection_quality())))
    return _orig_to_dict_det(self)
MMP.MixedLocSegPairwiseMeasure.to_dict_det = _recording_to_dict_det
CASES, OUT = sys.argv[1], sys.argv[2]
data = np.load(CASES)
names = sorted({k.split("/")[1] for k in data.files if k.startswith("inst/")})
def masks(m): return [(m == i).astype(float) for i in range(1, int(m.max()) + 1)]
def num(x):
    x = float(x)
    return "nan" if math.isnan(x) else ("inf" if math.isinf(x) else x)
PCC = ["fbeta", "numb_ref", "numb_pred", "numb_tp", "numb_fp", "numb_fn"]
def run(cases, localization, thresh, assignment, flag_fp_in, per_case):
    preds = [masks(data[f"inst/{c}/pred"]) for c in cases]
    refs = [masks(data[f"inst/{c}/ref"]) for c in cases]
    probs = [np.stack([1 - data[f"inst/{c}/prob"], data[f"inst/{c}/prob"]], 1) if len(p) else np.zeros((0, 2))
             for c, p in zip(cases, preds)]
    quality.clear()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            m = MLIS([[1] * len(p) for p in preds], ref_class=[[1] * len(r) for r in refs], pred_loc=preds, ref_loc=refs,
                     pred_prob=probs, list_values=[1], localization=localization, thresh=thresh, assignment=assignment,
                     flag_fp_in=flag_fp_in, per_case=per_case, measures_detseg=["PQ"], measures_pcc=PCC,
                     measures_overlap=["iou"], flag_map=False)
            seg, det, mt = m.per_label_dict()
    except Exception as e:
        return {"raises": f"{type(e).__name__}: {e}", "where": traceback.extract_tb(e.__traceback__)[-1].name}
    res = {}
    det_rows = det.to_dict("records")
    for i, row in enumerate(det_rows):
        key = cases[int(row["case"])] if per_case else "pooled"
        d = {"PQ": num(row["PQ"]), "SQ": num(quality[i][0]), "DQ": num(quality[i][1])}
        for k, v in row.items():
            if k not in ("PQ", "label", "case"):
                d[k] = num(v)
        res[key] = d
    if seg is not None and len(seg):
        for key in res:
            rows = seg if not per_case else seg[seg["case"] == cases.index(key)]
            res[key]["tp_pair_iou"] = [num(v) for v in rows["iou"]] if "iou" in rows.columns else []
    mt_df = m.matching
    if hasattr(mt_df, "to_dict"):
        for r in mt_df.to_dict("records"):
            key = cases[int(r["case"])] if per_case else "pooled"
            row = {"pred": int(r["pred"]), "ref": int(r["ref"]), "performance": num(r["performance"]),
                   "pred_prob": num(r["pred_prob"])}
            if not per_case:
                row["case"] = cases[int(r["case"])]
            res.setdefault(key, {}).setdefault("matching", []).append(row)
    return res
configs = [("mask_iou", 0.5), ("mask_iou", 0.3), ("mask_iou", 0.2), ("mask_ior", 0.5), ("mask_com", 3.0)]
assignments = ["greedy_matching", "hungarian", "Greedy_IoU"]
out = {"per_case": {}, "pooled": {}}
for name in names:
    for loc, th in configs:
        for asg in assignments:
            for fp_in in (True, False):
                key = f"{loc}|{th}|{asg}|flag_fp_in={fp_in}"
                r = run([name], loc, th, asg, fp_in, True)
                out["per_case"].setdefault(name, {})[key] = r.get(name, r) if "raises" not in r else r
pool = ["mr_pq_fixture", "one_pred_two_refs", "two_preds_one_ref"]
for loc, th in [("mask_iou", 0.5), ("mask_iou", 0.3)]:
    for asg in assignments:
        key = f"{loc}|{th}|{asg}|flag_fp_in=True"
        out["pooled"][key] = run(pool, loc, th, asg, True, False)
json.dump(out, open(OUT, "w"), indent=1)
for n, v in out["per_case"].items():
    for k, r in v.items():
        print(n, k, r.get("raises") or (r.get("PQ"), r.get("fbeta"), r.get("numb_tp"), r.get("tp_pair_iou")))
for k, r in out["pooled"].items(): print("POOLED", k, r.get("raises") or {kk: (vv.get("PQ"), vv.get("fbeta")) for kk, vv in r.items() if isinstance(vv, dict)})

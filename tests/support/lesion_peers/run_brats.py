"""Run the BraTS 2023 script (unmodified, commit 43c9052) on tests/data/lesion/cases.npz.
Environment: numpy 1.26.4, pandas 1.5.3, scipy 1.11.4, nibabel 5.4.2, cc3d 4.1.1.
The only wrapper: pandas.DataFrame.append is wrapped to *record* the per-lesion frame the script
appends (it then calls the original append unchanged)."""
import json, os, sys, tempfile, math, subprocess
import numpy as np, nibabel as nib, pandas as pd, cc3d, scipy
sys.path.insert(0, "/work/scratch/froc/brats23")
import metrics as M   # the script, unmodified

CASES = sys.argv[1]; OUT = sys.argv[2]
captured = []
_orig_append = pd.DataFrame.append
def _recording_append(self, other, *a, **k):
    captured.append(other.copy())
    return _orig_append(self, other, *a, **k)
pd.DataFrame.append = _recording_append

# Shim (no arithmetic): the script calls metric_df.replace(np.inf, 374) on a frame whose
# 'predicted_lesion_numbers' column holds numpy arrays. pandas 1.3.4 + numpy 1.24 (its pins)
# left that column alone (the element comparison failed silently); pandas 1.5.3 raises. The
# shim applies the original replace to the other columns only (integer id arrays hold no inf).
_orig_replace = pd.DataFrame.replace
def _replace_skipping_array_cells(self, to_replace=None, value=None, *a, **k):
    arr_cols = [c for c in self.columns if self[c].dtype == object
                and any(isinstance(v, np.ndarray) for v in self[c])]
    if not arr_cols:
        return _orig_replace(self, to_replace, value, *a, **k)
    inplace = k.pop("inplace", False)
    rest = [c for c in self.columns if c not in arr_cols]
    target = self if inplace else self.copy()
    target[rest] = _orig_replace(self[rest], to_replace, value, *a, **k)
    return None if inplace else target
pd.DataFrame.replace = _replace_skipping_array_cells

# Recording wrappers (no arithmetic): keep the script's own component maps so that each lesion
# and prediction component can be identified by position (first voxel in C raster order).
maps = {}
_cur = {}
_orig_cc = cc3d.connected_components
def _recording_cc(*a, **k):
    out = _orig_cc(*a, **k)
    _cur.setdefault("cc", []).append(np.array(out))
    return out
M.cc3d.connected_components = _recording_cc
_orig_merge = M.get_GTseg_combinedByDilation
def _recording_merge(*a, **k):
    out = _orig_merge(*a, **k)
    _cur["gt_merged"] = np.array(out)
    return out
M.get_GTseg_combinedByDilation = _recording_merge
_orig_scores = M.get_LesionWiseScores
def _recording_scores(*a, **k):
    _cur.clear()
    out = _orig_scores(*a, **k)
    maps[k["label_value"]] = {"gt_merged": _cur["gt_merged"], "pred_cc": _cur["cc"][1]}
    return out
M.get_LesionWiseScores = _recording_scores

def components(lab):
    """id -> (voxel count, first voxel in C raster order) of an id map."""
    flat = lab.reshape(-1)   # C order view of the values
    out = {}
    ids, first, counts = np.unique(flat, return_index=True, return_counts=True)
    for i, f, c in zip(ids, first, counts):
        if i != 0:
            out[int(i)] = {"voxels": int(c), "first_voxel_c_order": [int(x) for x in np.unravel_index(f, lab.shape)]}
    return out

def num(x):
    x = float(x)
    if math.isnan(x): return "nan"
    if math.isinf(x): return "inf" if x > 0 else "-inf"
    return x

data = np.load(CASES)
names = sorted({k.split("/")[1] for k in data.files if k.startswith("sem/")})
challenges = ["BraTS-GLI", "BraTS-MET", "BraTS-MEN"]
out = {}
tmp = tempfile.mkdtemp()
for name in names:
    pred = data[f"sem/{name}/pred"]; ref = data[f"sem/{name}/ref"]; sp = data[f"sem/{name}/spacing"]
    aff = np.diag([*sp, 1.0])
    pf = os.path.join(tmp, name + "_pred.nii.gz"); gf = os.path.join(tmp, name + "_gt.nii.gz")
    nib.save(nib.Nifti1Image(pred, aff), pf); nib.save(nib.Nifti1Image(ref, aff), gf)
    zooms = [float(z) for z in nib.load(pf).header.get_zooms()]
    out[name] = {"zooms_float32": zooms}
    for ch in challenges:
        captured.clear()
        maps.clear()
        df = M.get_LesionWiseResults(pf, gf, ch)
        regions = {}
        for _, row in df.iterrows():
            regions[row["Labels"]] = {c: num(row[c]) for c in df.columns if c != "Labels"}
        lesions = {}
        for frame in captured:
            for _, row in frame.iterrows():
                lesions.setdefault(row["Label"], []).append({
                    "gt_lesion_number": int(row["gt_lesion_numbers"]),
                    "predicted_lesion_numbers": [int(v) for v in row["predicted_lesion_numbers"]],
                    "gt_lesion_vol": num(row["gt_lesion_vol"]),
                    "dice_lesionwise": num(row["dice_lesionwise"]),
                    "hd95_lesionwise": num(row["hd95_lesionwise"]),
                })
        for reg, rows in lesions.items():
            gt_comp = components(maps[reg]["gt_merged"])
            for r in rows:
                r.update({"gt_" + k: v for k, v in gt_comp[r["gt_lesion_number"]].items()})
        pred_components = {reg: components(m["pred_cc"]) for reg, m in maps.items()}
        out[name][ch] = {"regions": regions, "lesions": lesions,
                         "pred_components": {reg: {str(k): v for k, v in pc.items()} for reg, pc in pred_components.items()}}
        print(name, ch, {r: (v["LesionWise_Score_Dice"], v["Num_TP"], v["Num_FP"], v["Num_FN"]) for r, v in regions.items()}, flush=True)
json.dump(out, open(OUT, "w"), indent=1)

import json, sys
raw = json.load(open("brats_raw.json"))
doc = {
 "peer": {"repo": "rachitsaluja/BraTS-2023-Metrics", "commit": "43c9052", "file": "metrics.py",
          "function": "get_LesionWiseResults(pred_file, gt_file, challenge_name)"},
 "environment": "CPython 3.11.7, numpy 1.26.4, pandas 1.5.3, scipy 1.11.4, nibabel 5.4.2, connected-components-3d 4.1.1 "
                "(the script pins numpy 1.24.3 / pandas 1.3.4 / cc3d 3.12.1, which have no CPython 3.11 wheels)",
 "command": "for each semantic case of cases.npz: write pred and ref as NIfTI (uint8, affine diag(spacing)), then "
            "get_LesionWiseResults(pred.nii.gz, gt.nii.gz, challenge) for challenge in BraTS-GLI, BraTS-MET, BraTS-MEN; "
            "the script itself unmodified, run from a scratch copy of the repository at that commit",
 "shims": [
   "pandas.DataFrame.append (removed in pandas 2) exists in pandas 1.5.3; it was wrapped only to record the per-lesion "
   "frame each region appends (the wrapper then calls the original append)",
   "pandas.DataFrame.replace: the script calls metric_df.replace(np.inf, 374) on a frame whose 'predicted_lesion_numbers' "
   "column holds numpy arrays; pandas 1.5.3 raises there (pandas 1.3.4 with numpy 1.24 skipped the column). The shim applies "
   "the original replace to the other columns only; integer id arrays hold no inf. No arithmetic is touched.",
   "np.Inf exists in numpy 1.26 (no shim needed)",
   "recording wrappers only (they return the original results unchanged): cc3d.connected_components and the script's "
   "get_GTseg_combinedByDilation / get_LesionWiseScores, to keep its component maps for the position keys below"],
 "inputs": "tests/data/lesion/cases.npz, keys sem/<case>/pred, sem/<case>/ref, sem/<case>/spacing (made by tests/support/lesion_cases.py)",
 "meaning": {
   "zooms_float32": "the prediction header's zooms as the script reads them (float32 values, printed as float64)",
   "regions": "per region WT/TC/ET: the row of the returned table. Num_TP = kept GT lesions (volume > threshold) with >= 1 "
              "prediction component touching the dilated lesion; Num_FN = kept lesions without; Num_FP = prediction components "
              "touching no dilated GT lesion (no size filter); Sensitivity, Specificity (voxel-wise, GaNDLF formula); Legacy_Dice "
              "(region Dice, 1 if both empty); Legacy_HD95 (DeepMind robust HD95 of the region, 0 if both empty, inf -> 374); "
              "GT_Complete_Volume (GT voxels x voxel volume, mm^3); LesionWise_Score_Dice = sum of kept lesions' Dice / (kept + FP), "
              "1 when 0/0; LesionWise_Score_HD95 = (sum of kept lesions' HD95 + 374 FP) / (kept + FP), 0 when 0/0",
   "lesions": "per region: one row per GT lesion (after merging GT components by dilation), all lesions including the ones "
              "dropped by the size filter: gt_lesion_number (id of the dilated GT component, cc3d 26 on the F-ordered nibabel "
              "array: ids are not portable), predicted_lesion_numbers (cc3d 26 ids of the prediction components touching the "
              "dilated lesion), gt_lesion_vol (mm^3, float32 zooms), dice_lesionwise (Dice of the lesion vs the union of those "
              "components; 0 if none), hd95_lesionwise (DeepMind robust HD95 between them, 374 if none)",
   "challenge parameters": {"BraTS-GLI": "dilation 3, lesion volume threshold 50 mm^3 (<=, dropped)",
                            "BraTS-MET": "dilation 1, threshold 2 mm^3", "BraTS-MEN": "dilation 1, threshold 50 mm^3"}},
 "cases": raw,
}
json.dump(doc, open(sys.argv[1], "w"), indent=1)

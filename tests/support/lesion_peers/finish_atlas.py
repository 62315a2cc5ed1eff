import json, sys
raw = json.load(open("atlas_raw.json"))
doc = {
 "peer": {"repo": "npnl/atlas2_grand_challenge", "file": "isles/scoring.py",
          "commits": {"1c46738": "2022-06-09 'Lesionwise metrics added' (the commit the research file read): "
                                 "compute_lesion_f1_score / compute_absolute_lesion_count_difference with cc3d connectivity 26",
                      "55b9524": "HEAD of the repository (2022-06-22 'removed cc3d requirement'): lesion_f1_score -> "
                                 "_lesion_f1_score with scipy.ndimage.label default structure (6-connectivity in 3-D), "
                                 "input with a leading channel axis"}},
 "environment": "CPython 3.11.7, numpy 2.4.6, scipy 1.17.1, scikit-learn 1.9.1, connected-components-3d 4.1.1",
 "command": "for each semantic case of cases.npz: ref = (sem/<case>/ref > 0), pred = (sem/<case>/pred > 0) as float64 0/1 "
            "arrays (what nibabel's get_fdata gives); call the functions named below from the file at each commit, loaded "
            "unmodified with importlib",
 "shims": ["none"],
 "inputs": "tests/data/lesion/cases.npz, keys sem/<case>/pred and sem/<case>/ref binarised (labels 1, 2, 3 -> 1); spacing unused",
 "meaning": {
   "1c46738.compute_lesion_f1_score": "cc3d 26 on both; TP = GT components with >= 1 voxel in pred & ref, FN = the other GT "
        "components, FP = prediction components with no GT voxel; F1 = TP / (TP + (FP + FN) / 2); 1.0 when TP + FP + FN = 0",
   "1c46738.compute_absolute_lesion_count_difference": "|#GT components - #pred components|, cc3d 26",
   "simple_lesion_count_difference": "|#pred components - #GT components| with scipy.ndimage.label default (6-connectivity); "
        "identical at both commits",
   "55b9524.lesion_f1_score": "same rule with scipy.ndimage.label 6-connectivity, input shape (1, X, Y, Z); overlap tested as "
        "max(lesion + prediction) > 1",
   "55b9524.lesion_f1_score_bool_input": "the same call with bool arrays: lesion + prediction is a logical or, so no GT lesion "
        "is ever a TP (F1 0 unless both are empty) - a property of that commit, recorded, not a convention to copy"},
 "cases": raw,
}
json.dump(doc, open(sys.argv[1], "w"), indent=1)

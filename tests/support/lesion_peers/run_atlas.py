import json, sys, importlib.util
import numpy as np
CASES, OUT = sys.argv[1], sys.argv[2]
def load(commit):
    spec = importlib.util.spec_from_file_location(f"scoring_{commit}", f"/work/scratch/froc/atlas_{commit}/isles/scoring.py")
    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); return m
old, head = load("1c46738"), load("55b9524")
data = np.load(CASES)
names = sorted({k.split("/")[1] for k in data.files if k.startswith("sem/")})
out = {}
for name in names:
    ref = (data[f"sem/{name}/ref"] > 0).astype(np.float64)    # whole tumour (labels 1, 2, 3), as nibabel get_fdata gives
    pred = (data[f"sem/{name}/pred"] > 0).astype(np.float64)
    r = {}
    r["1c46738"] = {
        "compute_lesion_f1_score": float(old.compute_lesion_f1_score(ref, pred)),
        "compute_absolute_lesion_count_difference": int(old.compute_absolute_lesion_count_difference(ref, pred)),
        "simple_lesion_count_difference": int(old.simple_lesion_count_difference(ref, pred)),
    }
    r["55b9524"] = {
        "lesion_f1_score": float(head.lesion_f1_score(ref[None].copy(), pred[None].copy())),
        "lesion_f1_score_bool_input": float(head.lesion_f1_score(ref[None].astype(bool), pred[None].astype(bool))),
        "simple_lesion_count_difference": int(head.simple_lesion_count_difference(ref, pred)),
    }
    out[name] = r
    print(name, r)
json.dump(out, open(OUT, "w"), indent=1)

import json, sys
raw = json.load(open("mr_raw.json"))
doc = {
 "peer": {"repo": "Project-MONAI/MetricsReloaded", "commit": "cb38dfc",
          "class": "MetricsReloaded.processes.mixed_measures_processes.MultiLabelLocSegPairwiseMeasure (per_label_dict)"},
 "environment": "CPython 3.11.7, numpy 2.4.6, pandas 3.1.1, scipy 1.17.1, scikit-learn 1.9.1; the package imported from a "
                "scratch copy of the repository at that commit (PYTHONPATH), not installed",
 "command": "for each instance case of cases.npz: pred_loc = [pred == i for i in 1..max] and ref_loc likewise (float masks), "
            "all of class 1; pred_prob = [[1 - p, p]] per prediction (p = inst/<case>/prob); "
            "MultiLabelLocSegPairwiseMeasure([[1]*n_pred], ref_class=[[1]*n_ref], pred_loc=[...], ref_loc=[...], pred_prob=[...], "
            "list_values=[1], localization=L, thresh=T, assignment=A, flag_fp_in=F, per_case=True, measures_detseg=['PQ'], "
            "measures_pcc=['fbeta','numb_ref','numb_pred','numb_tp','numb_fp','numb_fn'], measures_overlap=['iou'], "
            "flag_map=False).per_label_dict(); 'pooled' = the same with per_case=False over the cases "
            "mr_pq_fixture, one_pred_two_refs, two_preds_one_ref together",
 "shims": ["none (its prints were redirected away from stdout); one recording wrapper: MixedLocSegPairwiseMeasure.to_dict_det "
           "also stores that object's segmentation_quality() and detection_quality() before returning the original result"],
 "inputs": "tests/data/lesion/cases.npz, keys inst/<case>/pred, inst/<case>/ref (instance maps, 0 = background), "
           "inst/<case>/prob (confidence of prediction i+1 at index i)",
 "keys": "per_case[<case>]['<localization>|<thresh>|<assignment>|flag_fp_in=<bool>'] and pooled['<localization>|<thresh>|<assignment>|flag_fp_in=True']['pooled']",
 "meaning": {
   "PQ": "panoptic quality = DQ * SQ; SQ = mean IoU over the matched pairs; SQ NaN (no pair) -> 0 if DQ == 0 else 1",
   "SQ": "MetricsReloaded's segmentation_quality(): mean IoU over the matched pairs, NaN when there is none (PQ then uses "
        "0 if DQ == 0 else 1)",
   "DQ": "MetricsReloaded's detection_quality() (equal to fbeta)",
   "fbeta": "DQ: F1 (beta 1) of the matched/unmatched indicator vectors = 2 tp / (2 tp + fp + fn)",
   "numb_ref, numb_pred, numb_tp, numb_fp, numb_fn": "counts on those indicator vectors (ref = rows with a reference, "
        "pred = rows with a prediction, tp = both)",
   "tp_pair_iou": "IoU of each matched (pred, ref) pair, in the order of the matching table",
   "matching": "the final assignment table: pred and ref are 0-based indices into pred_loc / ref_loc (instance id - 1), "
        "-1 = unmatched; performance = the localization score of the pair (NaN for unmatched); pred_prob as given "
        "(0 for missed references). With flag_fp_in=False a prediction dropped while resolving an ambiguity is left out "
        "of the table (neither TP nor FP)",
   "raises": "the exception the call raised, and the innermost function. 'KeyError: seg' = assignment='hungarian' whenever "
        "an ambiguity has to be resolved (it indexes a column named 'seg' that the table does not have); "
        "\"AttributeError: 'list' object has no attribute 'shape'\" = no instance on either side",
   "localization": "mask_iou / mask_ior: pairs with score > thresh; mask_com: pairs with centre-of-mass distance < thresh "
        "(pixdim 1). assignment: 'greedy_matching' sorts the candidate pairs by performance ascending and keeps the first "
        "per pred then per ref (so the lowest IoU wins, the largest distance for mask_com); any other name ('Greedy_IoU', "
        "the class default) keeps the highest pred_prob"},
 "per_case": raw["per_case"],
 "pooled": raw["pooled"],
}
json.dump(doc, open(sys.argv[1], "w"), indent=1)

"""Matching reference lesions and prediction components from the sparse overlap table.

Every rule works on the table (pred id, ref id, shared voxels) and the voxels per id,
never on the volumes: scores, admissibility, the matchers, and the scores of merged
groups (a union of disjoint components adds their counts).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Table:
    """The candidate pairs of one region: arrays pred, ref, inter (sorted by (pred, ref)),
    and the voxels per id (index 0 unused)."""

    pred: np.ndarray
    ref: np.ndarray
    inter: np.ndarray
    pred_vox: np.ndarray
    ref_vox: np.ndarray

    @property
    def n_pred(self):
        return len(self.pred_vox) - 1

    @property
    def n_ref(self):
        return len(self.ref_vox) - 1

    def lookup(self) -> dict:
        return {(int(r), int(p)): int(c) for p, r, c in zip(self.pred, self.ref, self.inter)}


@dataclass
class Matching:
    """groups: ref id -> [pred ids] (in the order accepted); pairs: [(ref, pred, score)]."""

    groups: dict = field(default_factory=dict)
    pairs: list = field(default_factory=list)

    @property
    def used_preds(self) -> set:
        return {p for ps in self.groups.values() for p in ps}


def score(inter, rv, pv, match: str, float32: bool = False):
    """Pair score(s) from counts: IoU, Dice or the shared voxels."""
    inter = np.asarray(inter, np.float64)
    rv = np.asarray(rv, np.float64)
    pv = np.asarray(pv, np.float64)
    if match == "overlap":
        return inter
    if match == "dice":
        den = rv + pv
        if float32:
            return (np.float32(2) * inter.astype(np.float32) / den.astype(np.float32)).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            return 2.0 * inter / den
    den = rv + pv - inter
    if float32:  # torch: int / int -> float32 division
        return (inter.astype(np.float32) / den.astype(np.float32)).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return inter / den


def admissible(s, threshold: float, strict: bool, float32: bool = False):
    s = np.asarray(s)
    if float32:
        s32, t32 = s.astype(np.float32), np.float32(threshold)
        return s32 > t32 if strict else s32 >= t32
    return s > threshold if strict else s >= threshold


def _pair_scores(t: Table, match, float32):
    return score(t.inter, t.ref_vox[t.ref], t.pred_vox[t.pred], match, float32)


def match_all(t: Table, s, ok) -> Matching:
    m = Matching()
    for p, r, v, a in zip(t.pred, t.ref, s, ok):
        if a:
            m.groups.setdefault(int(r), []).append(int(p))
            m.pairs.append((int(r), int(p), float(v)))
    return m


def match_greedy(t: Table, s, ok, many: bool = False) -> Matching:
    """panoptica's NaiveThresholdMatching: pairs by score, best first (stable: ties keep
    (pred, ref) ascending order); a prediction is used once; a reference once unless
    `many`; accepted when admissible."""
    m = Matching()
    used_p, used_r = set(), set()
    for i in np.argsort(-np.asarray(s), kind="stable"):
        p, r = int(t.pred[i]), int(t.ref[i])
        if p in used_p or (r in used_r and not many):
            continue
        if ok[i]:
            m.groups.setdefault(r, []).append(p)
            m.pairs.append((r, p, float(s[i])))
            used_p.add(p)
            used_r.add(r)
    return m


def match_merge(t: Table, s, ok, match: str) -> Matching:
    """panoptica's MaximizeMergeMatching: pairs by score, best first; the first prediction
    of a reference must be admissible; a further one is merged iff the score of the union
    beats the current score; predictions are never shared."""
    m = Matching()
    inter = t.lookup()
    best = {}
    used_p = set()
    for i in np.argsort(-np.asarray(s), kind="stable"):
        p, r = int(t.pred[i]), int(t.ref[i])
        if p in used_p:
            continue
        if r in m.groups:
            grp = m.groups[r] + [p]
            ci = sum(inter.get((r, q), 0) for q in grp)
            pv = float(sum(t.pred_vox[q] for q in grp))
            new = float(score(ci, t.ref_vox[r], pv, match))
            if new > best[r]:
                m.groups[r].append(p)
                m.pairs.append((r, p, float(s[i])))
                best[r] = new
                used_p.add(p)
        elif ok[i]:
            m.groups[r] = [p]
            m.pairs.append((r, p, float(s[i])))
            best[r] = float(s[i])
            used_p.add(p)
    return m


def _lsa(cost):
    try:
        from scipy.optimize import linear_sum_assignment
    except ImportError as e:  # pragma: no cover - scipy is there wherever the peers are
        raise ImportError("this matcher solves an assignment problem with scipy.optimize.linear_sum_assignment; "
                          "install scipy (or use threshold >= 0.5 with a strict IoU match, which is unique)") from e
    return linear_sum_assignment(cost)


def match_hungarian(t: Table, s, ok) -> Matching:
    """One-to-one, maximising the summed score over admissible pairs only, solved per
    connected block of the admissible graph (a pair alone in its block is matched
    directly; IoU > 0.5 always gives such blocks)."""
    m = Matching()
    idx = np.flatnonzero(ok)
    if len(idx) == 0:
        return m
    # blocks of the admissible bipartite graph (union-find over ref ids and pred ids)
    parent = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i in idx:
        a, b = find(("r", int(t.ref[i]))), find(("p", int(t.pred[i])))
        if a != b:
            parent[a] = b
    blocks = {}
    for i in idx:
        blocks.setdefault(find(("r", int(t.ref[i]))), []).append(i)
    chosen = []
    for members in blocks.values():
        if len(members) == 1:
            chosen.append(members[0])
            continue
        refs = sorted({int(t.ref[i]) for i in members})
        preds = sorted({int(t.pred[i]) for i in members})
        ri = {r: k for k, r in enumerate(refs)}
        pi = {p: k for k, p in enumerate(preds)}
        w = np.zeros((len(refs), len(preds)))
        where = {}
        for i in members:
            w[ri[int(t.ref[i])], pi[int(t.pred[i])]] = s[i]
            where[(ri[int(t.ref[i])], pi[int(t.pred[i])])] = i
        rows, cols = _lsa(-w)
        chosen += [where[(a, b)] for a, b in zip(rows, cols) if (a, b) in where]
    for i in sorted(chosen, key=lambda i: (int(t.ref[i]), int(t.pred[i]))):
        r, p = int(t.ref[i]), int(t.pred[i])
        m.groups[r] = [p]
        m.pairs.append((r, p, float(s[i])))
    return m


def match_hungarian_full(t: Table, s, ok) -> Matching:
    """panoptica's MaxBipartiteMatching: the full ref x pred cost matrix, 1 - score for
    admissible pairs and 1 + 1e-6 elsewhere; linear_sum_assignment; pairs with cost < 1."""
    m = Matching()
    if t.n_ref == 0 or t.n_pred == 0:
        return m
    cost = np.full((t.n_ref, t.n_pred), 1.0 + 1e-6)
    for p, r, v, a in zip(t.pred, t.ref, s, ok):
        if a:
            cost[r - 1, p - 1] = 1.0 - v
    rows, cols = _lsa(cost)
    for a, b in zip(rows, cols):
        if cost[a, b] < 1.0:
            r, p = int(a) + 1, int(b) + 1
            m.groups[r] = [p]
            m.pairs.append((r, p, 1.0 - float(cost[a, b])))
    return m


def match_monai(t: Table, s32, threshold: float) -> Matching:
    """MONAI compute_panoptic_quality: float32 IoU; threshold >= 0.5: every pair with
    IoU > threshold (unique); below: linear_sum_assignment(-IoU) over the full gt x pred
    matrix (zero-IoU pairs included), then IoU > threshold."""
    m = Matching()
    t32 = np.float32(threshold)
    if threshold >= 0.5:
        for p, r, v in zip(t.pred, t.ref, s32):
            if np.float32(v) > t32:
                m.groups[int(r)] = [int(p)]
                m.pairs.append((int(r), int(p), float(v)))
        m.groups = dict(sorted(m.groups.items()))
        m.pairs.sort()
        return m
    if t.n_ref == 0 or t.n_pred == 0:
        return m
    w = np.zeros((t.n_ref, t.n_pred), np.float32)
    w[t.ref - 1, t.pred - 1] = np.asarray(s32, np.float32)
    rows, cols = _lsa(-w)
    for a, b in zip(rows, cols):
        if w[a, b] > t32:
            r, p = int(a) + 1, int(b) + 1
            m.groups[r] = [p]
            m.pairs.append((r, p, float(w[a, b])))
    return m


def lits_ref_merge(t: Table):
    """LiTS: reference components whose largest-overlap prediction is the same are one
    lesion.  Returns lut ref id -> lesion id (lesions numbered by smallest component id)."""
    n = t.n_ref
    best = np.zeros(n + 1, np.int64)
    bestc = np.zeros(n + 1, np.int64)
    for p, r, c in zip(t.pred, t.ref, t.inter):  # (pred, ref) ascending: ties keep the smaller pred id
        if c > bestc[r]:
            best[r], bestc[r] = p, c
    lut = np.zeros(n + 1, np.int64)
    first = {}
    k = 0
    for r in range(1, n + 1):
        key = ("p", int(best[r])) if best[r] else ("r", r)
        if key not in first:
            k += 1
            first[key] = k
        lut[r] = first[key]
    return lut


def match_lits(t: Table, match: str, threshold: float, strict: bool) -> Matching:
    """LiTS after the reference merge: each prediction joins the reference lesion it
    overlaps most (ties: the smaller id); a lesion with its joined predictions is detected
    when their score (IoU of the unions) beats the threshold."""
    m = Matching()
    best = {}
    for p, r, c in zip(t.pred, t.ref, t.inter):
        p, r, c = int(p), int(r), int(c)
        if p not in best or c > best[p][1]:
            best[p] = (r, c)
    grp = {}
    for p, (r, _) in sorted(best.items()):
        grp.setdefault(r, []).append(p)
    inter = t.lookup()
    for r, ps in sorted(grp.items()):
        ci = sum(inter.get((r, q), 0) for q in ps)
        v = float(score(ci, t.ref_vox[r], float(sum(t.pred_vox[q] for q in ps)), match))
        if bool(admissible(v, threshold, strict)):
            m.groups[r] = ps
            m.pairs += [(r, q, v) for q in ps]
    return m



def run(t: Table, opts, extra_pairs=None) -> Matching:
    """The matcher of `opts` on table `t` (extra_pairs: (pred, ref) touch candidates)."""
    s = _pair_scores(t, "iou" if opts.match == "touch" else opts.match, opts.float32)
    if opts.match == "touch":
        if extra_pairs is None:
            raise AssertionError("touch candidates missing")
        tp = Table(extra_pairs[:, 0], extra_pairs[:, 1], np.zeros(len(extra_pairs), np.int64), t.pred_vox, t.ref_vox)
        look = t.lookup()
        tp.inter = np.array([look.get((int(r), int(p)), 0) for p, r in extra_pairs], np.int64)
        s = _pair_scores(tp, "iou", False)
        return match_all(tp, s, np.ones(len(s), bool))
    ok = admissible(s, opts.threshold, opts.strict, opts.float32)
    if opts.matcher == "all":
        return match_all(t, s, ok)
    if opts.matcher in ("greedy", "greedy_many"):
        return match_greedy(t, s, ok, many=opts.matcher == "greedy_many")
    if opts.matcher == "merge":
        return match_merge(t, s, ok, opts.match)
    if opts.matcher == "hungarian":
        return match_hungarian(t, s, ok)
    if opts.matcher == "hungarian_full":
        return match_hungarian_full(t, s, ok)
    if opts.matcher == "monai":
        return match_monai(t, s, opts.threshold)
    if opts.matcher == "lits":
        return match_lits(t, opts.match, opts.threshold, opts.strict)
    raise AssertionError(opts.matcher)

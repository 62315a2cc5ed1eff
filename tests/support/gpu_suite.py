"""GPU-vs-CPU checks shared by tests/gpu/ (a real device: CuPy arrays and
torch CUDA tensors, compiled module and CuPy path) and
tests/unit/gpu/test_gpu_emulated.py (the sequential CUDA emulation, runs anywhere).

Each check draws random cases, runs the public API on host arrays (the CPU
path) and on device arrays with ``device=<backend>``, and requires float64
results within 1e-12 relative (float32 within 1e-6), boundary elements in
the same order with the same weights, the same weighted-rank percentile
element, and identical counts.
"""

from __future__ import annotations

import math

import numpy as np
import segscore as ss
from segscore.metrics.surface import conventions as _conv

RTOL64 = 1e-12
RTOL32 = 1e-6


class Dev:
    """How a test moves arrays to a device library and back."""

    def __init__(self, name, backend, up, host, transpose, is_native, negative_strides=True):
        self.name = name
        self.backend = backend          # "cuda" (compiled) or "cupy" (NVRTC)
        self.up = up                    # contiguous numpy -> device array
        self.host = host                # device array -> numpy
        self.transpose = transpose      # (x, axes) -> view
        self.is_native = is_native
        self.negative_strides = negative_strides

    def __repr__(self):
        return f"{self.name}/{self.backend}"


# ----------------------------------------------------------------------------- case generators

def rand_shape(rng, nd, lo=1, hi=12):
    return tuple(int(rng.integers(lo, hi + 1)) for _ in range(nd))


def rand_spacing(rng, nd):
    if rng.random() < 0.25:
        return None
    return tuple(float(v) for v in np.round(rng.uniform(0.3, 3.0, nd), 3))


def blob_labels(rng, shape, nlab, dtype=np.int32, specks=True, labels=None):
    nd = len(shape)
    g = np.indices(shape, dtype=float)
    out = np.zeros(shape, dtype=np.int64)
    labels = labels if labels is not None else list(range(1, nlab + 1))
    for lab in labels:
        c = [rng.uniform(0, n) for n in shape]
        r = [rng.uniform(1.0, max(1.5, n / 2.5)) for n in shape]
        m = sum(((g[i] - c[i]) / r[i]) ** 2 for i in range(nd)) <= 1.0
        out[m] = lab
        if specks and rng.random() < 0.5:  # a stray voxel far away stretches the box
            idx = tuple(int(rng.integers(0, n)) for n in shape)
            out[idx] = lab
    return out.astype(dtype)


def perturb(rng, lab, p=0.15):
    """A noisy copy: shifted boundary voxels and relabelled specks."""
    out = lab.copy()
    nd = lab.ndim
    ax = int(rng.integers(0, nd))
    shifted = np.roll(lab, int(rng.integers(-1, 2)), axis=ax)
    flip = rng.random(lab.shape) < p
    out[flip] = shifted[flip]
    if rng.random() < 0.3:
        labs = np.unique(lab[lab > 0])
        if len(labs):
            out[out == labs[0]] = 0  # a label missing from one map
    return out


def layouts(dev):
    out = ["C", "F", "strided"]
    if dev.negative_strides:
        out.append("neg")
    return out


def make_view(dev, a, layout, rng=None):
    """(host view, device view) of the same values with the requested memory layout."""
    nd = a.ndim
    if layout == "C" or nd == 0:
        return a, dev.up(np.ascontiguousarray(a))
    if layout == "F":
        rev = tuple(reversed(range(nd)))
        base = np.ascontiguousarray(a.transpose(rev))
        return base.transpose(rev), dev.transpose(dev.up(base), rev)
    if layout == "strided":
        big = np.zeros(tuple(2 * n + 1 for n in a.shape), a.dtype)
        key = tuple(slice(1, 1 + 2 * n, 2) for n in a.shape)
        big[key] = a
        return big[key], dev.up(big)[key]
    if layout == "neg":
        key = tuple(slice(None, None, -1) for _ in range(nd))
        base = np.ascontiguousarray(a[key])
        return base[key], dev.up(base)[key]
    raise ValueError(layout)


def assert_close(got, want, rtol, what=""):
    got = np.asarray(got)
    want = np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    if got.size == 0:
        return
    inf_g, inf_w = np.isinf(got), np.isinf(want)
    assert np.array_equal(inf_g, inf_w), f"{what}: inf at different places"
    fin = ~inf_w
    np.testing.assert_allclose(got[fin], want[fin], rtol=rtol, atol=0, err_msg=what)


def assert_scalar(got, want, rtol, what=""):
    if isinstance(want, float) and math.isnan(want):
        assert isinstance(got, float) and math.isnan(got), f"{what}: {got} != nan"
        return
    if isinstance(want, float) and math.isinf(want):
        assert got == want, f"{what}: {got} != {want}"
        return
    assert got == want or abs(got - want) <= rtol * abs(want), f"{what}: {got!r} != {want!r}"


# ----------------------------------------------------------------------------- EDT

def check_edt(dev, rng, nd, dtype, layout, squared=False, in_dtype=None, density=None):
    shape = rand_shape(rng, nd, 1, 13 if nd <= 3 else 5)
    dens = density if density is not None else rng.uniform(0.2, 0.97)
    m = rng.random(shape) < dens
    if in_dtype is not None:
        vals = rng.integers(1, 5, shape) * m
        m = vals.astype(in_dtype)
        if np.dtype(in_dtype).kind == "f":
            m[m == 0] = -0.0  # negative zero is a zero
    h, d = make_view(dev, m, layout)
    sp = rand_spacing(rng, nd)
    want = ss.edt(h, spacing=sp, dtype=dtype, squared=squared)
    got = ss.edt(d, spacing=sp, dtype=dtype, squared=squared, device=dev.backend)
    assert dev.is_native(got), f"output is {type(got)}, not an array of the input's library"
    gh = dev.host(got)
    assert gh.shape == want.shape
    assert_close(gh, want, RTOL64 if dtype == "float64" else RTOL32, f"edt {shape} {layout} sp={sp}")
    return gh, want


def check_edt_multilabel(dev, rng, nd, dtype, layout, lab_dtype=np.int32):
    shape = rand_shape(rng, nd, 1, 12)
    lab = rng.integers(0, 4, shape)
    if rng.random() < 0.5:  # large runs
        lab = blob_labels(rng, shape, 3, specks=False)
    lab = lab.astype(lab_dtype)
    h, d = make_view(dev, lab, layout)
    sp = rand_spacing(rng, nd)
    want = ss.edt_multilabel(h, spacing=sp, dtype=dtype)
    got = ss.edt_multilabel(d, spacing=sp, dtype=dtype, device=dev.backend)
    assert dev.is_native(got)
    assert_close(dev.host(got), want, RTOL64 if dtype == "float64" else RTOL32, f"edt_multilabel {shape} {layout}")


# ----------------------------------------------------------------------------- counting pass

def check_stats(dev, rng, nd, layout, big_labels=0, ignore=False, dtypes=(np.int32, np.uint8)):
    from segscore.metrics.case import Case

    shape = rand_shape(rng, nd, 2, 14)
    labs = [int(v) for v in rng.choice(np.arange(1, 9), size=4, replace=False)]
    if big_labels:
        labs = [int(big_labels + v) for v in labs]
    p = blob_labels(rng, shape, 4, np.int64, labels=labs)
    r = perturb(rng, p)
    p = p.astype(dtypes[0] if not big_labels else np.int32)
    r = r.astype(dtypes[1] if not big_labels else np.int64)
    ign = int(labs[0]) if ignore else None
    ph, pd = make_view(dev, p, layout)
    rh, rd = make_view(dev, r, layout)
    c = Case(ph, rh, ignore_label=ign)
    g = Case(pd, rd, ignore_label=ign, device=dev.backend)
    assert g.device == dev.backend
    for k in ("pairs", "pred_boxes", "ref_boxes"):
        np.testing.assert_array_equal(np.asarray(g.stats[k]).reshape(-1), np.asarray(c.stats[k]).reshape(-1), k)
    for k in ("pred_min", "pred_max", "ref_min", "ref_max", "counted"):
        assert int(g.stats[k]) == int(c.stats[k]), k
    assert list(g.regions) == list(c.regions)
    for k, mem in c.regions.items():
        assert g.counts(mem) == c.counts(mem)
        assert g.box(mem) == c.box(mem)


# ----------------------------------------------------------------------------- surface distances

def _rank_index(d, w, q):
    order = np.lexsort((w, d))
    cum = np.cumsum(w[order]) / np.sum(w[order])
    return int(order[min(int(np.searchsorted(cum, q / 100.0)), len(d) - 1)])


def compare_sd(got, want, rtol=RTOL64, what=""):
    for (gd, gw), (wd, ww), direction in zip(got.directed, want.directed, ("pred->ref", "ref->pred")):
        assert_close(gd, wd, rtol, f"{what} {direction} distances")
        assert_close(gw, ww, rtol, f"{what} {direction} weights")
        if len(wd) and np.all(np.isfinite(wd)):
            weighted = want.convention.weighted
            wg = gw if weighted else np.ones_like(gw)
            ww_ = ww if weighted else np.ones_like(ww)
            for q in (50, 95, 99):
                assert _rank_index(gd, wg, q) == _rank_index(wd, ww_, q), (
                    f"{what} {direction}: a different percentile element at q={q}")
    assert got.n_pred_voxels == want.n_pred_voxels and got.n_ref_voxels == want.n_ref_voxels
    assert got._biou == want._biou, f"{what}: boundary IoU counts {got._biou} != {want._biou}"


def surface_case(rng, nd, conv, n_labels=None):
    shape = rand_shape(rng, nd, 3, 16 if nd < 3 else 12)
    nlab = n_labels if n_labels is not None else int(rng.integers(1, 5))
    dtype = [np.int16, np.uint8, np.int32, np.int64, np.uint16][int(rng.integers(0, 5))]
    p = blob_labels(rng, shape, nlab, np.int64)
    r = perturb(rng, p)
    if rng.random() < 0.25:
        p = p > 0
        r = r > 0
    else:
        p, r = p.astype(dtype), r.astype([np.int32, np.uint8][int(rng.integers(0, 2))])
    kw = {"spacing": rand_spacing(rng, nd), "convention": conv.name}
    if conv.defines("biou") and rng.random() < 0.6:
        kw["biou_width"] = float(rng.choice([0.5, 1.0, 1.5, 2.0]))
    if conv.name in ("medpy", "panoptica") and rng.random() < 0.5:
        kw["connectivity"] = int(rng.integers(1, nd + 1))
    if p.dtype != np.bool_ and rng.random() < 0.2 and p.max() > 1:
        kw["ignore_label"] = int(p.max())
    return p, r, kw


def check_surface(dev, rng, conv_name, nd, layout="C", n_labels=None):
    conv = _conv.get(conv_name)
    p, r, kw = surface_case(rng, nd, conv, n_labels)
    ph, pd = make_view(dev, p, layout)
    rh, rd = make_view(dev, r, layout)
    want = ss.surface_distances(ph, rh, **kw)
    got = ss.surface_distances(pd, rd, device=dev.backend, **kw)
    what = f"{conv_name} {nd}-D {p.shape} {p.dtype} {kw}"
    if isinstance(want, dict):
        assert list(got) == list(want), what
        for k in want:
            compare_sd(got[k], want[k], RTOL64, f"{what} label {k}")
    else:
        compare_sd(got, want, RTOL64, what)
    return got, want


def evaluate_metrics(conv):
    m = ["dice", "iou", "precision", "recall", "tp", "fp", "fn", "tn", "vol_pred_ml"]
    if conv.defines("hd"):
        m += ["hd", "hd95", "hd99"]
    if conv.defines("assd"):
        m += ["assd"]
    if conv.defines("masd"):
        m += ["masd"]
    if conv.defines("nsd"):
        m += ["nsd@1", "nsd@2.5"]
    if conv.defines("biou"):
        m += ["biou@1", "biou@2"]
    return m


def check_evaluate(dev, rng, conv_name, nd, layout="C", n_labels=None):
    conv = _conv.get(conv_name)
    p, r, kw = surface_case(rng, nd, conv, n_labels)
    kw.pop("biou_width", None)
    if p.dtype == np.bool_:
        p, r = p.astype(np.uint8), r.astype(np.uint8)
    ph, pd = make_view(dev, p, layout)
    rh, rd = make_view(dev, r, layout)
    metrics = evaluate_metrics(conv)
    want = ss.evaluate(ph, rh, metrics=metrics, empty="nan", **kw)
    got = ss.evaluate(pd, rd, metrics=metrics, empty="nan", device=dev.backend, **kw)
    assert got.meta["device"] == dev.backend
    assert got.columns == want.columns
    w, g = want.to_dict(), got.to_dict()
    assert list(g) == list(w)
    for k in w:
        for m in w[k]:
            assert_scalar(g[k][m], w[k][m], RTOL64, f"{conv_name} label {k} {m} {kw}")
    return got, want


def check_union_regions(dev, conv, seed=21):
    """Union regions (tuples), a label absent from both maps and ignore_label."""
    rng = np.random.default_rng(seed)
    p = blob_labels(rng, (18, 15, 12), 4).astype(np.int16)
    r = perturb(rng, p).astype(np.int64)
    labels = {"whole": (1, 2, 3), "two": (2, 4), 3: 3, 9: 9}
    sp = (0.9, 1.1, 2.2)
    kw = dict(spacing=sp, convention=conv, labels=labels, ignore_label=5, empty="nan")
    want = ss.evaluate(p, r, tolerance=1.5, **kw).to_dict()
    got = ss.evaluate(dev.up(p), dev.up(r), tolerance=1.5, device=dev.backend, **kw).to_dict()
    assert list(got) == list(want)
    for k in want:
        for m, v in want[k].items():
            assert_scalar(got[k][m], v, RTOL64, f"{k} {m}")
    sw = ss.surface_distances(p, r, spacing=sp, convention=conv, labels=labels, ignore_label=5)
    sg = ss.surface_distances(dev.up(p), dev.up(r), spacing=sp, convention=conv, labels=labels, ignore_label=5,
                              device=dev.backend)
    for k in sw:
        compare_sd(sg[k], sw[k], RTOL64, f"{conv} {k}")


# ----------------------------------------------------------------------------- calibration

CALIB_CONVENTIONS = ("segscore", "torchmetrics", "monai", "metricsreloaded", "netcal", "curvas")


def calib_case(rng, nd, n_classes, dtype, logits, class_axis=0):
    """(probs, target): P(class 1) shaped like target when n_classes == 0, else classes on
    class_axis; probabilities with exact 0 and 1 and bin-edge values mixed in."""
    shape = rand_shape(rng, nd, 2, 9)
    c = 2 if n_classes == 0 else n_classes
    target = rng.integers(0, c, shape)
    if n_classes == 0:
        p = rng.random(shape)
        k = rng.random(shape)
        p[k < 0.1] = 0.0
        p[(k >= 0.1) & (k < 0.2)] = 1.0
        p[(k >= 0.2) & (k < 0.3)] = rng.integers(0, 16, int(np.count_nonzero((k >= 0.2) & (k < 0.3)))) / 15
        p[(k >= 0.3) & (k < 0.33)] = 1e-40  # float32 subnormal (0 in float16)
        p[(k >= 0.33) & (k < 0.36)] = np.nextafter(np.float32(1), np.float32(0))
        if logits:
            p = rng.normal(0, 3, shape)
        return p.astype(dtype), target
    if logits:
        p = rng.normal(0, 3, (c,) + shape)
    else:
        p = rng.gamma(0.3, size=(c,) + shape)
        p /= p.sum(0)
        sure = rng.random(shape) < 0.2
        onehot = (np.arange(c).reshape((c,) + (1,) * nd) == target).astype(float)
        p = np.where(sure, onehot, p)
    p = np.moveaxis(p, 0, class_axis)
    return np.ascontiguousarray(p.astype(dtype)), target


def _calib_kwargs(conv, n_classes, rng):
    kw = {"convention": conv}
    c = ss.calibration.get_convention(conv)
    modes = ["positive-class", "top-label", "class-wise"]
    if conv in ("segscore",):
        kw["target_mode"] = modes[int(rng.integers(0, 3))]
        if kw["target_mode"] == "positive-class":
            kw["positive_class"] = int(rng.integers(0, 2 if n_classes == 0 else n_classes))
    if "equal-mass" in c.binnings and rng.random() < 0.3:
        kw["binning"] = "equal-mass"
    return kw


def compare_reliability(got, want, what):
    assert got.mode == want.mode and got.voxels == want.voxels and got.scored == want.scored, what
    np.testing.assert_array_equal(np.asarray(got.edges), np.asarray(want.edges), err_msg=what)
    np.testing.assert_array_equal(got.count, want.count, err_msg=what)
    np.testing.assert_array_equal(got.correct, want.correct, err_msg=what)
    # GPU sums are exact in 2^-88 units (fixed point): each voxel's confidence is truncated there
    np.testing.assert_allclose(got.sum_confidence, want.sum_confidence, rtol=RTOL64,
                               atol=float(np.max(want.count, initial=0)) * 2.0**-88, err_msg=what + " sum_confidence")
    for name in ("brier_sum", "nll_sum"):
        assert_scalar(float(getattr(got, name)), float(getattr(want, name)), RTOL64, f"{what} {name}")


def check_calibration(dev, rng, nd, n_classes, dtype, layout="C", logits=False, mask=False, ignore=False,
                      class_axis=0, target_dtype=np.int64):
    """ss.reliability / ece / brier / nll on the device == the CPU path (counts exactly, sums to
    1e-12), for every calibration convention."""
    probs, target = calib_case(rng, nd, n_classes, dtype, logits, class_axis)
    target = target.astype(target_dtype)
    hp, dp = make_view(dev, probs, layout)
    ht, dt = make_view(dev, target, layout)
    extra, dextra = {}, {}
    if mask:
        m = rng.random(target.shape) < 0.7
        extra["mask"], dextra["mask"] = make_view(dev, m, layout)
    if ignore:
        c = 2 if n_classes == 0 else n_classes
        extra["ignore_label"] = dextra["ignore_label"] = c  # an extra label value, skipped
        sel = rng.random(target.shape) < 0.2
        t2 = np.where(sel, c, target).astype(target_dtype)
        ht, dt = make_view(dev, t2, layout)
    for conv in CALIB_CONVENTIONS:
        kw = _calib_kwargs(conv, n_classes, rng)
        kw["class_axis"] = class_axis
        kw["logits"] = logits
        what = f"{dev} {conv} {kw} nd={nd} C={n_classes} {dtype} {layout} mask={mask} ignore={ignore}"
        c = ss.calibration.get_convention(conv)
        if c.defines("reliability"):
            want = ss.reliability(hp, ht, **kw, **extra)
            got = ss.reliability(dp, dt, device=dev.backend, **kw, **dextra)
            compare_reliability(got, want, what)
            if c.arithmetic != "float64" and kw.get("binning", "uniform") == "uniform":
                # the float32 reference arithmetic is a host replay; exact=True bins these
                # conventions' edges on the device
                want = ss.reliability(hp, ht, exact=True, **kw, **extra)
                got = ss.reliability(dp, dt, device=dev.backend, exact=True, **kw, **dextra)
                compare_reliability(got, want, what + " exact")
        if c.defines("ece"):
            assert_scalar(ss.ece(dp, dt, device=dev.backend, **kw, **dextra), ss.ece(hp, ht, **kw, **extra), RTOL64,
                          what + " ece")
        for fn in ("brier", "nll"):
            if c.defines(fn):
                skw = {k: v for k, v in kw.items() if k in ("convention", "class_axis", "logits")}
                want = getattr(ss, fn)(hp, ht, **skw, **extra)
                got = getattr(ss, fn)(dp, dt, device=dev.backend, **skw, **dextra)
                assert_scalar(got, want, RTOL64, f"{what} {fn}")


def check_calibration_stream(dev, rng):
    """ss.Calibration over device chunks == over the same chunks on the host."""
    probs, target = calib_case(rng, 3, 4, np.float32, False)
    acc_h = ss.Calibration(convention="segscore", scores=True)
    acc_d = ss.Calibration(convention="segscore", scores=True, device=dev.backend)
    for k in range(probs.shape[1]):
        acc_h.update(probs[:, k], target[k])
        acc_d.update(dev.up(np.ascontiguousarray(probs[:, k])), dev.up(np.ascontiguousarray(target[k])))
    want, got = acc_h.compute(), acc_d.compute()
    assert got.keys() == want.keys()
    for key in want:
        assert_scalar(float(got[key]), float(want[key]), RTOL64, key)


# ----------------------------------------------------------------------------- CRPS

def check_crps_gaussian(dev, rng, dtype, layout="C"):
    shape = rand_shape(rng, int(rng.integers(1, 4)), 1, 40)
    obs = rng.normal(size=shape).astype(dtype)
    mu = rng.normal(size=shape[-1:]).astype(dtype)  # broadcast along the leading axes
    sigma = np.abs(rng.normal(size=shape)).astype(dtype)
    sigma.flat[:: 7] = 0.0
    obs.flat[:: 11] = np.nan
    ho, do = make_view(dev, obs, layout)
    hs, ds = make_view(dev, sigma, layout)
    want = ss.crps_gaussian(ho, mu, hs)
    got = ss.crps_gaussian(do, dev.up(mu), ds, device=dev.backend)
    assert dev.is_native(got)
    g = dev.host(got)
    assert np.array_equal(np.isnan(g), np.isnan(want))
    ok = ~np.isnan(want)
    assert_close(g[ok], want[ok], RTOL64, f"{dev} crps_gaussian {dtype} {layout}")
    # scalars join device arrays
    got = dev.host(ss.crps_gaussian(do, 0.25, 2.0, device=dev.backend))
    want = ss.crps_gaussian(ho, 0.25, 2.0)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert_close(got[ok], want[ok], RTOL64, f"{dev} crps_gaussian scalars")


def check_crps_ensemble(dev, rng, dtype, layout="C", weighted=False, axis=-1):
    batch = rand_shape(rng, int(rng.integers(1, 3)), 1, 30)
    m = int(rng.choice([1, 2, 5, 8, 9, 31, 50]))
    members = rng.normal(size=batch + (m,)).astype(dtype)
    members[rng.random(members.shape) < 0.05] = np.nan
    if m > 2:
        members[..., 2] = members[..., 1]  # ties
    obs = rng.normal(size=batch).astype(dtype)
    obs.flat[:: 13] = np.nan
    w = None
    if weighted:
        w = rng.random(m).astype(dtype)  # one weight vector for every ensemble
        if m > 2:
            w[1] = 0.0
    ax = axis % (len(batch) + 1)
    hx = np.moveaxis(members, -1, ax)
    hx, dx = make_view(dev, np.ascontiguousarray(hx), layout)
    ho, do = make_view(dev, obs, layout)
    wshape = [1] * (len(batch) + 1)
    wshape[ax] = m
    hw = None if w is None else w.reshape(wshape)
    want = ss.crps_ensemble(ho, hx, hw, axis=axis)
    got = ss.crps_ensemble(do, dx, None if w is None else dev.up(hw), axis=axis, device=dev.backend)
    assert dev.is_native(got)
    g = np.atleast_1d(dev.host(got))
    want = np.atleast_1d(want)
    assert np.array_equal(np.isnan(g), np.isnan(want)), f"{dev} NaN pattern"
    ok = ~np.isnan(want)
    assert_close(g[ok], want[ok], RTOL64, f"{dev} crps_ensemble {dtype} m={m} {layout} w={weighted} axis={axis}")


def check_calibration_near_edges(dev):
    """Confidences one rounding step either side of every edge k/n: float64 probabilities,
    sums like 0.7 + 0.2, logits and float32 inputs bin exactly as on the CPU (the exact-floor
    shortcut only where it is valid)."""
    for n in (10, 15, 20, 50):
        k = np.arange(1, n)
        e = k / n
        vals = np.concatenate([e, np.nextafter(e, 0), np.nextafter(e, 1), [0.7 + 0.2, 0.1 + 0.2, 0.0, 1.0]])
        t = (np.arange(vals.size) % 2).astype(np.int64)
        inner = vals[:-2]  # without 0 and 1
        for probs, kw in ((vals, {}), (vals.astype(np.float32), {}), (np.log(inner / (1 - inner)),
                                                                       {"logits": True})):
            tt = t[:probs.size]
            for conv in ("segscore", "torchmetrics", "monai"):
                for mode in ("positive-class", "top-label"):
                    kw2 = dict(kw, n_bins=n, convention=conv, target_mode=mode)
                    for exact in (False, True):  # exact: the device pass (else a host replay)
                        want = ss.reliability(probs, tt, exact=exact, **kw2)
                        got = ss.reliability(dev.up(probs), dev.up(tt), device=dev.backend, exact=exact, **kw2)
                        what = f"{dev} near edges n={n} {probs.dtype} {kw2} exact={exact}"
                        compare_reliability(got, want, what)


# ----------------------------------------------------------------------------- connected components

def component_mask(rng, shape, kind):
    if kind == "noise":
        return rng.random(shape) < rng.uniform(0.1, 0.7)
    if kind == "labels":
        return rng.integers(0, 3, shape).astype(np.int32)
    return blob_labels(rng, shape, 3, np.uint8) > 0


def check_components(dev, rng, nd, layout, kind="noise", dtype=None, min_size=0):
    """ss.connected_components on the device == on the host: the same ids, n, dtype and
    memory order, for every connectivity and both raster orders."""
    shape = rand_shape(rng, nd, 1, 12 if nd == 3 else 30)
    m = component_mask(rng, shape, kind)
    if dtype is not None:
        m = m.astype(dtype)
    h, d = make_view(dev, m, layout)
    binary = kind != "labels"
    for conn in ((4, 8) if nd == 2 else (6, 18, 26)):
        for order in ("C", "F"):
            want, n = ss.connected_components(h, conn, binary=binary, order=order, min_size=min_size)
            got, k = ss.connected_components(d, conn, binary=binary, order=order, min_size=min_size,
                                             device=dev.backend)
            assert dev.is_native(got), f"output is {type(got)}, not an array of the input's library"
            gh = dev.host(got)
            what = f"cc {shape} {kind} {layout} conn {conn} order {order} min_size {min_size}"
            assert k == n, f"{what}: n {k} != {n}"
            assert gh.dtype == want.dtype, what
            np.testing.assert_array_equal(gh, want, err_msg=what)
            from segscore._core.arrays import wrap

            w = wrap(got, "labels")
            assert w.f_contiguous() if order == "F" else w.c_contiguous(), f"{what}: memory order"


def check_overlap_table(dev, rng, nd, layout, dtypes=(np.int32, np.int32)):
    """segscore.lesion.overlap_table on the device == on the host."""
    from segscore.lesion import overlap_table

    shape = rand_shape(rng, nd, 2, 14)
    p = ss.connected_components(rng.random(shape) < 0.4)[0] if nd in (2, 3) else rng.integers(0, 5, shape)
    r = perturb(rng, p) if rng.random() < 0.5 else rng.integers(0, 4, shape)
    p, r = p.astype(dtypes[0]), r.astype(dtypes[1])
    ph, pd = make_view(dev, p, layout)
    rh, rd = make_view(dev, r, layout)
    want = overlap_table(ph, rh)
    got = overlap_table(pd, rd, device=dev.backend)
    what = f"overlap_table {shape} {layout} {dtypes}"
    for f in ("pred_id", "ref_id", "count", "pred_voxels", "ref_voxels"):
        np.testing.assert_array_equal(getattr(got, f), getattr(want, f), err_msg=f"{what}: {f}")
# ----------------------------------------------------------------------------- lesion-wise scoring

LESION_RTOL = 1e-9
# (convention, extra options): the device flow (components and tables on the GPU) and the
# host-instance flow (regions, merges, touch, LiTS) with every surface convention's rule
LESION_CONVENTIONS = [
    ("segscore", dict(metrics=("dice", "iou", "hd", "hd95", "assd", "masd", "nsd"), tolerance=1.5)),
    ("panoptica", dict(metrics=("dice", "iou", "assd", "hd", "hd95", "nsd", "rvd"), tolerance=1.0)),
    ("isles", dict(metrics=("dice", "hd95", "assd"), surface="monai")),
    ("lits", dict(metrics=("dice", "assd", "hd"))),
    ("brats2023", {}),
    ("segscore", dict(surface="deepmind", matcher="greedy_many", match="overlap", threshold=0.0,
                      metrics=("hd95", "assd", "nsd"), tolerance=2.0)),
]


def lesion_case(rng, nd, kind="random"):
    """(pred, ref) lesion maps: bool masks of random blobs, or BraTS label maps (3-D)."""
    shape = rand_shape(rng, nd, 8, 16 if nd == 3 else 40)
    if kind == "brats":
        ref = blob_labels(rng, shape, 3, np.uint8, labels=[2, 3, 1, 2])
        pred = np.roll(perturb(rng, ref, 0.25), 1, axis=int(rng.integers(0, nd))).astype(np.uint8)
        return pred, ref
    ref = blob_labels(rng, shape, int(rng.integers(2, 6)), np.int32) > 0
    pred = perturb(rng, ref.astype(np.int32), 0.3) > 0
    if rng.random() < 0.7:  # boundaries apart by a voxel or more: distances > 0
        pred = np.roll(pred, int(rng.choice([-1, 1])), axis=int(rng.integers(0, nd)))
    if rng.random() < 0.5:  # a stray component and a lesion on the border
        pred[tuple(int(rng.integers(0, n)) for n in shape)] = True
        ref[(0,) * nd] = ref[(1,) + (0,) * (nd - 1)] = True
    return pred, ref


def compare_lesion_results(got, want, what):
    def same(a, b, key):
        if isinstance(b, float) or isinstance(a, float):
            if math.isnan(b):
                assert math.isnan(a), f"{what}: {key} {a} != nan"
            elif math.isinf(b):
                assert a == b, f"{what}: {key} {a} != {b}"
            else:
                assert abs(a - b) <= LESION_RTOL * max(1.0, abs(b)), f"{what}: {key} {a!r} != {b!r}"
        elif isinstance(b, dict):
            assert set(a) == set(b), f"{what}: {key} keys {sorted(a)} != {sorted(b)}"
            for k in b:
                same(a[k], b[k], f"{key}.{k}")
        else:
            assert a == b, f"{what}: {key} {a!r} != {b!r}"

    assert len(got.lesions) == len(want.lesions), f"{what}: {len(got.lesions)} rows != {len(want.lesions)}"
    for i, (a, b) in enumerate(zip(got.lesions, want.lesions)):
        same(a, b, f"row {i}")
    assert len(got.matches) == len(want.matches), what
    for i, (a, b) in enumerate(zip(got.matches, want.matches)):
        same(a, b, f"match {i}")
    same(got.summary, want.summary, "summary")


def check_lesionwise(dev, conv, opts, pred, ref, spacing, what=""):
    """ss.lesionwise on device arrays == on the host arrays (every row, match and summary
    value within 1e-9 relative; ids, kinds and counts identical)."""
    want = ss.lesionwise(pred, ref, spacing, convention=conv, **opts)
    got = ss.lesionwise(dev.up(pred), dev.up(ref), spacing, convention=conv, device=dev.backend, **opts)
    assert got.meta["device"] != "cpu", f"{what}: ran on {got.meta['device']}"
    compare_lesion_results(got, want, f"lesionwise {conv} {opts} {pred.shape} {spacing} {what}")
    return got, want


def check_lesionwise_random(dev, rng, nd, conv, opts):
    kind = "brats" if conv == "brats2023" else "random"
    if conv == "brats2023" and nd == 2:
        return
    pred, ref = lesion_case(rng, nd, kind)
    spacing = rand_spacing(rng, nd)
    check_lesionwise(dev, conv, opts, pred, ref, spacing)
    empty = np.zeros_like(ref)
    for p, r, w in ((empty, ref, "empty pred"), (pred, empty, "empty ref"), (empty, empty.copy(), "both empty")):
        check_lesionwise(dev, conv, opts, p, r, spacing, w)


def check_lesionwise_layouts(dev, rng, nd):
    """Device views in every memory layout (F order, strided, reversed) == the host views,
    for the device flow (C and F component numbering) and the host-instance flow."""
    pred, ref = lesion_case(rng, nd)
    spacing = rand_spacing(rng, nd)
    for layout in layouts(dev):
        ph, pd = make_view(dev, pred, layout)
        rh, rd = make_view(dev, ref, layout)
        for conv, opts in (("segscore", dict(order="F", metrics=("dice", "hd", "assd"))),
                           ("panoptica", {}), ("lits", {})):
            want = ss.lesionwise(ph, rh, spacing, convention=conv, **opts)
            got = ss.lesionwise(pd, rd, spacing, convention=conv, device=dev.backend, **opts)
            compare_lesion_results(got, want, f"lesionwise {conv} {opts} {pred.shape} {layout}")


# ----------------------------------------------------------------------------- the one multi-rater pass
def multirater_case(rng, nd, k, n_labels, c, top):
    shape = rand_shape(rng, nd, 1, 14)
    base = blob_labels(rng, shape, n_labels, np.uint8)
    raters = [perturb(rng, base).astype(rng.choice([np.uint8, np.int16, np.int32])) for _ in range(k)]
    pred = perturb(rng, base).astype(np.int32)
    target = perturb(rng, base).astype(np.uint8)
    dt = rng.choice([np.float32, np.float64])
    if top:
        s = rng.random(shape + (c,)) ** 3
        s[rng.random(shape) < 0.5] = np.eye(c)[0]
        p = (s / s.sum(axis=-1, keepdims=True)).astype(dt)
        chans = [np.ascontiguousarray(p[..., j]) for j in range(c)]
    else:
        chans = [(rng.random(shape) * (rng.random(shape) < 0.6)).astype(dt) for _ in range(c)]
    return raters, pred, chans, target


def check_multirater(dev, rng, nd, layout="C", top=True):
    from segscore.probabilistic.onepass import rater_pass

    k = int(rng.integers(1, 5))
    c = int(rng.integers(2, 5))
    raters, pred, chans, target = multirater_case(rng, nd, k, int(rng.integers(1, 5)), c, top)
    edges = np.arange(11) / 10
    labs = list(range(c))
    want = rater_pass(raters, pred, chans, labs, seed=[9], target=target, edges=edges, top=top)
    d = lambda a: make_view(dev, a, layout)[1]  # noqa: E731
    got = rater_pass([d(r) for r in raters], d(pred), [d(x) for x in chans], labs, seed=[9], target=d(target),
                     edges=edges, top=top, device=dev.backend)
    what = f"{dev} multirater nd={nd} {layout}"
    np.testing.assert_array_equal(got.labels, want.labels, what)
    np.testing.assert_array_equal(got.stats, want.stats, what)
    np.testing.assert_array_equal(got.minmax, want.minmax, what)
    np.testing.assert_array_equal(got.psum, want.psum, what)  # exact sums: bit for bit
    np.testing.assert_array_equal(got.pvsum, want.pvsum, what)
    np.testing.assert_array_equal(got.pfg, want.pfg, what)
    np.testing.assert_array_equal(got.pbg, want.pbg, what)
    for key in ("brier", "cw_count", "cw_conf", "top_count", "top_conf", "top_rater", "pmin", "pmax", "pnan"):
        np.testing.assert_array_equal(np.asarray(got.calib[key]), np.asarray(want.calib[key]), f"{what} {key}")
    assert got.calib["rowdev"] == want.calib["rowdev"], what
    # a background channel computed from the organ channels (the CURVAS layout)
    if top:
        want = rater_pass(raters, pred, chans[1:], labs, target=target, edges=edges, top=True,
                          implicit_background=True)
        got = rater_pass([d(r) for r in raters], d(pred), [d(x) for x in chans[1:]], labs, target=d(target),
                         edges=edges, top=True, implicit_background=True, device=dev.backend)
        part = rater_pass([d(r) for r in raters], d(pred), [d(x) for x in chans[1:]], labs, target=d(target),
                          edges=edges, top=True, implicit_background=True, channel_bins=False, device=dev.backend)
        np.testing.assert_array_equal(part.calib["top_rater"], want.calib["top_rater"], what)
        assert not part.calib["cw_count"].any(), what
        np.testing.assert_array_equal(got.psum, want.psum, what)
        np.testing.assert_array_equal(got.calib["top_rater"], want.calib["top_rater"], what)
        np.testing.assert_array_equal(got.calib["top_conf"], want.calib["top_conf"], what)
    # and without a prediction, probabilities or target
    want = rater_pass(raters)
    got = rater_pass([d(r) for r in raters], device=dev.backend)
    np.testing.assert_array_equal(got.stats, want.stats, what)
    np.testing.assert_array_equal(got.labels, want.labels, what)

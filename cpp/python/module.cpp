// pybind11 module segscore._cpu: the EDT, counting and surface-distance bindings (the
// calibration and CRPS ones live in their own files).  Thin on purpose: convert arrays to
// views (bindings.h: no copies, no dtype promotion), check, release the GIL, call the driver.
// Validation with user-facing messages happens in Python, before this.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <tuple>
#include <vector>

#include "bindings.h"
#include "edt_driver.h"
#include "overlap_driver.h"
#include "pack_driver.h"
#include "percentile.h"
#include "surface_driver.h"
#include "thread_pool.h"

namespace py = pybind11;
using namespace segscore;

namespace {

void py_edt(const py::array& in, py::array out, py::object spacing, bool squared, bool multilabel, int threads) {
  const ArrayView v = view_of(in, "input");
  const ArrayView o = view_of(out, "out", kFloats);
  if (o.ndim != v.ndim) throw py::value_error("segscore._cpu.edt: out has the wrong number of dimensions");
  check_same_shape(v, o, v.ndim, "edt", "out");
  if (!out.writeable()) throw py::value_error("segscore._cpu.edt: out is read-only");
  std::vector<double> sp(v.ndim, 1.0);
  if (!spacing.is_none()) sp = spacing.cast<std::vector<double>>();
  if (int(sp.size()) != v.ndim) throw py::value_error("segscore._cpu.edt: spacing length != ndim");
  EdtOptions opt;
  opt.spacing = sp.data();
  opt.squared = squared;
  opt.multilabel = multilabel;
  opt.threads = threads;
  void* optr = out.mutable_data();
  py::gil_scoped_release nogil;
  edt(v, optr, o.strides, o.dtype == DType::F64, opt);
}

py::dict py_overlap_stats(const py::array& pred, const py::array& ref, int64_t ignore_label, int threads) {
  const ArrayView p = view_of(pred, "pred", kLabels), r = view_of(ref, "ref", kLabels);
  if (p.ndim != r.ndim) throw py::value_error("segscore._cpu.overlap_stats: ndim mismatch");
  check_same_shape(p, r, p.ndim, "overlap_stats", "ref");
  OverlapStats s;
  {
    py::gil_scoped_release nogil;
    s = overlap_stats(p, r, ignore_label, threads);
  }
  const int nd = p.ndim;
  auto rows = [&](std::vector<int64_t>&& v, int width) {
    const auto n = py::ssize_t(v.size()) / width;
    return to_numpy(std::move(v), {n, py::ssize_t(width)});
  };
  py::dict d;
  d["pairs"] = rows(std::move(s.pairs), 3);
  d["pred_boxes"] = rows(std::move(s.pred_boxes), 1 + 2 * nd);
  d["ref_boxes"] = rows(std::move(s.ref_boxes), 1 + 2 * nd);
  d["pred_min"] = s.pred_min;
  d["pred_max"] = s.pred_max;
  d["ref_min"] = s.ref_min;
  d["ref_max"] = s.ref_max;
  d["counted"] = s.counted;
  return d;
}

// One region of surface_distances: (labels, lo, hi, empty) -- the labels whose union is
// the region, its bounding box (inclusive; empty lists when the region is empty in both
// maps) and that flag (python/segscore/metrics/surface/functional.py Region).
using RegionArg = std::tuple<std::vector<int64_t>, std::vector<int64_t>, std::vector<int64_t>, bool>;

py::list py_surface_distances(const py::array& pred, const py::array& ref, const std::vector<RegionArg>& regions,
                              int boundary, int connectivity, std::vector<double> spacing, int64_t ignore_label,
                              double biou_width, bool biou_strict, bool biou_unit_spacing, int threads) {
  const ArrayView p = view_of(pred, "pred", kLabels), r = view_of(ref, "ref", kLabels);
  const int nd = p.ndim;
  if (r.ndim != nd) throw py::value_error("segscore._cpu.surface_distances: ndim mismatch");
  check_same_shape(p, r, nd, "surface_distances", "ref");
  if (int(spacing.size()) != nd) throw py::value_error("segscore._cpu.surface_distances: spacing length != ndim");
  std::vector<Region> regs;
  for (const auto& [labels, lo, hi, empty] : regions) {
    Region g;
    g.labels = labels;
    std::sort(g.labels.begin(), g.labels.end());
    g.empty = empty;
    if (!g.empty) {
      if (int(lo.size()) != nd || int(hi.size()) != nd) throw py::value_error("segscore: bad region box");
      for (int d = 0; d < nd; ++d) {
        if (lo[d] < 0 || hi[d] >= p.shape[d] || lo[d] > hi[d]) throw py::value_error("segscore: region box out of range");
        g.lo[d] = lo[d];
        g.hi[d] = hi[d];
      }
    }
    regs.push_back(std::move(g));
  }
  SurfaceOptions opt;
  opt.boundary = boundary == 0 ? Boundary::VoxelBorder : Boundary::CornerGrid;
  opt.connectivity = connectivity;
  opt.spacing = spacing.data();
  opt.ignore_label = ignore_label;
  opt.biou_width = biou_width;
  opt.biou_strict = biou_strict;
  opt.biou_unit_spacing = biou_unit_spacing;
  opt.threads = threads;
  std::vector<SurfaceResult> res;
  {
    py::gil_scoped_release nogil;
    res = surface_distances(p, r, regs, opt);
  }
  py::list out;
  for (auto& s : res) {
    out.append(py::make_tuple(to_numpy(std::move(s.d_pred)), to_numpy(std::move(s.w_pred)),
                              to_numpy(std::move(s.d_ref)), to_numpy(std::move(s.w_ref)), s.n_pred_voxels,
                              s.n_ref_voxels, s.biou_inter, s.biou_union));
  }
  return out;
}

// Weighted nearest-rank percentile of float64 (d, w) at p in [0, 1]; None
// when the numpy formulation must decide (see percentile.h), and for inputs
// that are not contiguous 1-D float64 (no silent copies).
py::object py_rank_percentile(const py::array& d, const py::array& w, double p) {
  auto usable = [](const py::array& a) {
    return a.ndim() == 1 && a.dtype().equal(py::dtype::of<double>()) && (a.flags() & py::array::c_style);
  };
  if (!usable(d) || !usable(w) || d.shape(0) != w.shape(0)) return py::none();
  const auto* pd = static_cast<const double*>(d.data());
  const auto* pw = static_cast<const double*>(w.data());
  const int64_t n = int64_t(d.shape(0));
  bool ok = false;
  double v;
  {
    py::gil_scoped_release nogil;
    v = rank_percentile(pd, pw, n, p, &ok);
  }
  if (!ok) return py::none();
  return py::float_(v);
}

// Bit-packed channel masks of a (C, *spatial) array into `out` (see pack_driver.h);
// returns (or of all codes, whether channels overlap).
py::tuple py_pack_channels(const py::array& x, py::array out, int64_t c0, int n, bool round_f32, int threads) {
  const ArrayView v = view_of(x, "x", kNumbers | kHalf);
  const ArrayView o = view_of(out, "out", kLabels);
  if (v.ndim < 2 || o.ndim != v.ndim - 1)
    throw py::value_error("segscore._cpu.pack_channels: out must have x's spatial shape");
  for (int d = 0; d < o.ndim; ++d)
    if (o.shape[d] != v.shape[d + 1]) throw py::value_error("segscore._cpu.pack_channels: out shape mismatch");
  if (!(out.flags() & py::array::c_style) || !out.writeable())
    throw py::value_error("segscore._cpu.pack_channels: out must be a writable C-contiguous array");
  void* optr = out.mutable_data();
  PackInfo info;
  {
    py::gil_scoped_release nogil;
    info = pack_channels(v, c0, n, round_f32, optr, o.dtype, threads);
  }
  return py::make_tuple(info.any_bits, info.overlap);
}

}  // namespace

PYBIND11_MODULE(_cpu, m) {
  m.doc() = "segscore CPU kernels (internal; use the segscore package API)";
  m.def("edt", &py_edt, py::arg("input"), py::arg("out"), py::arg("spacing"), py::arg("squared"),
        py::arg("multilabel"), py::arg("threads"));
  m.def("overlap_stats", &py_overlap_stats, py::arg("pred"), py::arg("ref"), py::arg("ignore_label"),
        py::arg("threads"));
  m.def("surface_distances", &py_surface_distances, py::arg("pred"), py::arg("ref"), py::kw_only(),
        py::arg("regions"), py::arg("boundary"), py::arg("connectivity"), py::arg("spacing"),
        py::arg("ignore_label") = -1, py::arg("biou_width") = -1.0, py::arg("biou_strict") = false,
        py::arg("biou_unit_spacing") = false, py::arg("threads") = 0,
        "Directed boundary distances and weights of each region (boundary 0: voxel border, 1: corner-grid "
        "surfels); a list of (d_pred, w_pred, d_ref, w_ref, n_pred_voxels, n_ref_voxels, biou_inter, "
        "biou_union) per region");
  m.def("pack_channels", &py_pack_channels, py::arg("x"), py::arg("out"), py::arg("c0"), py::arg("n"),
        py::arg("round_f32"), py::arg("threads") = 0,
        "Bit-pack channels [c0, c0 + n) of a (C, *spatial) array (value == 1) into out; (or of codes, overlap)");
  m.def("rank_percentile", &py_rank_percentile, py::arg("d"), py::arg("w"), py::arg("p"));
  m.def("default_threads", &default_threads);
  bind_calibration(m);
  bind_crps(m);
  bind_multirater(m);
  bind_components(m);
}

// pybind11 binding of the CPU core.  Thin on purpose: convert arrays to
// views (no copies, no dtype promotion), release the GIL, call the driver.
// Validation with user-facing messages happens in Python, before this.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>

#include "bindings.h"
#include "edt_driver.h"
#include "overlap_driver.h"
#include "percentile.h"
#include "surface_driver.h"
#include "thread_pool.h"

namespace py = pybind11;
using namespace segscore;

namespace {

DType dtype_of(const py::array& a) {
  const py::dtype dt = a.dtype();
  const char kind = dt.kind();
  const auto size = dt.itemsize();
  if (kind == 'b') return DType::Bool;
  if (kind == 'i') {
    switch (size) {
      case 1: return DType::I8;
      case 2: return DType::I16;
      case 4: return DType::I32;
      case 8: return DType::I64;
    }
  }
  if (kind == 'u') {
    switch (size) {
      case 1: return DType::U8;
      case 2: return DType::U16;
      case 4: return DType::U32;
      case 8: return DType::U64;
    }
  }
  if (kind == 'f') {
    if (size == 4) return DType::F32;
    if (size == 8) return DType::F64;
  }
  throw py::type_error("segscore: unsupported array dtype " + std::string(py::str(dt)));
}

ArrayView view_of(const py::array& a) {
  ArrayView v;
  fill_layout(v, a);
  v.dtype = dtype_of(a);
  return v;
}

template <typename T>
py::array_t<T> to_numpy(std::vector<T>&& v) {
  auto* heap = new std::vector<T>(std::move(v));
  py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>({py::ssize_t(heap->size())}, {py::ssize_t(sizeof(T))}, heap->data(), owner);
}

void py_edt(const py::array& in, py::array out, py::object spacing, bool squared, bool multilabel, int threads) {
  ArrayView v = view_of(in);
  ArrayView o = view_of(out);
  if (o.ndim != v.ndim) throw py::value_error("segscore._cpu.edt: out has the wrong number of dimensions");
  for (int d = 0; d < v.ndim; ++d)
    if (o.shape[d] != v.shape[d]) throw py::value_error("segscore._cpu.edt: out has the wrong shape");
  if (o.dtype != DType::F32 && o.dtype != DType::F64) throw py::type_error("segscore._cpu.edt: out must be float32/64");
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
  ArrayView p = view_of(pred), r = view_of(ref);
  if (p.ndim != r.ndim) throw py::value_error("segscore._cpu.overlap_stats: ndim mismatch");
  for (int d = 0; d < p.ndim; ++d)
    if (p.shape[d] != r.shape[d]) throw py::value_error("segscore._cpu.overlap_stats: shape mismatch");
  OverlapStats s;
  {
    py::gil_scoped_release nogil;
    s = overlap_stats(p, r, ignore_label, threads);
  }
  const int nd = p.ndim;
  auto rows = [&](std::vector<int64_t>&& v, int width) {
    py::array_t<int64_t> a = to_numpy(std::move(v));
    return a.reshape({py::ssize_t(a.size() / width), py::ssize_t(width)});
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

py::list py_surface_distances(const py::array& pred, const py::array& ref, const py::list& regions, int boundary,
                              int connectivity, std::vector<double> spacing, int64_t ignore_label,
                              double biou_width, bool biou_strict, bool biou_unit_spacing, int threads) {
  ArrayView p = view_of(pred), r = view_of(ref);
  const int nd = p.ndim;
  if (r.ndim != nd) throw py::value_error("segscore._cpu.surface_distances: ndim mismatch");
  for (int d = 0; d < nd; ++d)
    if (p.shape[d] != r.shape[d]) throw py::value_error("segscore._cpu.surface_distances: shape mismatch");
  if (int(spacing.size()) != nd) throw py::value_error("segscore._cpu.surface_distances: spacing length != ndim");
  std::vector<Region> regs;
  for (auto item : regions) {
    auto t = item.cast<py::tuple>();
    Region g;
    g.labels = t[0].cast<std::vector<int64_t>>();
    std::sort(g.labels.begin(), g.labels.end());
    auto lo = t[1].cast<std::vector<int64_t>>(), hi = t[2].cast<std::vector<int64_t>>();
    g.empty = t[3].cast<bool>();
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

}  // namespace

PYBIND11_MODULE(_cpu, m) {
  m.doc() = "segscore CPU kernels (internal; use the segscore package API)";
  m.def("edt", &py_edt, py::arg("input"), py::arg("out"), py::arg("spacing"), py::arg("squared"),
        py::arg("multilabel"), py::arg("threads"));
  m.def("overlap_stats", &py_overlap_stats, py::arg("pred"), py::arg("ref"), py::arg("ignore_label"),
        py::arg("threads"));
  m.def("surface_distances", &py_surface_distances, py::arg("pred"), py::arg("ref"), py::arg("regions"),
        py::arg("boundary"), py::arg("connectivity"), py::arg("spacing"), py::arg("ignore_label"),
        py::arg("biou_width"), py::arg("biou_strict"), py::arg("biou_unit_spacing"), py::arg("threads"));
  m.def("rank_percentile", &py_rank_percentile, py::arg("d"), py::arg("w"), py::arg("p"));
  m.def("default_threads", &default_threads);
  bind_calibration(m);
  bind_crps(m);
}

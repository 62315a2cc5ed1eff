// pybind11 binding of the connected-components driver.  Thin: take py::array (no copies,
// no dtype promotion), check what the driver relies on, release the GIL, call.  User-facing
// validation (dimensions, connectivity names, negative labels, NaN values) happens in
// python/segscore/lesion/components.py, partly from the flags returned here.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <vector>

#include "bindings.h"
#include "components_driver.h"

namespace py = pybind11;

namespace segscore {
namespace {

// A labelling kept as runs (label_runs): the lesion layer reads boxes, voxel counts, the
// overlap of two labellings and crops from the runs, and paints the whole map only when asked.
struct PyRuns {
  CcLabels cc;
  bool order_f = false;
  std::vector<py::ssize_t> shape;
};

// The labels of `cc` as a new int32 (int64 when n >= 2**31 - 1) array of `shape`, in C order
// or F order with order_f (the F-raster numbering writes the axis-reversed C raster).
py::array painted(const CcLabels& cc, const std::vector<py::ssize_t>& shape, bool order_f, int threads) {
  const int nd = int(shape.size());
  const bool wide = cc.n >= int64_t(2147483647);
  const py::dtype dt = wide ? py::dtype::of<int64_t>() : py::dtype::of<int32_t>();
  std::vector<py::ssize_t> strides(static_cast<size_t>(nd));
  py::ssize_t s = dt.itemsize();
  for (int i = 0; i < nd; ++i) {
    const int d = order_f ? i : nd - 1 - i;  // fastest axis first
    strides[size_t(d)] = s;
    s *= shape[size_t(d)];
  }
  py::array out(dt, shape, strides);
  const ArrayView o = view_of(out, "out", kLabels);
  {
    py::gil_scoped_release nogil;
    paint_components(cc, o, true, threads);
  }
  return out;
}

CcOptions options(int connectivity, bool binary, bool order_f, int64_t min_size, int threads) {
  CcOptions opt;
  opt.connectivity = connectivity;
  opt.binary = binary;
  opt.order_f = order_f;
  opt.min_size = min_size;
  opt.threads = threads;
  return opt;
}

// (runs, negative)
py::tuple py_label_runs(const py::array& mask, int connectivity, bool binary, bool order_f, int64_t min_size,
                        int threads) {
  const ArrayView v = view_of(mask, "mask", kLabels);
  if (v.ndim != 2 && v.ndim != 3) throw py::value_error("segscore._cpu.label_runs: mask must be 2-D or 3-D");
  const CcOptions opt = options(connectivity, binary, order_f, min_size, threads);
  auto runs = std::make_unique<PyRuns>();
  runs->order_f = order_f;
  for (int d = 0; d < v.ndim; ++d) runs->shape.push_back(py::ssize_t(v.shape[d]));
  {
    py::gil_scoped_release nogil;
    runs->cc = label_components(v, opt);
  }
  const bool negative = runs->cc.negative;
  return py::make_tuple(py::cast(std::move(runs)), negative);
}

// (labels, n, negative): labels int32 (int64 when n >= 2**31 - 1), in C order, or F order
// with order_f (the F-raster numbering writes the axis-reversed C raster).
py::tuple py_connected_components(const py::array& mask, int connectivity, bool binary, bool order_f,
                                  int64_t min_size, int threads) {
  const ArrayView v = view_of(mask, "mask", kLabels);
  if (v.ndim != 2 && v.ndim != 3) throw py::value_error("segscore._cpu.connected_components: mask must be 2-D or 3-D");
  const CcOptions opt = options(connectivity, binary, order_f, min_size, threads);
  CcLabels cc;
  {
    py::gil_scoped_release nogil;
    cc = label_components(v, opt);
  }
  std::vector<py::ssize_t> shape;
  for (int d = 0; d < v.ndim; ++d) shape.push_back(py::ssize_t(v.shape[d]));
  py::array out = painted(cc, shape, order_f, threads);
  return py::make_tuple(out, cc.n, cc.negative);
}

py::dict py_component_stats(const py::array& labels, const py::object& values, int64_t id_limit, int threads) {
  const ArrayView l = view_of(labels, "labels", kLabels);
  ArrayView v;
  const ArrayView* pv = nullptr;
  if (!values.is_none()) {
    v = view_of(values.cast<py::array>(), "values", kFloats);
    if (v.ndim != l.ndim) throw py::value_error("segscore._cpu.component_stats: values ndim mismatch");
    check_same_shape(l, v, l.ndim, "component_stats", "values");
    pv = &v;
  }
  CcStats st;
  {
    py::gil_scoped_release nogil;
    st = component_stats(l, pv, id_limit, threads);
  }
  const auto n = py::ssize_t(st.n), nd = py::ssize_t(st.ndim);
  py::dict d;
  d["n"] = st.n;
  d["voxels"] = to_numpy(std::move(st.voxels));
  d["lo"] = to_numpy(std::move(st.lo), {n, nd});
  d["hi"] = to_numpy(std::move(st.hi), {n, nd});
  d["mean_index"] = to_numpy(std::move(st.mean_index), {n, nd});
  if (pv) {
    d["max"] = to_numpy(std::move(st.vmax));
    d["sum"] = to_numpy(std::move(st.vsum));
    d["argmax"] = to_numpy(std::move(st.argmax));
  }
  d["negative"] = st.negative;
  d["too_large"] = st.too_large;
  d["nan"] = st.nan;
  return d;
}

py::dict py_overlap_table(const py::array& pred, const py::array& ref, int64_t id_limit, int threads) {
  const ArrayView p = view_of(pred, "pred", kLabels), r = view_of(ref, "ref", kLabels);
  if (p.ndim != r.ndim) throw py::value_error("segscore._cpu.overlap_table: ndim mismatch");
  check_same_shape(p, r, p.ndim, "overlap_table", "ref");
  CcOverlap t;
  {
    py::gil_scoped_release nogil;
    t = overlap_table(p, r, id_limit, threads);
  }
  const auto k = py::ssize_t(t.pairs.size() / 3);
  py::dict d;
  d["pairs"] = to_numpy(std::move(t.pairs), {k, 3});
  d["pred_voxels"] = to_numpy(std::move(t.pred_voxels));
  d["ref_voxels"] = to_numpy(std::move(t.ref_voxels));
  d["negative"] = t.negative;
  d["too_large"] = t.too_large;
  return d;
}

}  // namespace

void bind_components(py::module_& m) {
  py::class_<PyRuns>(m, "ComponentRuns",
                     "A connected-component labelling kept as runs (from label_runs): n, boxes, overlap, crops")
      .def_property_readonly("n", [](const PyRuns& r) { return r.cc.n; })
      .def_property_readonly("shape", [](const PyRuns& r) { return py::tuple(py::cast(r.shape)); })
      .def_property_readonly("walk_f", [](const PyRuns& r) { return r.cc.walk_f; })
      .def_property_readonly("order_f", [](const PyRuns& r) { return r.order_f; })
      .def(
          "stats",
          [](const PyRuns& r) {
            CcRunStats st;
            {
              py::gil_scoped_release nogil;
              st = run_stats(r.cc);
            }
            const auto rows = py::ssize_t(st.n + 1), nd = py::ssize_t(st.ndim);
            return py::make_tuple(to_numpy(std::move(st.voxels)), to_numpy(std::move(st.lo), {rows, nd}),
                                  to_numpy(std::move(st.hi), {rows, nd}));
          },
          "(voxels, lo, hi) per id, row 0 unused; inclusive boxes (lo 0, hi -1 for an empty id)")
      .def(
          "paint", [](const PyRuns& r, int threads) { return painted(r.cc, r.shape, r.order_f, threads); },
          py::arg("threads"), "The label map (int32, C order; F order with order_f)")
      .def(
          "paint_box",
          [](const PyRuns& r, const py::array& out, const std::vector<int64_t>& lo, const std::vector<int64_t>& hi,
             const std::vector<int64_t>& ids, int64_t value) {
            const ArrayView o = view_of(out, "out", kLabels);
            if (!out.writeable()) throw py::value_error("segscore._cpu.ComponentRuns.paint_box: out is read-only");
            if (int(lo.size()) != r.cc.ndim || int(hi.size()) != r.cc.ndim)
              throw py::value_error("segscore._cpu.ComponentRuns.paint_box: lo / hi need one entry per axis");
            py::gil_scoped_release nogil;
            paint_box(r.cc, lo.data(), hi.data(), ids, value, o);
          },
          py::arg("out"), py::arg("lo"), py::arg("hi"), py::arg("ids"), py::arg("value"),
          "Write the ids (ids empty) or `value` (ids listed) of the box lo..hi (inclusive) into out; "
          "other voxels untouched");
  m.def("label_runs", &py_label_runs, py::arg("mask"), py::arg("connectivity"), py::arg("binary"),
        py::arg("order_f"), py::arg("min_size"), py::arg("threads"),
        "Connected components of a 2-D / 3-D mask kept as runs: (ComponentRuns, negative)");
  m.def(
      "runs_overlap",
      [](const PyRuns& a, const PyRuns& b, int threads) {
        if (a.shape != b.shape) throw py::value_error("segscore._cpu.runs_overlap: shape mismatch");
        std::vector<int64_t> pairs;
        {
          py::gil_scoped_release nogil;
          pairs = run_overlap(a.cc, b.cc, threads);
        }
        const auto k = py::ssize_t(pairs.size() / 3);
        return to_numpy(std::move(pairs), {k, 3});
      },
      py::arg("pred"), py::arg("ref"), py::arg("threads"),
      "(pred id, ref id, count) rows of two labellings walked in the same raster, sorted");
  m.def("connected_components", &py_connected_components, py::arg("mask"), py::arg("connectivity"),
        py::arg("binary"), py::arg("order_f"), py::arg("min_size"), py::arg("threads"),
        "Connected components of a 2-D / 3-D mask (connectivity 6, 18 or 26; 2-D as one slice): "
        "(labels, n, negative)");
  m.def("component_stats", &py_component_stats, py::arg("labels"), py::arg("values"), py::arg("id_limit"),
        py::arg("threads"),
        "Per-id voxels, box, mean index and (values) max / sum / C-order argmax of a label map");
  m.def("overlap_table", &py_overlap_table, py::arg("pred"), py::arg("ref"), py::arg("id_limit"),
        py::arg("threads"),
        "(pred id, ref id, count) triples of voxels with both ids nonzero, and each map's voxels per id");
}

}  // namespace segscore

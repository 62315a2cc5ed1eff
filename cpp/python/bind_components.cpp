// pybind11 binding of the connected-components driver.  Thin: take py::array (no copies,
// no dtype promotion), check what the driver relies on, release the GIL, call.  User-facing
// validation (dimensions, connectivity names, negative labels, NaN values) happens in
// python/segscore/lesion/components.py, partly from the flags returned here.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <vector>

#include "bindings.h"
#include "components_driver.h"

namespace py = pybind11;

namespace segscore {
namespace {

// (labels, n, negative): labels int32 (int64 when n >= 2**31 - 1), in C order, or F order
// with order_f (the F-raster numbering writes the axis-reversed C raster).
py::tuple py_connected_components(const py::array& mask, int connectivity, bool binary, bool order_f,
                                  int64_t min_size, int threads) {
  const ArrayView v = view_of(mask, "mask", kLabels);
  if (v.ndim != 2 && v.ndim != 3) throw py::value_error("segscore._cpu.connected_components: mask must be 2-D or 3-D");
  CcOptions opt;
  opt.connectivity = connectivity;
  opt.binary = binary;
  opt.order_f = order_f;
  opt.min_size = min_size;
  opt.threads = threads;
  CcLabels cc;
  {
    py::gil_scoped_release nogil;
    cc = label_components(v, opt);
  }
  const bool wide = cc.n >= int64_t(2147483647);
  const py::dtype dt = wide ? py::dtype::of<int64_t>() : py::dtype::of<int32_t>();
  std::vector<py::ssize_t> shape(size_t(v.ndim)), strides(size_t(v.ndim));
  py::ssize_t s = dt.itemsize();
  for (int i = 0; i < v.ndim; ++i) {
    const int d = order_f ? i : v.ndim - 1 - i;  // fastest axis first
    shape[size_t(d)] = py::ssize_t(v.shape[d]);
    strides[size_t(d)] = s;
    s *= py::ssize_t(v.shape[d]);
  }
  py::array out(dt, shape, strides);
  const ArrayView o = view_of(out, "out", kLabels);
  {
    py::gil_scoped_release nogil;
    paint_components(cc, o, order_f, threads);
  }
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

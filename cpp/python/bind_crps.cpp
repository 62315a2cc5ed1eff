// pybind11 binding of the CRPS driver.  Thin: take py::array (no copies, no dtype
// promotion), check what the driver relies on, release the GIL, call.  User-facing
// validation (shapes, sigma < 0, broadcasting) happens in
// python/segscore/probabilistic/crps.py.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "bindings.h"
#include "crps_driver.h"

namespace py = pybind11;

namespace segscore {
namespace {

// The C-contiguous float64 output, shaped like `like`.
double* out_ptr(py::array& out, const ArrayView& like, int ndim) {
  const ArrayView o = view_of(out, "out", kFloats);
  if (o.dtype != DType::F64) throw py::type_error("segscore._cpu: out must be float64");
  if (!(out.flags() & py::array::c_style)) throw py::value_error("segscore._cpu: out must be C-contiguous");
  if (!out.writeable()) throw py::value_error("segscore._cpu: out is read-only");
  if (o.ndim != ndim) throw py::value_error("segscore._cpu: out has the wrong number of dimensions");
  check_same_shape(like, o, ndim, "crps", "out");
  return static_cast<double*>(out.mutable_data());
}

void py_crps_gaussian(const py::array& obs, const py::array& mu, const py::array& sigma, py::array out,
                      int threads) {
  const ArrayView o = view_of(obs, "obs", kFloats), m = view_of(mu, "mu", kFloats),
                  s = view_of(sigma, "sigma", kFloats);
  if (m.ndim != o.ndim || s.ndim != o.ndim) throw py::value_error("segscore._cpu.crps_gaussian: ndim mismatch");
  check_same_shape(o, m, o.ndim, "crps_gaussian", "mu");
  check_same_shape(o, s, o.ndim, "crps_gaussian", "sigma");
  double* po = out_ptr(out, o, o.ndim);
  py::gil_scoped_release nogil;
  crps_gaussian(o, m, s, po, threads);
}

void py_crps_ensemble(const py::array& obs, const py::array& members, const py::object& weights, py::array out,
                      int threads) {
  const ArrayView o = view_of(obs, "obs", kFloats), m = view_of(members, "members", kFloats);
  if (m.ndim != o.ndim + 1) throw py::value_error("segscore._cpu.crps_ensemble: members must have obs.ndim + 1 dims");
  check_same_shape(o, m, o.ndim, "crps_ensemble", "members");
  ArrayView w;
  const ArrayView* pw = nullptr;
  if (!weights.is_none()) {
    w = view_of(weights.cast<py::array>(), "weights", kFloats);
    if (w.ndim != m.ndim) throw py::value_error("segscore._cpu.crps_ensemble: weights ndim mismatch");
    check_same_shape(m, w, m.ndim, "crps_ensemble", "weights");
    pw = &w;
  }
  double* po = out_ptr(out, o, o.ndim);
  py::gil_scoped_release nogil;
  crps_ensemble(o, m, pw, po, threads);
}

}  // namespace

void bind_crps(py::module_& m) {
  m.def("crps_gaussian", &py_crps_gaussian, py::arg("obs"), py::arg("mu"), py::arg("sigma"), py::arg("out"),
        py::arg("threads"),
        "CRPS of N(mu, sigma^2) against obs, elementwise (arrays of one shape; float32/64)");
  m.def("crps_ensemble", &py_crps_ensemble, py::arg("obs"), py::arg("members"), py::arg("weights"),
        py::arg("out"), py::arg("threads"),
        "CRPS of ensembles (member axis last) against obs, properscoring 0.1 semantics");
}

}  // namespace segscore

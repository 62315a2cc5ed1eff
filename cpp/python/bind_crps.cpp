// pybind11 binding of the CRPS driver.  Thin: take py::array (no copies, no dtype
// promotion), check what the driver relies on, release the GIL, call.  User-facing
// validation (shapes, sigma < 0, broadcasting) happens in python/segscore/crps.py.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "bindings.h"
#include "crps_driver.h"

namespace py = pybind11;

namespace segscore {
namespace {

ArrayView float_view(const py::array& a, const char* what) {
  const py::dtype dt = a.dtype();
  ArrayView v;
  if (dt.kind() == 'f' && dt.itemsize() == 4)
    v.dtype = DType::F32;
  else if (dt.kind() == 'f' && dt.itemsize() == 8)
    v.dtype = DType::F64;
  else
    throw py::type_error(std::string("segscore._cpu: ") + what + " must be float32 or float64, got " +
                         std::string(py::str(dt)));
  fill_layout(v, a);
  return v;
}

double* out_ptr(py::array& out, const ArrayView& like, int ndim) {
  if (out.dtype().kind() != 'f' || out.itemsize() != 8) throw py::type_error("segscore._cpu: out must be float64");
  if (!(out.flags() & py::array::c_style)) throw py::value_error("segscore._cpu: out must be C-contiguous");
  if (!out.writeable()) throw py::value_error("segscore._cpu: out is read-only");
  if (out.ndim() != ndim) throw py::value_error("segscore._cpu: out has the wrong number of dimensions");
  for (int d = 0; d < ndim; ++d)
    if (out.shape(d) != like.shape[d]) throw py::value_error("segscore._cpu: out has the wrong shape");
  return static_cast<double*>(out.mutable_data());
}

void same_shape(const ArrayView& a, const ArrayView& b, int ndim, const char* what) {
  if (b.ndim < ndim) throw py::value_error(std::string("segscore._cpu: ") + what + " has too few dimensions");
  for (int d = 0; d < ndim; ++d)
    if (a.shape[d] != b.shape[d]) throw py::value_error(std::string("segscore._cpu: ") + what + " shape mismatch");
}

void py_crps_gaussian(const py::array& obs, const py::array& mu, const py::array& sigma, py::array out,
                      int threads) {
  const ArrayView o = float_view(obs, "obs"), m = float_view(mu, "mu"), s = float_view(sigma, "sigma");
  if (m.ndim != o.ndim || s.ndim != o.ndim) throw py::value_error("segscore._cpu.crps_gaussian: ndim mismatch");
  same_shape(o, m, o.ndim, "mu");
  same_shape(o, s, o.ndim, "sigma");
  double* po = out_ptr(out, o, o.ndim);
  py::gil_scoped_release nogil;
  crps_gaussian(o, m, s, po, threads);
}

void py_crps_ensemble(const py::array& obs, const py::array& members, const py::object& weights, py::array out,
                      int threads) {
  const ArrayView o = float_view(obs, "obs"), m = float_view(members, "members");
  if (m.ndim != o.ndim + 1) throw py::value_error("segscore._cpu.crps_ensemble: members must have obs.ndim + 1 dims");
  same_shape(o, m, o.ndim, "members");
  ArrayView w;
  const ArrayView* pw = nullptr;
  if (!weights.is_none()) {
    w = float_view(weights.cast<py::array>(), "weights");
    if (w.ndim != m.ndim) throw py::value_error("segscore._cpu.crps_ensemble: weights ndim mismatch");
    same_shape(m, w, m.ndim, "weights");
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

// pybind11 binding of the calibration binning pass.  Thin: take py::array
// (no copies, no dtype promotion; float16 is read by its bits in C++), check
// what the driver relies on, release the GIL, call.  User-facing validation
// (shapes, classes on class_axis, NaN / range, label range) happens in
// python/segscore/calibration.py, partly from the counts returned here.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "bindings.h"
#include "calibration_driver.h"

namespace py = pybind11;

namespace segscore {
namespace {

bool native_order(const py::dtype& dt) {
  const char bo = dt.byteorder();
  if (bo == '=' || bo == '|') return true;
  const uint16_t one = 1;
  const bool little = *reinterpret_cast<const uint8_t*>(&one) == 1;
  return little ? bo == '<' : bo == '>';
}

ProbView prob_view(const py::array& a) {
  const py::dtype dt = a.dtype();
  if (!native_order(dt)) throw py::type_error("segscore._cpu: probs must be in native byte order");
  ProbView v;
  if (dt.kind() == 'f' && dt.itemsize() == 2)
    v.type = ProbType::F16;
  else if (dt.kind() == 'f' && dt.itemsize() == 4)
    v.type = ProbType::F32;
  else if (dt.kind() == 'f' && dt.itemsize() == 8)
    v.type = ProbType::F64;
  else
    throw py::type_error("segscore._cpu: probs must be float16, float32 or float64, got " + std::string(py::str(dt)));
  fill_layout(v, a);
  return v;
}

ArrayView label_view(const py::array& a, const char* what) {
  const py::dtype dt = a.dtype();
  if (!native_order(dt)) throw py::type_error(std::string("segscore._cpu: ") + what + " must be in native byte order");
  ArrayView v;
  const char kind = dt.kind();
  const auto size = dt.itemsize();
  if (kind == 'b')
    v.dtype = DType::Bool;
  else if (kind == 'i' && size == 1)
    v.dtype = DType::I8;
  else if (kind == 'i' && size == 2)
    v.dtype = DType::I16;
  else if (kind == 'i' && size == 4)
    v.dtype = DType::I32;
  else if (kind == 'i' && size == 8)
    v.dtype = DType::I64;
  else if (kind == 'u' && size == 1)
    v.dtype = DType::U8;
  else if (kind == 'u' && size == 2)
    v.dtype = DType::U16;
  else if (kind == 'u' && size == 4)
    v.dtype = DType::U32;
  else if (kind == 'u' && size == 8)
    v.dtype = DType::U64;
  else
    throw py::type_error(std::string("segscore._cpu: ") + what + " must be an integer or bool array, got " +
                         std::string(py::str(dt)));
  fill_layout(v, a);
  return v;
}

template <typename T>
py::array_t<T> to_numpy(std::vector<T>&& v, std::vector<py::ssize_t> shape) {
  auto* heap = new std::vector<T>(std::move(v));
  py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  std::vector<py::ssize_t> strides(shape.size());
  py::ssize_t s = sizeof(T);
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = s;
    s *= shape[i];
  }
  return py::array_t<T>(shape, strides, heap->data(), owner);
}

// Everything the pass needs besides the arrays; kept alive during the call.
struct Setup {
  CalibInput in;
  ArrayView mask;
  CalibOptions opt;
  std::vector<double> edges;
};

void setup(Setup& s, const py::array& probs, const py::array& target, const py::object& mask, int class_axis,
           const py::object& ignore_label, const py::array& edges, int right_closed, int below, int above,
           double cand_offset, double cand_scale, double cand_tol, bool exact_floor, int n_classes, bool logits,
           int mode, int positive, bool round_f32, bool clip, double clip_lo, double clip_hi, int threads) {
  s.in.probs = prob_view(probs);
  s.in.target = label_view(target, "target");
  s.in.class_axis = class_axis;
  if (class_axis >= 0) {
    if (s.in.probs.ndim != s.in.target.ndim + 1 || class_axis >= s.in.probs.ndim)
      throw py::value_error("segscore._cpu: probs must have target.ndim + 1 dimensions with a class axis");
    if (s.in.probs.shape[class_axis] != n_classes)
      throw py::value_error("segscore._cpu: n_classes does not match the class axis");
  } else if (s.in.probs.ndim != s.in.target.ndim || n_classes != 0) {
    throw py::value_error("segscore._cpu: a binary probs array must have the target's shape (n_classes = 0)");
  }
  if (!mask.is_none()) {
    s.mask = label_view(mask.cast<py::array>(), "mask");
    if (s.mask.ndim != s.in.target.ndim) throw py::value_error("segscore._cpu: mask shape mismatch");
    s.in.mask = &s.mask;
  }
  if (!ignore_label.is_none()) {
    s.in.has_ignore = true;
    s.in.ignore_label = ignore_label.cast<int64_t>();
  }
  if (edges.ndim() != 1 || edges.dtype().kind() != 'f' || edges.itemsize() != 8)
    throw py::type_error("segscore._cpu: edges must be a 1-d float64 array");
  const auto* e = static_cast<const double*>(edges.data());
  const py::ssize_t es = edges.strides(0) / 8;
  for (py::ssize_t i = 0; i < edges.shape(0); ++i) s.edges.push_back(e[i * es]);
  if (s.edges.size() < 2) throw py::value_error("segscore._cpu: need at least two bin edges");
  CalibParams& k = s.opt.params;
  k.edges = s.edges.data();
  k.n_bins = int32_t(s.edges.size() - 1);
  k.right_closed = right_closed;
  k.below = below;
  k.above = above;
  k.cand_offset = cand_offset;
  k.cand_scale = cand_scale;
  k.cand_tol = cand_tol;
  k.exact_floor = exact_floor ? 1 : 0;
  k.n_classes = n_classes;
  k.logits = logits ? 1 : 0;
  k.mode = mode;
  k.positive = positive;
  k.round_f32 = round_f32 ? 1 : 0;
  k.clip = clip ? 1 : 0;
  k.clip_lo = clip_lo;
  k.clip_hi = clip_hi;
  s.opt.threads = threads;
}

py::dict py_calibration_stats(const py::array& probs, const py::array& target, const py::object& mask,
                              int class_axis, const py::object& ignore_label, const py::array& edges,
                              int right_closed, int below, int above, double cand_offset, double cand_scale,
                              double cand_tol, bool exact_floor, int n_classes, bool logits, int mode, int positive,
                              bool round_f32, bool clip, double clip_lo, double clip_hi, bool want_scores,
                              int brier_sum_form, int threads) {
  Setup s;
  setup(s, probs, target, mask, class_axis, ignore_label, edges, right_closed, below, above, cand_offset,
        cand_scale, cand_tol, exact_floor, n_classes, logits, mode, positive, round_f32, clip, clip_lo, clip_hi,
        threads);
  s.opt.want_scores = want_scores;
  s.opt.brier_sum_form = brier_sum_form;
  CalibStats r;
  {
    py::gil_scoped_release nogil;
    r = calibration_stats(s.in, s.opt);
  }
  const std::vector<py::ssize_t> shape{r.streams, r.slots};
  py::dict d;
  d["count"] = to_numpy(std::move(r.count), shape);
  d["correct"] = to_numpy(std::move(r.correct), shape);
  d["sum_conf"] = to_numpy(std::move(r.sum_conf), shape);
  d["brier_sum"] = r.brier_sum;
  d["nll_sum"] = r.nll_sum;
  d["scored"] = r.scored;
  d["voxels"] = r.voxels;
  d["invalid"] = r.invalid;
  d["target_min"] = r.target_min;
  d["target_max"] = r.target_max;
  return d;
}

py::dict py_calibration_confidences(const py::array& probs, const py::array& target, const py::object& mask,
                                    int class_axis, const py::object& ignore_label, int n_classes, bool logits,
                                    int mode, int positive, bool round_f32, bool clip, double clip_lo,
                                    double clip_hi, int threads) {
  Setup s;
  py::array_t<double> edges(std::vector<py::ssize_t>{2});
  edges.mutable_at(0) = 0.0;
  edges.mutable_at(1) = 1.0;
  setup(s, probs, target, mask, class_axis, ignore_label, edges, 0, kCalibClamp, kCalibClamp, 0.0, 0.0, 0.0, false,
        n_classes, logits, mode, positive, round_f32, clip, clip_lo, clip_hi, threads);
  CalibConfidences r;
  {
    py::gil_scoped_release nogil;
    r = calibration_confidences(s.in, s.opt);
  }
  const std::vector<py::ssize_t> shape{r.streams, py::ssize_t(r.n)};
  py::dict d;
  d["values"] = to_numpy(std::move(r.values), shape);
  d["voxels"] = r.voxels;
  d["invalid"] = r.invalid;
  d["target_min"] = r.target_min;
  d["target_max"] = r.target_max;
  return d;
}

}  // namespace

void bind_calibration(py::module_& m) {
  m.def("calibration_stats", &py_calibration_stats, py::arg("probs"), py::arg("target"), py::arg("mask"),
        py::arg("class_axis"), py::arg("ignore_label"), py::arg("edges"), py::arg("right_closed"),
        py::arg("below"), py::arg("above"), py::arg("cand_offset"), py::arg("cand_scale"), py::arg("cand_tol"),
        py::arg("exact_floor"), py::arg("n_classes"),
        py::arg("logits"), py::arg("mode"), py::arg("positive"), py::arg("round_f32"), py::arg("clip"),
        py::arg("clip_lo"), py::arg("clip_hi"), py::arg("want_scores"), py::arg("brier_sum_form"),
        py::arg("threads"),
        "One pass of calibration binning: per-stream, per-bin count / correct / sum of confidences");
  m.def("calibration_confidences", &py_calibration_confidences, py::arg("probs"), py::arg("target"),
        py::arg("mask"), py::arg("class_axis"), py::arg("ignore_label"), py::arg("n_classes"), py::arg("logits"),
        py::arg("mode"), py::arg("positive"), py::arg("round_f32"), py::arg("clip"), py::arg("clip_lo"),
        py::arg("clip_hi"), py::arg("threads"),
        "Confidences of every counted voxel (streams x n, voxel order), for equal-mass bin edges");
}

}  // namespace segscore

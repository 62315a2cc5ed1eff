// pybind11 binding of the calibration binning pass.  Thin: take py::array (no copies, no
// dtype promotion; float16 is read by its bits in C++), check what the driver relies on,
// release the GIL, call.  Every argument after target is keyword-only, named as the
// CalibParams field it sets.  User-facing validation (shapes, classes on class_axis, NaN /
// range, label range) happens in python/segscore/calibration/functional.py, partly from the
// counts returned here.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "bindings.h"
#include "calibration_driver.h"

namespace py = pybind11;

namespace segscore {
namespace {

// The inputs of one pass, the binning parameters that do not depend on the edges, and the
// storage they point to (kept alive during the call).
struct Setup {
  CalibInput in;
  ArrayView mask;
  CalibOptions opt;
  std::vector<double> edges;
};

// probs, target, mask, class_axis, ignore_label and the input-side parameters.
void set_inputs(Setup& s, const py::array& probs, const py::array& target, const py::object& mask,
                int class_axis, const py::object& ignore_label, int n_classes, bool logits, int mode, int positive,
                int round_f32, bool clip, double clip_lo, double clip_hi, int threads) {
  s.in.probs = view_of(probs, "probs", kFloats | kHalf);
  s.in.target = view_of(target, "target", kLabels);
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
    s.mask = view_of(mask.cast<py::array>(), "mask", kLabels);
    if (s.mask.ndim != s.in.target.ndim) throw py::value_error("segscore._cpu: mask shape mismatch");
    s.in.mask = &s.mask;
  }
  if (!ignore_label.is_none()) {
    s.in.has_ignore = true;
    s.in.ignore_label = ignore_label.cast<int64_t>();
  }
  CalibParams& k = s.opt.params;
  k.n_classes = n_classes;
  k.logits = logits ? 1 : 0;
  k.mode = mode;
  k.positive = positive;
  if (round_f32 < 0 || round_f32 > 2)
    throw py::value_error("segscore._cpu: round_f32 is 0, 1 (float32) or 2 (float16 sigmoid)");
  k.round_f32 = round_f32;
  k.clip = clip ? 1 : 0;
  k.clip_lo = clip_lo;
  k.clip_hi = clip_hi;
  s.opt.threads = threads;
}

void set_edges(Setup& s, const py::array& edges) {
  const ArrayView e = view_of(edges, "edges", kFloats);
  if (e.ndim != 1 || e.dtype != DType::F64) throw py::type_error("segscore._cpu: edges must be a 1-d float64 array");
  const auto* p = static_cast<const double*>(e.data);
  for (int64_t i = 0; i < e.shape[0]; ++i) s.edges.push_back(p[i * e.strides[0]]);
  if (s.edges.size() < 2) throw py::value_error("segscore._cpu: need at least two bin edges");
  s.opt.params.edges = s.edges.data();
  s.opt.params.n_bins = int32_t(s.edges.size() - 1);
}

py::dict py_calibration_stats(const py::array& probs, const py::array& target, const py::object& mask,
                              int class_axis, const py::object& ignore_label, const py::array& edges,
                              int right_closed, int below, int above, double cand_offset, double cand_scale,
                              double cand_tol, bool exact_floor, int n_classes, bool logits, int mode, int positive,
                              int round_f32, bool clip, double clip_lo, double clip_hi, bool want_scores,
                              int brier_sum_form, int threads, int seq_bits, const py::object& seq_init) {
  Setup s;
  set_inputs(s, probs, target, mask, class_axis, ignore_label, n_classes, logits, mode, positive, round_f32, clip,
             clip_lo, clip_hi, threads);
  set_edges(s, edges);
  CalibParams& k = s.opt.params;
  k.right_closed = right_closed;
  k.below = below;
  k.above = above;
  k.cand_offset = cand_offset;
  k.cand_scale = cand_scale;
  k.cand_tol = cand_tol;
  k.exact_floor = exact_floor ? 1 : 0;
  s.opt.want_scores = want_scores;
  s.opt.brier_sum_form = brier_sum_form;
  if (seq_bits != 0 && seq_bits != 32 && seq_bits != 64)
    throw py::value_error("segscore._cpu: seq_bits must be 0 (float64 sums), 32 or 64 (sequential sums)");
  s.opt.seq_bits = seq_bits;
  std::vector<double> init;
  if (!seq_init.is_none()) {
    const ArrayView v = view_of(seq_init.cast<py::array>(), "seq_init", kFloats);
    const int32_t want = calib_streams(k) * calib_slots(k);
    if (v.ndim != 1 || v.dtype != DType::F64 || v.shape[0] != want)
      throw py::value_error("segscore._cpu: seq_init must be a 1-d float64 array of streams * slots values");
    const auto* p = static_cast<const double*>(v.data);
    for (int64_t i = 0; i < v.shape[0]; ++i) init.push_back(p[i * v.strides[0]]);
    s.opt.seq_init = init.data();
  }
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
                                    int mode, int positive, int round_f32, bool clip, double clip_lo,
                                    double clip_hi, int threads) {
  Setup s;
  set_inputs(s, probs, target, mask, class_axis, ignore_label, n_classes, logits, mode, positive, round_f32, clip,
             clip_lo, clip_hi, threads);
  s.edges = {0.0, 1.0};  // one bin, never read: only the confidences are collected
  CalibParams& k = s.opt.params;
  k.edges = s.edges.data();
  k.n_bins = 1;
  k.right_closed = 0;
  k.below = k.above = kCalibClamp;
  k.cand_offset = k.cand_scale = k.cand_tol = 0.0;
  k.exact_floor = 0;
  CalibConfidences r;
  {
    py::gil_scoped_release nogil;
    r = calibration_confidences(s.in, s.opt);
  }
  py::dict d;
  d["values"] = to_numpy(std::move(r.values), {r.streams, py::ssize_t(r.n)});
  d["voxels"] = r.voxels;
  d["invalid"] = r.invalid;
  d["target_min"] = r.target_min;
  d["target_max"] = r.target_max;
  return d;
}

}  // namespace

void bind_calibration(py::module_& m) {
  m.def("calibration_stats", &py_calibration_stats, py::arg("probs"), py::arg("target"), py::kw_only(),
        py::arg("mask") = py::none(), py::arg("class_axis"), py::arg("ignore_label") = py::none(), py::arg("edges"),
        py::arg("right_closed"), py::arg("below"), py::arg("above"), py::arg("cand_offset"), py::arg("cand_scale"),
        py::arg("cand_tol"), py::arg("exact_floor"), py::arg("n_classes"), py::arg("logits"), py::arg("mode"),
        py::arg("positive"), py::arg("round_f32"), py::arg("clip"), py::arg("clip_lo"), py::arg("clip_hi"),
        py::arg("want_scores") = false, py::arg("brier_sum_form") = 0, py::arg("threads") = 0,
        py::arg("seq_bits") = 0, py::arg("seq_init") = py::none(),
        "One pass of calibration binning: per-stream, per-bin count / correct / sum of confidences "
        "(keywords: the CalibParams fields of segscore/calibration.h; seq_bits / seq_init: the "
        "sequential float32 / float64 bin sums of CalibOptions)");
  m.def("calibration_confidences", &py_calibration_confidences, py::arg("probs"), py::arg("target"),
        py::kw_only(), py::arg("mask") = py::none(), py::arg("class_axis"), py::arg("ignore_label") = py::none(),
        py::arg("n_classes"), py::arg("logits"), py::arg("mode"), py::arg("positive"), py::arg("round_f32"),
        py::arg("clip"), py::arg("clip_lo"), py::arg("clip_hi"), py::arg("threads") = 0,
        "Confidences of every counted voxel (streams x n, logical voxel order), for equal-mass bin edges");
}

}  // namespace segscore

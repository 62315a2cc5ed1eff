// pybind11 binding of the one multi-rater pass.  Thin: take py::arrays (no copies, no
// dtype promotion), check what the driver relies on, release the GIL, call.  User-facing
// validation (shapes, label ranges, probability ranges) happens in
// python/segscore/probabilistic/onepass.py.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>

#include "bindings.h"
#include "curvas_driver.h"
#include "multirater_driver.h"
#include "segscore/multirater.h"

namespace py = pybind11;

namespace segscore {
namespace {

// The views of a pass's raters (at least one), prediction (None: absent) and probability channels.
struct PassViews {
  std::vector<ArrayView> r, pr;
  ArrayView p;
  bool has_pred = false;
  const ArrayView* pred() const { return has_pred ? &p : nullptr; }
};

PassViews pass_views(const std::vector<py::array>& raters, const py::object& pred,
                     const std::vector<py::array>& probs, const std::string& fn) {
  PassViews v;
  for (const auto& a : raters) v.r.push_back(view_of(a, "raters[k]", kLabels));
  if (v.r.empty()) throw py::value_error("segscore._cpu." + fn + ": give at least one rater");
  if (!pred.is_none()) {
    v.p = view_of(pred.cast<py::array>(), "pred", kLabels);
    v.has_pred = true;
  }
  for (const auto& a : probs) v.pr.push_back(view_of(a, "probability channel", kFloats));
  return v;
}

// Every rater, the prediction (if any) and every probability channel on the raters' grid.
void check_same_grid(const std::vector<ArrayView>& r, const ArrayView* pp, const std::vector<ArrayView>& pr,
                     const std::string& fn) {
  auto check = [&](const ArrayView& v, const char* what, const char* dim_msg) {
    if (v.ndim != r[0].ndim) throw py::value_error("segscore._cpu." + fn + ": " + dim_msg);
    check_same_shape(r[0], v, v.ndim, fn.c_str(), what);
  };
  for (const auto& v : r) check(v, "a rater", "raters differ in dimensions");
  if (pp) check(*pp, "pred", "pred differs in dimensions");
  for (const auto& v : pr) check(v, "a probability channel", "a probability channel differs in dimensions");
}

py::dict py_multirater_stats(const std::vector<py::array>& raters, const py::object& pred,
                             const std::vector<py::array>& probs, const std::vector<int64_t>& chan_label,
                             const std::vector<int64_t>& seed, int threads, const py::object& target,
                             const std::vector<double>& edges, bool top, bool implicit_background,
                             bool channel_bins) {
  PassViews v = pass_views(raters, pred, probs, "multirater_stats");
  const std::vector<ArrayView>& r = v.r;
  const std::vector<ArrayView>& pr = v.pr;
  const ArrayView* pp = v.pred();
  if (chan_label.size() != pr.size() + (implicit_background ? 1 : 0))
    throw py::value_error("segscore._cpu.multirater_stats: give one label per probability channel");
  if (implicit_background && pr.empty())
    throw py::value_error("segscore._cpu.multirater_stats: an implicit background needs probability channels");
  check_same_grid(r, pp, pr, "multirater_stats");
  MultiraterCalib calib;
  calib.implicit_background = implicit_background;
  calib.channel_bins = channel_bins;
  ArrayView t;
  if (!target.is_none()) {
    t = view_of(target.cast<py::array>(), "target", kLabels);
    if (t.ndim != r[0].ndim) throw py::value_error("segscore._cpu.multirater_stats: target differs in dimensions");
    check_same_shape(r[0], t, t.ndim, "multirater_stats", "target");
    if (edges.size() < 2) throw py::value_error("segscore._cpu.multirater_stats: give at least 2 bin edges");
    for (size_t i = 1; i < edges.size(); ++i)
      if (!(edges[i] > edges[i - 1])) throw py::value_error("segscore._cpu.multirater_stats: edges must increase");
    if (top && pr.empty()) throw py::value_error("segscore._cpu.multirater_stats: top needs probability channels");
    calib.target = &t;
    calib.edges = edges;
    calib.top = top;
  }
  MultiraterResult res;
  {
    py::gil_scoped_release nogil;
    res = multirater_stats(r, pp, pr, chan_label, seed, threads, calib);
  }
  const auto K = py::ssize_t(r.size());
  const auto L = py::ssize_t(res.labels.size());
  const auto M = py::ssize_t(res.minmax.size() / 2);
  py::dict d;
  d["labels"] = to_numpy(std::move(res.labels));
  d["stats"] = to_numpy(std::move(res.stats), {L, py::ssize_t(mr_width(K))});
  d["psum"] = to_numpy(std::move(res.psum));
  d["pvsum"] = to_numpy(std::move(res.pvsum));
  d["pfg"] = to_numpy(std::move(res.pfg));
  d["pbg"] = to_numpy(std::move(res.pbg));
  d["minmax"] = to_numpy(std::move(res.minmax), {M, 2});
  if (calib.target) {
    const auto C = py::ssize_t(chan_label.size());
    const auto nb = py::ssize_t(edges.size() - 1);
    d["brier"] = to_numpy(std::move(res.brier));
    d["cw_count"] = to_numpy(std::move(res.cw_count), {C, nb, 2});
    d["cw_conf"] = to_numpy(std::move(res.cw_conf), {C, nb});
    d["top_count"] = to_numpy(std::move(res.top_count), {nb, 2});
    d["top_conf"] = to_numpy(std::move(res.top_conf));
    d["top_rater"] = to_numpy(std::move(res.top_rater), {K, nb});
    d["pmin"] = to_numpy(std::move(res.pmin));
    d["pmax"] = to_numpy(std::move(res.pmax));
    d["pnan"] = to_numpy(std::move(res.pnan));
    d["rowdev"] = res.rowdev;
  }
  return d;
}

void py_multirater_masks(const std::vector<py::array>& raters, const std::vector<int64_t>& labels,
                         std::vector<py::array> fg, std::vector<py::array> dis, int threads) {
  std::vector<ArrayView> r;
  for (const auto& a : raters) r.push_back(view_of(a, "raters[k]", kLabels));
  if (r.empty()) throw py::value_error("segscore._cpu.multirater_masks: give at least one rater");
  if (fg.size() != labels.size() || dis.size() != labels.size())
    throw py::value_error("segscore._cpu.multirater_masks: one fg and one dis output per label");
  for (size_t i = 1; i < labels.size(); ++i)
    if (!(labels[i] > labels[i - 1])) throw py::value_error("segscore._cpu.multirater_masks: labels must increase");
  for (const auto& v : r) {
    if (v.ndim != r[0].ndim) throw py::value_error("segscore._cpu.multirater_masks: raters differ in dimensions");
    check_same_shape(r[0], v, v.ndim, "multirater_masks", "a rater");
  }
  std::vector<void*> pf, pd;
  std::vector<ArrayView> fv;
  for (size_t i = 0; i < labels.size(); ++i) {
    const ArrayView a = view_of(fg[i], "fg", kLabels), b = view_of(dis[i], "dis", kLabels);
    if ((a.dtype != DType::Bool && a.dtype != DType::U8) || (b.dtype != DType::Bool && b.dtype != DType::U8))
      throw py::type_error("segscore._cpu.multirater_masks: outputs must be bool or uint8");
    if (!fg[i].writeable() || !dis[i].writeable())
      throw py::value_error("segscore._cpu.multirater_masks: outputs must be writeable");
    if (a.ndim != r[0].ndim || b.ndim != r[0].ndim)
      throw py::value_error("segscore._cpu.multirater_masks: outputs differ in dimensions");
    check_same_shape(r[0], a, a.ndim, "multirater_masks", "fg");
    check_same_shape(r[0], b, b.ndim, "multirater_masks", "dis");
    if (!fv.empty())
      for (int d = 0; d < a.ndim; ++d)
        if (a.strides[d] != fv[0].strides[d] || b.strides[d] != fv[0].strides[d])
          throw py::value_error("segscore._cpu.multirater_masks: outputs must share one layout");
    if (fv.empty())
      for (int d = 0; d < a.ndim; ++d)
        if (b.strides[d] != a.strides[d])
          throw py::value_error("segscore._cpu.multirater_masks: outputs must share one layout");
    pf.push_back(fg[i].mutable_data());
    pd.push_back(dis[i].mutable_data());
    fv.push_back(a);
  }
  py::gil_scoped_release nogil;
  multirater_masks(r, labels, pf, pd, fv, threads);
}

py::dict py_curvas_stats(const std::vector<py::array>& raters, const py::object& pred,
                         const std::vector<py::array>& probs, const std::vector<int64_t>& values,
                         const std::vector<double>& edges, double cand_offset, double cand_scale, double cand_tol,
                         int softmax, bool groups, int threads, bool exact) {
  PassViews v = pass_views(raters, pred, probs, "curvas_stats");
  const std::vector<ArrayView>& r = v.r;
  const std::vector<ArrayView>& pr = v.pr;
  const ArrayView* pp = v.pred();
  if (pr.empty() || values.size() != pr.size())
    throw py::value_error("segscore._cpu.curvas_stats: give one organ label per probability channel");
  check_same_grid(r, pp, pr, "curvas_stats");
  if (edges.size() < 2) throw py::value_error("segscore._cpu.curvas_stats: give at least 2 bin edges");
  for (size_t i = 1; i < edges.size(); ++i)
    if (!(edges[i] > edges[i - 1])) throw py::value_error("segscore._cpu.curvas_stats: edges must increase");
  if (softmax < 0 || softmax > 2) throw py::value_error("segscore._cpu.curvas_stats: softmax is 0, 1 or 2");
  if (groups && r[0].ndim < 3) throw py::value_error("segscore._cpu.curvas_stats: row counts need 3 or more axes");
  CurvasOptions opt;
  opt.values = values;
  opt.edges = edges;
  opt.cand_offset = cand_offset;
  opt.cand_scale = cand_scale;
  opt.cand_tol = cand_tol;
  opt.softmax = softmax;
  opt.groups = groups;
  opt.exact_sums = exact;
  opt.threads = threads;
  CurvasResult res;
  {
    py::gil_scoped_release nogil;
    res = curvas_stats(r, pp, pr, opt);
  }
  const auto K = py::ssize_t(r.size());
  const auto C = py::ssize_t(pr.size());
  const auto L = py::ssize_t(res.base.labels.size());
  const auto M = py::ssize_t(res.base.minmax.size() / 2);
  const auto S = py::ssize_t(edges.size());
  py::dict d;
  d["labels"] = to_numpy(std::move(res.base.labels));
  d["stats"] = to_numpy(std::move(res.base.stats), {L, py::ssize_t(mr_width(K))});
  d["psum"] = to_numpy(std::move(res.base.psum));
  d["pvsum"] = to_numpy(std::move(res.base.pvsum));
  d["pfg"] = to_numpy(std::move(res.base.pfg));
  d["pbg"] = to_numpy(std::move(res.base.pbg));
  d["minmax"] = to_numpy(std::move(res.base.minmax), {M, 2});
  d["softmax"] = res.softmax;
  d["count"] = to_numpy(std::move(res.count));
  d["correct"] = to_numpy(std::move(res.correct), {K, S});
  d["seq"] = to_numpy(std::move(res.seq));
  d["exact"] = to_numpy(std::move(res.exact));
  if (groups) {
    const auto G = py::ssize_t(r[0].shape[0] * r[0].shape[1]);
    d["groups"] = to_numpy(std::move(res.groups), {C, G, 3});
  }
  d["pmin"] = to_numpy(std::move(res.pmin));
  d["pmax"] = to_numpy(std::move(res.pmax));
  d["pnan"] = to_numpy(std::move(res.pnan));
  d["invalid"] = res.invalid;
  d["cmin"] = res.cmin;
  d["cmax"] = res.cmax;
  return d;
}

py::array_t<double> py_numpy_chunk_sums(const py::array& a, const std::vector<int64_t>& start,
                                        const std::vector<int64_t>& len, int threads) {
  const ArrayView v = view_of(a, "a", kFloats);
  std::vector<double> out;
  {
    py::gil_scoped_release nogil;
    out = numpy_chunk_sums(v, start, len, threads);
  }
  return to_numpy(std::move(out));
}

py::tuple py_numpy_chunk_sums_many(const std::vector<py::array>& arrs, const std::vector<int64_t>& start,
                                   const std::vector<int64_t>& len, int threads, bool overfull) {
  std::vector<ArrayView> v;
  for (const auto& a : arrs) v.push_back(view_of(a, "a", kFloats));
  if (v.empty()) throw py::value_error("segscore._cpu.numpy_chunk_sums_many: give at least one array");
  std::vector<std::vector<double>> out;
  bool over = false;
  {
    py::gil_scoped_release nogil;
    out = numpy_chunk_sums_many(v, start, len, threads, overfull ? &over : nullptr);
  }
  py::list sums;
  for (auto& o : out) sums.append(to_numpy(std::move(o)));
  return py::make_tuple(sums, over);
}

}  // namespace

void bind_multirater(py::module_& m) {
  m.def("curvas_stats", &py_curvas_stats, py::arg("raters"), py::arg("pred"), py::arg("probs"), py::arg("values"),
        py::arg("edges"), py::arg("cand_offset"), py::arg("cand_scale"), py::arg("cand_tol"), py::arg("softmax"),
        py::arg("groups"), py::arg("threads"), py::arg("exact") = true,
        "The CURVAS 2024 protocol's one pass: multi-rater statistics, torchmetrics' top-label bins (float32 "
        "running sums in element order), MONAI's row counts.");
  m.def("_f32_add_n", [](float s, float v, uint64_t n) { return f32_add_n(s, v, n); }, py::arg("s"), py::arg("v"),
        py::arg("n"), "s + v added n times in float32 (the replay of curvas_stats; for the tests).");
  m.def("numpy_chunk_sums_many", &py_numpy_chunk_sums_many, py::arg("arrays"), py::arg("start"), py::arg("len"),
        py::arg("threads"), py::arg("overfull"),
        "numpy_chunk_sums of arrays of one shape and layout from one read, and whether 1 - their sum is "
        "negative anywhere.");
  m.def("numpy_chunk_sums", &py_numpy_chunk_sums, py::arg("a"), py::arg("start"), py::arg("len"),
        py::arg("threads"), "numpy's pairwise sum of chunks of a float array's elements in C order.");
  m.def("multirater_masks", &py_multirater_masks, py::arg("raters"), py::arg("labels"), py::arg("fg"),
        py::arg("dis"), py::arg("threads"),
        "Consensus foreground and dissensus masks of every label in one pass over the raters (outputs zeroed).");
  m.def("multirater_stats", &py_multirater_stats, py::arg("raters"), py::arg("pred"), py::arg("probs"),
        py::arg("chan_label"), py::arg("seed"), py::arg("threads"), py::arg("target") = py::none(),
        py::arg("edges") = std::vector<double>(), py::arg("top") = false, py::arg("implicit_background") = false,
        py::arg("channel_bins") = true,
        "One pass over K raters, an optional prediction and probability channels: per-label counts "
        "(segscore/multirater.h layout), probability sums, each map's value range.");
}

}  // namespace segscore

// pybind11 binding of segscore._cuda.  Thin on purpose: device pointers,
// sizes and the stream arrive as integers from python/segscore/_gpu (which
// plans, allocates with the caller's array library and validates); this
// layer converts, releases the GIL and calls the launch sequences of
// driver.cu.  Nothing here touches device memory.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>

#include "driver.h"
#include "segscore/gpu_kernels.h"
#include "segscore/gpu_score_kernels.h"

#ifndef SEGSCORE_CUDA_MODULE_NAME
#define SEGSCORE_CUDA_MODULE_NAME _cuda
#endif
#ifndef SEGSCORE_CUDA_ARCHS
#define SEGSCORE_CUDA_ARCHS ""
#endif

namespace py = pybind11;
using namespace segscore::cuda;

namespace {

template <typename T>
T* P(uintptr_t p) {
  return reinterpret_cast<T*>(p);
}

EdtLaunch edt_args(uintptr_t in, int in_type, bool multilabel, bool f64, uintptr_t out, uintptr_t tmp, uintptr_t ws,
                   int64_t nmax, uintptr_t fd, uintptr_t sp, uintptr_t prefix, int nfields, int npasses,
                   std::vector<int64_t> grid, int block, int finish) {
  EdtLaunch a;
  a.in = P<const void>(in);
  a.in_type = in_type;
  a.multilabel = multilabel;
  a.f64 = f64;
  a.out = P<void>(out);
  a.tmp = P<void>(tmp);
  a.ws = P<void>(ws);
  a.nmax = nmax;
  a.fd = P<const int64_t>(fd);
  a.sp = P<const double>(sp);
  a.prefix = P<const int64_t>(prefix);
  a.nfields = nfields;
  a.npasses = npasses;
  a.grid = std::move(grid);
  a.block = block;
  a.finish = finish;
  return a;
}

void py_edt(int device, uintptr_t stream, uintptr_t in, int in_type, bool multilabel, bool f64, uintptr_t out,
            uintptr_t tmp, uintptr_t ws, int64_t nmax, uintptr_t fd, uintptr_t sp, uintptr_t prefix, int nfields,
            int npasses, std::vector<int64_t> grid, int block, int finish) {
  EdtLaunch a = edt_args(in, in_type, multilabel, f64, out, tmp, ws, nmax, fd, sp, prefix, nfields, npasses,
                         std::move(grid), block, finish);
  py::gil_scoped_release nogil;
  set_device(device);
  edt_passes(a, P<void>(stream));
}

void py_stats(int device, uintptr_t stream, uintptr_t pred, int pcode, uintptr_t ref, int rcode, uintptr_t geo, int nd,
              int64_t ignore, int64_t K, int64_t seg, uintptr_t st, int64_t grid_init, int64_t grid, int block) {
  StatsLaunch a;
  a.pred = P<const void>(pred);
  a.pcode = pcode;
  a.ref = P<const void>(ref);
  a.rcode = rcode;
  a.geo = P<const int64_t>(geo);
  a.nd = nd;
  a.ignore = ignore;
  a.K = K;
  a.seg = seg;
  a.st = P<int64_t>(st);
  a.grid_init = grid_init;
  a.grid = grid;
  a.block = block;
  py::gil_scoped_release nogil;
  set_device(device);
  stats(a, P<void>(stream));
}

void py_surface(int device, uintptr_t stream, py::dict k) {
  auto u = [&](const char* key) { return k[key].cast<uintptr_t>(); };
  auto i64 = [&](const char* key) { return k[key].cast<int64_t>(); };
  auto i32 = [&](const char* key) { return k[key].cast<int>(); };
  SurfaceLaunch a;
  a.pred = P<const void>(u("pred"));
  a.pcode = i32("pcode");
  a.ref = P<const void>(u("ref"));
  a.rcode = i32("rcode");
  a.src_str = P<const int64_t>(u("src_str"));
  a.nd = i32("nd");
  a.ignore = i64("ignore");
  a.rt = P<const int64_t>(u("rt"));
  a.labels = P<const int64_t>(u("labels"));
  a.rows = P<const int64_t>(u("rows"));
  a.nreg = i32("nreg");
  a.V = i64("V");
  a.L = i64("L");
  a.kind = i32("kind");
  a.conn = i32("conn");
  a.biou = i32("biou");
  a.width = k["width"].cast<double>();
  a.strict = i32("strict");
  a.spacing = P<const double>(u("spacing"));
  a.masks = P<uint8_t>(u("masks"));
  a.nb = P<uint8_t>(u("nb"));
  a.cnt = P<int64_t>(u("cnt"));
  a.sums = P<int64_t>(u("sums"));
  a.pos = P<int64_t>(u("pos"));
  a.d = P<double>(u("d"));
  a.w = P<double>(u("w"));
  a.res = P<int64_t>(u("res"));
  a.chunk = i64("chunk");
  a.grid_rows = i64("grid_rows");
  a.grid_chunks = i64("grid_chunks");
  a.grid_regions = i64("grid_regions");
  a.block = i32("block");
  a.edt = edt_args(u("nb"), 0, false, true, u("field"), u("field_tmp"), u("ws"), i64("nmax"), u("fd"), u("sp"),
                   u("prefix"), i32("nfields"), i32("npasses"), k["edt_grid"].cast<std::vector<int64_t>>(), a.block, 0);
  py::gil_scoped_release nogil;
  set_device(device);
  surface(a, P<void>(stream));
}

void py_calibration(int device, uintptr_t stream, py::dict k) {
  auto u = [&](const char* key) { return k[key].cast<uintptr_t>(); };
  auto i64 = [&](const char* key) { return k[key].cast<int64_t>(); };
  CalibLaunch a;
  a.probs = P<const void>(u("probs"));
  a.ptype = int(i64("ptype"));
  a.target = P<const void>(u("target"));
  a.mask = P<const void>(u("mask"));
  a.geo = P<const int64_t>(u("geo"));
  a.ci = P<const int64_t>(u("ci"));
  a.cd = P<const double>(u("cd"));
  a.hist = P<uint64_t>(u("hist"));
  a.copies = i64("copies");
  a.keys = i64("keys");
  a.counters = P<int64_t>(u("counters"));
  a.out = P<uint64_t>(u("out"));
  a.partial = P<double>(u("partial"));
  a.partial_sums = P<double>(u("partial_sums"));
  a.chunk = i64("chunk");
  a.grid = i64("grid");
  a.grid_init = i64("grid_init");
  a.grid_reduce = i64("grid_reduce");
  a.grid_chunks = i64("grid_chunks");
  a.block = int(i64("block"));
  a.stream_index = i64("stream_index");
  a.conf = P<double>(u("conf"));
  py::gil_scoped_release nogil;
  set_device(device);
  calibration(a, P<void>(stream));
}

void py_crps(int device, uintptr_t stream, py::dict k) {
  auto u = [&](const char* key) { return k[key].cast<uintptr_t>(); };
  auto i64 = [&](const char* key) { return k[key].cast<int64_t>(); };
  CrpsLaunch a;
  a.kind = int(i64("kind"));
  a.a = P<const void>(u("a"));
  a.b = P<const void>(u("b"));
  a.c = P<const void>(u("c"));
  a.types = int(i64("types"));
  a.geo = P<const int64_t>(u("geo"));
  a.n = i64("n");
  a.out = P<double>(u("out"));
  a.bad = P<int64_t>(u("bad"));
  a.ws = P<double>(u("ws"));
  a.grid = i64("grid");
  a.block = int(i64("block"));
  py::gil_scoped_release nogil;
  set_device(device);
  crps(a, P<void>(stream));
}

}  // namespace

PYBIND11_MODULE(SEGSCORE_CUDA_MODULE_NAME, m) {
  using namespace segscore::gpu;
  m.doc() = "segscore CUDA kernels (internal; use the segscore package API)";
  m.def("device_count", &device_count, "Number of visible CUDA devices (0 without a driver)");
  m.def("runtime_version", &runtime_version);
  m.def("driver_version", &driver_version);
  m.def("probe", &probe, py::arg("device"), "'' when the kernels run on `device`, else the reason they cannot");
  m.def("edt", &py_edt, py::arg("device"), py::arg("stream"), py::arg("input"), py::arg("in_type"),
        py::arg("multilabel"), py::arg("f64"), py::arg("out"), py::arg("tmp"), py::arg("ws"), py::arg("nmax"),
        py::arg("fd"), py::arg("sp"), py::arg("prefix"), py::arg("nfields"), py::arg("npasses"), py::arg("grid"),
        py::arg("block"), py::arg("finish"));
  m.def("stats", &py_stats, py::arg("device"), py::arg("stream"), py::arg("pred"), py::arg("pcode"), py::arg("ref"),
        py::arg("rcode"), py::arg("geo"), py::arg("nd"), py::arg("ignore"), py::arg("K"), py::arg("seg"),
        py::arg("st"), py::arg("grid_init"), py::arg("grid"), py::arg("block"));
  m.def("surface", &py_surface, py::arg("device"), py::arg("stream"), py::arg("args"));
  m.def("calibration", &py_calibration, py::arg("device"), py::arg("stream"), py::arg("args"));
  m.def("crps", &py_crps, py::arg("device"), py::arg("stream"), py::arg("args"));
  m.attr("built_with_cuda") = built_with();
  m.attr("architectures") = SEGSCORE_CUDA_ARCHS;
  py::dict layout;
  layout["FD_ND"] = int(FD_ND);
  layout["FD_SHAPE"] = int(FD_SHAPE);
  layout["FD_ISTR"] = int(FD_ISTR);
  layout["FD_OSTR"] = int(FD_OSTR);
  layout["FD_AXES"] = int(FD_AXES);
  layout["FD_IOFF"] = int(FD_IOFF);
  layout["FD_OOFF"] = int(FD_OOFF);
  layout["FD_W"] = int(FD_W);
  layout["RT_DIM"] = int(RT_DIM);
  layout["RT_LO"] = int(RT_LO);
  layout["RT_OFF"] = int(RT_OFF);
  layout["RT_LAB0"] = int(RT_LAB0);
  layout["RT_LAB1"] = int(RT_LAB1);
  layout["RT_W"] = int(RT_W);
  layout["CG_W"] = int(CG_W);
  layout["CI_W"] = int(CI_W);
  layout["CD_EDGES"] = int(CD_EDGES);
  layout["CC_W"] = int(CC_W);
  layout["XG_W"] = int(XG_W);
  m.attr("layout") = layout;
}

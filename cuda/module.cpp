// pybind11 binding of segscore._cuda: the kernel table, a generic launcher
// and memory helpers (driver.h).  Device pointers, sizes and the stream arrive
// as Python integers from python/segscore/gpu (plan.py builds every launch
// sequence, backend.py runs it here kernel by kernel).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "driver.h"
#include "segscore/gpu_kernels.h"
#include "segscore/gpu_score_kernels.h"
#include "segscore/gpu_components_kernels.h"

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

// One kernel parameter's value, at the start of its own slot (cudaLaunchKernel
// reads sizeof(parameter) bytes from args[i]).
union Slot {
  void* p;
  int32_t i;
  int64_t q;
  double d;
};

// launch(name, grid, block, shmem, stream, signature, args): `signature` has a
// letter per argument (p pointer, i int, q int64_t, d double: plan.Launch.signature)
// and must equal the kernel's own, derived from its C++ parameter types;
// `args` are Python ints (pointers: device addresses) and floats.  Each value is
// converted to exactly the parameter's type; pybind11 refuses values that do not
// fit (negative pointers, ints beyond 32 bits for an int, floats for integers).
void py_launch(const std::string& name, int64_t grid, int block, size_t shmem, uintptr_t stream,
               const std::string& sig, const py::sequence& args) {
  const Kernel* k = find_kernel(name);
  if (k == nullptr) throw py::key_error("segscore._cuda has no kernel " + name);
  if (sig != k->sig)
    throw py::type_error("segscore._cuda: " + name + " takes arguments (" + k->sig + ") but the plan passed (" +
                         sig + "); p pointer, i int, q int64_t, d double");
  if (py::len(args) != sig.size())
    throw py::type_error("segscore._cuda: " + name + ": " + std::to_string(py::len(args)) +
                         " argument values for signature (" + sig + ")");
  std::vector<Slot> slots(sig.size());
  std::vector<void*> ptrs(sig.size());
  for (size_t i = 0; i < sig.size(); ++i) {
    const py::object a = args[i];
    switch (sig[i]) {
      case 'p': slots[i].p = P<void>(a.cast<uintptr_t>()); break;
      case 'i': slots[i].i = a.cast<int32_t>(); break;
      case 'q': slots[i].q = a.cast<int64_t>(); break;
      case 'd': slots[i].d = a.cast<double>(); break;
      default: throw py::type_error("segscore._cuda: bad signature letter in " + sig);
    }
    ptrs[i] = &slots[i];
  }
  py::gil_scoped_release nogil;
  launch(*k, grid, block, shmem, P<void>(stream), ptrs.data());
}

py::dict kernel_table() {
  py::dict d;
  for (const Kernel& k : kernels()) d[py::str(k.name)] = k.sig;
  return d;
}

}  // namespace

PYBIND11_MODULE(SEGSCORE_CUDA_MODULE_NAME, m) {
  using namespace segscore::gpu;
  m.doc() = "segscore CUDA kernels (internal; use the segscore package API)";
  m.def("device_count", &device_count, "Number of visible CUDA devices (0 without a driver)");
  m.def("runtime_version", &runtime_version);
  m.def("driver_version", &driver_version);
  m.def("probe", &probe, py::arg("device"), "'' when the kernels run on `device`, else the reason they cannot");
  m.def("kernels", &kernel_table, "{kernel name: signature} of every kernel this module can launch");
  m.def("set_device", [](int device) {
    py::gil_scoped_release nogil;
    set_device(device);
  }, py::arg("device"));
  m.def("launch", &py_launch, py::arg("name"), py::arg("grid"), py::arg("block"), py::arg("shmem"),
        py::arg("stream"), py::arg("signature"), py::arg("args"),
        "Launch kernel `name` on `stream` (asynchronous); see python/segscore/gpu/plan.py for the argument convention");
  m.def("run", [](int device, uintptr_t stream, const py::iterable& launches) {
    set_device(device);
    for (const py::handle L : launches)
      py_launch(L.attr("kernel").cast<std::string>(), L.attr("grid").cast<int64_t>(), L.attr("block").cast<int>(),
                L.attr("shmem").cast<size_t>(), stream, L.attr("signature").cast<std::string>(),
                L.attr("values").cast<py::sequence>());
  }, py::arg("device"), py::arg("stream"), py::arg("launches"),
        "Run a launch sequence of segscore.gpu.plan (a list of Launch) on `stream`, in order");
  // The former per-operation entry points are the same generic runner now: every
  // sequence comes from plan.py.
  for (const char* op : {"edt", "stats", "surface", "calibration", "crps"}) m.attr(op) = m.attr("run");
  m.def("mem_alloc", [](size_t bytes) { return reinterpret_cast<uintptr_t>(mem_alloc(bytes)); }, py::arg("bytes"));
  m.def("mem_free", [](uintptr_t p) { mem_free(P<void>(p)); }, py::arg("ptr"));
  m.def("mem_set", [](uintptr_t p, int value, size_t bytes, uintptr_t stream) {
    mem_set(P<void>(p), value, bytes, P<void>(stream));
  }, py::arg("ptr"), py::arg("value"), py::arg("bytes"), py::arg("stream"));
  m.def("mem_copy", [](uintptr_t dst, uintptr_t src, size_t bytes, uintptr_t stream) {
    py::gil_scoped_release nogil;
    mem_copy(P<void>(dst), P<const void>(src), bytes, P<void>(stream));
  }, py::arg("dst"), py::arg("src"), py::arg("bytes"), py::arg("stream"),
        "Copy `bytes` (host or device addresses) and wait for `stream`");
  m.def("synchronize", [](uintptr_t stream) {
    py::gil_scoped_release nogil;
    synchronize(P<void>(stream));
  }, py::arg("stream"));
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
  layout["RT_RLAB0"] = int(RT_RLAB0);
  layout["RT_RLAB1"] = int(RT_RLAB1);
  layout["RT_W"] = int(RT_W);
  layout["CG_W"] = int(CG_W);
  layout["CI_W"] = int(CI_W);
  layout["CD_EDGES"] = int(CD_EDGES);
  layout["CC_W"] = int(CC_W);
  layout["XG_W"] = int(XG_W);
  layout["CCG_W"] = int(CCG_W);
  layout["OG_W"] = int(OG_W);
  layout["OI_W"] = int(OI_W);
  m.attr("layout") = layout;
}

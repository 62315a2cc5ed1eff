// segscore._cuda: CUDA drivers over the same kernel headers as the CPU core.
// This is the minimal module of the Foundation issue: it proves that every
// header compiles under nvcc and reports the runtime/device state.  The GPU
// issue fills in the EDT, boundary and batching launches.
#include <cuda_runtime.h>
#include <pybind11/pybind11.h>

#include "segscore/common.h"
#include "segscore/edt.h"
#include "segscore/overlap.h"
#include "segscore/surface.h"
#include "segscore/surfel_tables.h"

namespace py = pybind11;

namespace {

// One thread per line: first EDT pass along the contiguous axis.
template <typename In, typename T>
__global__ void edt_binary_rows(const In* in, T* out, long long rows, long long n, double spacing) {
  long long r = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (r >= rows) return;
  segscore::edt_binary_line<In, T>(in + r * n, 1, out + r * n, 1, n, spacing);
}

template __global__ void edt_binary_rows<unsigned char, float>(const unsigned char*, float*, long long, long long,
                                                               double);
template __global__ void edt_binary_rows<unsigned char, double>(const unsigned char*, double*, long long, long long,
                                                                double);

__global__ void surfel_probe(double* out) { out[0] = segscore::surfel_area_3d(1, 1.0, 1.0, 1.0); }

int device_count() {
  int n = 0;
  cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear
    return 0;
  }
  return n;
}

}  // namespace

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "segscore CUDA kernels (internal)";
  m.def("device_count", &device_count, "Number of visible CUDA devices (0 without a driver)");
  m.def("runtime_version", [] {
    int v = 0;
    cudaRuntimeGetVersion(&v);
    return v;
  });
  m.attr("built_with_cuda") = CUDART_VERSION;
}

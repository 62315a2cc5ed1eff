// segscore._cuda (see driver.h): the kernel table, the generic launcher and
// the memory helpers.  No launch sequence lives here: python/segscore/gpu/plan.py
// builds them and both executors run them.  Compiled by nvcc; the test-suite
// also compiles this file with g++ and a sequential CUDA emulation
// (SEGSCORE_CUDA_EMULATION) to run the same plans against the CPU driver.
#include "driver.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#if defined(SEGSCORE_CUDA_EMULATION)
#include "cuda_emulation.h"
#else
#include <cuda_runtime.h>
#endif

#include "segscore/gpu_kernels.h"
#include "segscore/gpu_score_kernels.h"
#include "segscore/gpu_components_kernels.h"
#include "segscore/gpu_multirater_kernels.h"

namespace segscore {
namespace cuda {
namespace {

using namespace segscore::gpu;

// The signature letter of one kernel parameter type (see driver.h).  Any
// other type stops the build: the Python argument convention (plan.py) has to
// learn it first.
template <typename T>
constexpr char param_code() {
  if constexpr (std::is_pointer_v<T>) {
    return 'p';
  } else if constexpr (std::is_same_v<T, double>) {
    return 'd';
  } else if constexpr (std::is_integral_v<T> && std::is_signed_v<T> && sizeof(T) == 4) {
    return 'i';
  } else if constexpr (std::is_integral_v<T> && std::is_signed_v<T> && sizeof(T) == 8) {
    return 'q';
  } else {
    static_assert(sizeof(T) == 0, "kernel parameter type without a launch signature letter");
    return '?';
  }
}

template <typename... P>
std::string signature(void (*)(P...)) {
  return std::string{param_code<std::remove_cv_t<P>>()...};
}

#if defined(SEGSCORE_CUDA_EMULATION)
template <typename... P>
void emulate(void (*k)(P...), unsigned grid, unsigned block, void** args) {
  segscore_emu::run_packed_impl(grid, block, k, args, std::index_sequence_for<P...>{});
}
template <auto K>
void emulate_launch(unsigned grid, unsigned block, void** args) {
  emulate(K, grid, block, args);
}
#endif

template <auto K>
Kernel entry(const char* name) {
  Kernel k;
  k.name = name;
  k.sig = signature(K);
#if defined(SEGSCORE_CUDA_EMULATION)
  k.emulate = &emulate_launch<K>;
#else
  k.fn = reinterpret_cast<const void*>(K);
#endif
  return k;
}

// One line per kernel: the name is the expression itself, so it is spelled as
// python/segscore/gpu/source.py spells it for NVRTC (a test compares the two
// sets, tests/unit/gpu/test_launch_plan.py).
#define SEGSCORE_K(...) entry<&::segscore::gpu::__VA_ARGS__>(#__VA_ARGS__)

std::vector<Kernel> make_table() {
  return {
      // EDT, binary input (gpu_kernels.h)
      SEGSCORE_K(k_edt_first<unsigned char, float>),
      SEGSCORE_K(k_edt_first<unsigned short, float>),
      SEGSCORE_K(k_edt_first<unsigned int, float>),
      SEGSCORE_K(k_edt_first<unsigned long long, float>),
      SEGSCORE_K(k_edt_first<float, float>),
      SEGSCORE_K(k_edt_first<double, float>),
      SEGSCORE_K(k_edt_first<unsigned char, double>),
      SEGSCORE_K(k_edt_first<unsigned short, double>),
      SEGSCORE_K(k_edt_first<unsigned int, double>),
      SEGSCORE_K(k_edt_first<unsigned long long, double>),
      SEGSCORE_K(k_edt_first<float, double>),
      SEGSCORE_K(k_edt_first<double, double>),
      SEGSCORE_K(k_edt_parabola<float>),
      SEGSCORE_K(k_edt_parabola<double>),
      // EDT, multi-label input
      SEGSCORE_K(k_edt_first_ml<unsigned char, float>),
      SEGSCORE_K(k_edt_first_ml<unsigned short, float>),
      SEGSCORE_K(k_edt_first_ml<unsigned int, float>),
      SEGSCORE_K(k_edt_first_ml<unsigned long long, float>),
      SEGSCORE_K(k_edt_first_ml<unsigned char, double>),
      SEGSCORE_K(k_edt_first_ml<unsigned short, double>),
      SEGSCORE_K(k_edt_first_ml<unsigned int, double>),
      SEGSCORE_K(k_edt_first_ml<unsigned long long, double>),
      SEGSCORE_K(k_edt_parabola_ml<unsigned char, float>),
      SEGSCORE_K(k_edt_parabola_ml<unsigned short, float>),
      SEGSCORE_K(k_edt_parabola_ml<unsigned int, float>),
      SEGSCORE_K(k_edt_parabola_ml<unsigned long long, float>),
      SEGSCORE_K(k_edt_parabola_ml<unsigned char, double>),
      SEGSCORE_K(k_edt_parabola_ml<unsigned short, double>),
      SEGSCORE_K(k_edt_parabola_ml<unsigned int, double>),
      SEGSCORE_K(k_edt_parabola_ml<unsigned long long, double>),
      // counting pass
      SEGSCORE_K(k_stats_init),
      SEGSCORE_K(k_stats),
      // surface distances
      SEGSCORE_K(k_crop_fill),
      SEGSCORE_K(k_crop_boundary),
      SEGSCORE_K(k_scan_partial),
      SEGSCORE_K(k_scan_sums),
      SEGSCORE_K(k_scan_apply),
      SEGSCORE_K(k_crop_gather),
      SEGSCORE_K(k_region_counts),
      // calibration (gpu_score_kernels.h; float16 probabilities by their bits)
      SEGSCORE_K(k_calib_init),
      SEGSCORE_K(k_calib<unsigned short>),
      SEGSCORE_K(k_calib<float>),
      SEGSCORE_K(k_calib<double>),
      SEGSCORE_K(k_calib_reduce),
      SEGSCORE_K(k_sum_chunks),
      SEGSCORE_K(k_calib_conf<unsigned short>),
      SEGSCORE_K(k_calib_conf<float>),
      SEGSCORE_K(k_calib_conf<double>),
      // CRPS
      SEGSCORE_K(k_crps_gaussian),
      SEGSCORE_K(k_crps_ensemble<float, float>),
      SEGSCORE_K(k_crps_ensemble<float, double>),
      SEGSCORE_K(k_crps_ensemble<double, float>),
      SEGSCORE_K(k_crps_ensemble<double, double>),
      // connected components and the overlap table (gpu_components_kernels.h)
      SEGSCORE_K(k_cc_init),
      SEGSCORE_K(k_cc_merge),
      SEGSCORE_K(k_cc_flatten),
      SEGSCORE_K(k_cc_sizes),
      SEGSCORE_K(k_cc_roots),
      SEGSCORE_K(k_cc_write),
      SEGSCORE_K(k_ovl_scan),
      SEGSCORE_K(k_ovl_init),
      SEGSCORE_K(k_ovl_count),
      // the one multi-rater pass (gpu_multirater_kernels.h)
      SEGSCORE_K(k_mr_init),
      SEGSCORE_K(k_mr_range),
      SEGSCORE_K(k_mr_stats),
  };
}

#undef SEGSCORE_K

#if !defined(SEGSCORE_CUDA_EMULATION)
void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    cudaGetLastError();
    throw std::runtime_error(std::string("segscore._cuda: ") + what + " failed: " + cudaGetErrorString(e));
  }
}
#endif

}  // namespace

const std::vector<Kernel>& kernels() {
  static const std::vector<Kernel> table = make_table();
  return table;
}

const Kernel* find_kernel(const std::string& name) {
  for (const Kernel& k : kernels())
    if (k.name == name) return &k;
  return nullptr;
}

void launch(const Kernel& k, int64_t grid, int block, size_t shmem, void* stream, void** args) {
  if (grid < 1 || grid > 0x7fffffff)
    throw std::invalid_argument("segscore._cuda: " + k.name + ": grid " + std::to_string(grid) +
                                " outside [1, 2^31)");
  if (block < 1 || block > 1024)
    throw std::invalid_argument("segscore._cuda: " + k.name + ": block " + std::to_string(block) +
                                " outside [1, 1024]");
#if defined(SEGSCORE_CUDA_EMULATION)
  (void)shmem;
  (void)stream;
  k.emulate(unsigned(grid), unsigned(block), args);
#else
  const cudaError_t e = cudaLaunchKernel(k.fn, dim3(unsigned(grid)), dim3(unsigned(block)), args, shmem,
                                         static_cast<cudaStream_t>(stream));
  check(e, ("launch of " + k.name).c_str());
#endif
}

#if defined(SEGSCORE_CUDA_EMULATION)
void set_device(int) {}
void* mem_alloc(size_t bytes) {
  void* p = std::malloc(bytes ? bytes : 1);
  if (!p) throw std::bad_alloc();
  return p;
}
void mem_free(void* p) { std::free(p); }
void mem_set(void* p, int value, size_t bytes, void*) { std::memset(p, value, bytes); }
void mem_copy(void* dst, const void* src, size_t bytes, void*) { std::memcpy(dst, src, bytes); }
void synchronize(void*) {}
#else
void set_device(int device) {
  const cudaError_t e = cudaSetDevice(device);
  if (e != cudaSuccess) {
    cudaGetLastError();
    throw std::runtime_error(std::string("segscore._cuda: cannot use device ") + std::to_string(device) + ": " +
                             cudaGetErrorString(e));
  }
}
void* mem_alloc(size_t bytes) {
  void* p = nullptr;
  check(cudaMalloc(&p, bytes), "cudaMalloc");
  return p;
}
void mem_free(void* p) { check(cudaFree(p), "cudaFree"); }
void mem_set(void* p, int value, size_t bytes, void* stream) {
  check(cudaMemsetAsync(p, value, bytes, static_cast<cudaStream_t>(stream)), "cudaMemsetAsync");
}
void mem_copy(void* dst, const void* src, size_t bytes, void* stream) {
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, static_cast<cudaStream_t>(stream)), "cudaMemcpyAsync");
  check(cudaStreamSynchronize(static_cast<cudaStream_t>(stream)), "cudaStreamSynchronize");
}
void synchronize(void* stream) {
  check(cudaStreamSynchronize(static_cast<cudaStream_t>(stream)), "cudaStreamSynchronize");
}
#endif

#if defined(SEGSCORE_CUDA_EMULATION)
int device_count() { return 1; }
int runtime_version() { return 0; }
int driver_version() { return 0; }
int built_with() { return 0; }
std::string probe(int) { return ""; }
#else
int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}
int runtime_version() {
  int v = 0;
  cudaRuntimeGetVersion(&v);
  return v;
}
int driver_version() {
  int v = 0;
  cudaDriverGetVersion(&v);
  return v;
}
int built_with() { return CUDART_VERSION; }

std::string probe(int device) {
  const int drv = driver_version();
  if (drv == 0) return "no CUDA driver is installed";
  if (drv < CUDART_VERSION)
    return "the CUDA driver supports CUDA " + std::to_string(drv / 1000) + "." + std::to_string(drv % 1000 / 10) +
           " but segscore._cuda was built with CUDA " + std::to_string(CUDART_VERSION / 1000) + "." +
           std::to_string(CUDART_VERSION % 1000 / 10);
  int n = device_count();
  if (device < 0 || device >= n) return "CUDA device " + std::to_string(device) + " is not visible";
  cudaError_t e = cudaSetDevice(device);
  if (e == cudaSuccess) {
    cudaFuncAttributes attr;
    e = cudaFuncGetAttributes(&attr, reinterpret_cast<const void*>(&k_stats_init));
  }
  if (e != cudaSuccess) {
    cudaGetLastError();
    cudaDeviceProp prop;
    std::string cc = "?";
    if (cudaGetDeviceProperties(&prop, device) == cudaSuccess)
      cc = std::to_string(prop.major) + "." + std::to_string(prop.minor);
    cudaGetLastError();
    return std::string("segscore._cuda has no kernel image for device ") + std::to_string(device) +
           " (compute capability " + cc + "): " + cudaGetErrorString(e);
  }
  return "";
}
#endif

}  // namespace cuda
}  // namespace segscore

// segscore._cuda launch sequences (see driver.h).  Compiled by nvcc; the
// test-suite also compiles this file with g++ and a sequential CUDA
// emulation (SEGSCORE_CUDA_EMULATION) to check it against the CPU driver.
#include "driver.h"

#include <stdexcept>
#include <string>

#if defined(SEGSCORE_CUDA_EMULATION)
#include "cuda_emulation.h"
#else
#include <cuda_runtime.h>
#endif

#include "segscore/gpu_kernels.h"
#include "segscore/gpu_score_kernels.h"

namespace segscore {
namespace cuda {
namespace {

using namespace segscore::gpu;

template <typename... P, typename... A>
void launch(void (*kernel)(P...), int64_t grid, int block, void* stream, A... args) {
  if (grid <= 0) return;
#if defined(SEGSCORE_CUDA_EMULATION)
  segscore_emu::run(unsigned(grid), unsigned(block), kernel, static_cast<P>(args)...);
  (void)stream;
#else
  kernel<<<dim3(unsigned(grid)), dim3(unsigned(block)), 0, static_cast<cudaStream_t>(stream)>>>(
      static_cast<P>(args)...);
#endif
}

void check(const char* what) {
#if !defined(SEGSCORE_CUDA_EMULATION)
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess)
    throw std::runtime_error(std::string("segscore._cuda: ") + what + " failed: " + cudaGetErrorString(e));
#else
  (void)what;
#endif
}

template <typename In, typename T>
void first_pass(const EdtLaunch& a, T* dst, int finish, void* s) {
  launch(&k_edt_first<In, T>, a.grid[0], a.block, s, static_cast<const In*>(a.in), dst, a.fd, a.sp, a.prefix,
         a.nfields, finish);
}

template <typename L, typename T>
void first_pass_ml(const EdtLaunch& a, T* dst, int finish, void* s) {
  launch(&k_edt_first_ml<L, T>, a.grid[0], a.block, s, static_cast<const L*>(a.in), dst, a.fd, a.sp, a.prefix,
         a.nfields, finish);
}

template <typename L, typename T>
void parabola_ml(const EdtLaunch& a, const T* src, T* dst, int k, int finish, void* s) {
  launch(&k_edt_parabola_ml<L, T>, a.grid[k], a.block, s, static_cast<const L*>(a.in), src, dst, a.ws, a.nmax, a.fd,
         a.sp, a.prefix + int64_t(k) * (a.nfields + 1), a.nfields, k, finish);
}

template <typename T>
void edt_typed(const EdtLaunch& a, void* s) {
  const int P = a.npasses;
  T* bufs[2] = {static_cast<T*>(a.out), static_cast<T*>(a.tmp)};
  // pass k writes bufs[(P-1-k) % 2]: the last one lands in out
  auto dst_of = [&](int k) { return bufs[(P - 1 - k) % 2]; };
  const int f0 = P == 1 ? a.finish : 0;
  if (a.multilabel) {
    switch (a.in_type) {
      case 0: first_pass_ml<uint8_t, T>(a, dst_of(0), f0, s); break;
      case 1: first_pass_ml<uint16_t, T>(a, dst_of(0), f0, s); break;
      case 2: first_pass_ml<uint32_t, T>(a, dst_of(0), f0, s); break;
      case 3: first_pass_ml<unsigned long long, T>(a, dst_of(0), f0, s); break;
      default: throw std::invalid_argument("segscore._cuda: bad label type code");
    }
  } else {
    switch (a.in_type) {
      case 0: first_pass<uint8_t, T>(a, dst_of(0), f0, s); break;
      case 1: first_pass<uint16_t, T>(a, dst_of(0), f0, s); break;
      case 2: first_pass<uint32_t, T>(a, dst_of(0), f0, s); break;
      case 3: first_pass<unsigned long long, T>(a, dst_of(0), f0, s); break;
      case 4: first_pass<float, T>(a, dst_of(0), f0, s); break;
      case 5: first_pass<double, T>(a, dst_of(0), f0, s); break;
      default: throw std::invalid_argument("segscore._cuda: bad input type code");
    }
  }
  for (int k = 1; k < P; ++k) {
    const int fk = k == P - 1 ? a.finish : 0;
    const T* src = dst_of(k - 1);
    T* dst = dst_of(k);
    if (a.multilabel) {
      switch (a.in_type) {
        case 0: parabola_ml<uint8_t, T>(a, src, dst, k, fk, s); break;
        case 1: parabola_ml<uint16_t, T>(a, src, dst, k, fk, s); break;
        case 2: parabola_ml<uint32_t, T>(a, src, dst, k, fk, s); break;
        default: parabola_ml<unsigned long long, T>(a, src, dst, k, fk, s); break;
      }
    } else {
      launch(&k_edt_parabola<T>, a.grid[k], a.block, s, src, dst, a.ws, a.nmax, a.fd, a.sp,
             a.prefix + int64_t(k) * (a.nfields + 1), a.nfields, k, fk);
    }
  }
}

}  // namespace

void set_device(int device) {
#if !defined(SEGSCORE_CUDA_EMULATION)
  const cudaError_t e = cudaSetDevice(device);
  if (e != cudaSuccess) {
    cudaGetLastError();
    throw std::runtime_error(std::string("segscore._cuda: cannot use device ") + std::to_string(device) + ": " +
                             cudaGetErrorString(e));
  }
#else
  (void)device;
#endif
}

void edt_passes(const EdtLaunch& a, void* stream) {
  if (a.npasses < 1 || int(a.grid.size()) != a.npasses)
    throw std::invalid_argument("segscore._cuda.edt_passes: one grid size per pass is required");
  if (a.f64)
    edt_typed<double>(a, stream);
  else
    edt_typed<float>(a, stream);
  check("EDT launch");
}

void stats(const StatsLaunch& a, void* s) {
  launch(&k_stats_init, a.grid_init, a.block, s, a.st, a.K, a.nd);
  launch(&k_stats, a.grid, a.block, s, a.pred, a.pcode, a.ref, a.rcode, a.geo, a.nd, a.ignore, a.K, a.seg, a.st);
  check("counting pass launch");
}

void surface(const SurfaceLaunch& a, void* s) {
  if (a.nreg <= 0 || a.L <= 0) return;
  launch(&k_crop_fill, a.grid_rows, a.block, s, a.pred, a.pcode, a.ref, a.rcode, a.src_str, a.nd, a.ignore, a.rt,
         a.labels, a.rows, a.nreg, a.V, a.masks);
  launch(&k_crop_boundary, a.grid_rows, a.block, s, a.masks, a.V, a.rt, a.rows, a.nreg, a.nd, a.kind, a.conn, a.biou,
         a.nb, a.cnt);
  const int64_t n = 2 * a.L;
  const int64_t nchunks = (n + a.chunk - 1) / a.chunk;
  launch(&k_scan_partial, a.grid_chunks, a.block, s, a.cnt, n, a.chunk, a.sums);
  launch(&k_scan_sums, 1, 1, s, a.sums, nchunks);
  launch(&k_scan_apply, a.grid_chunks, a.block, s, a.cnt, n, a.chunk, a.sums, a.pos);
  edt_typed<double>(a.edt, s);
  launch(&k_crop_gather, a.grid_rows, a.block, s, a.masks, a.nb, static_cast<const double*>(a.edt.out), a.pos, a.V,
         a.rt, a.rows, a.nreg, a.nd, a.kind, a.spacing, a.d, a.w, a.biou, a.width, a.strict, a.res);
  launch(&k_region_counts, a.grid_regions, a.block, s, a.pos, a.rows, a.nreg, a.res);
  check("surface launch");
}

namespace {

template <typename T>
void calib_typed(const CalibLaunch& a, void* s) {
  const T* p = static_cast<const T*>(a.probs);
  if (a.stream_index >= 0) {
    launch(&k_calib_conf<T>, a.grid, a.block, s, p, a.target, a.mask, a.geo, a.ci, a.cd, a.stream_index, a.conf);
    return;
  }
  const int64_t words = a.copies * a.keys * 4;
  launch(&k_calib_init, a.grid_init, a.block, s, a.hist, words, a.counters);
  launch(&k_calib<T>, a.grid, a.block, s, p, a.target, a.mask, a.geo, a.ci, a.cd, a.hist, a.counters, a.partial);
  launch(&k_calib_reduce, a.grid_reduce, a.block, s, static_cast<const uint64_t*>(a.hist), a.copies, a.keys, a.out);
  if (a.partial)
    launch(&k_sum_chunks, a.grid_chunks, a.block, s, static_cast<const double*>(a.partial), 2 * a.grid * a.block,
           a.chunk, a.partial_sums);
}

template <typename TM>
void ensemble_typed(const CrpsLaunch& a, void* s) {
  if (a.c == nullptr) {
    launch(&k_crps_ensemble<TM, TM>, a.grid, a.block, s, a.a, a.types & 1, static_cast<const TM*>(a.b),
           static_cast<const TM*>(nullptr), a.geo, a.n, a.ws, a.out);
  } else if (a.types & 4) {
    launch(&k_crps_ensemble<TM, double>, a.grid, a.block, s, a.a, a.types & 1, static_cast<const TM*>(a.b),
           static_cast<const double*>(a.c), a.geo, a.n, a.ws, a.out);
  } else {
    launch(&k_crps_ensemble<TM, float>, a.grid, a.block, s, a.a, a.types & 1, static_cast<const TM*>(a.b),
           static_cast<const float*>(a.c), a.geo, a.n, a.ws, a.out);
  }
}

}  // namespace

void calibration(const CalibLaunch& a, void* s) {
  switch (a.ptype) {
    case 0: calib_typed<uint16_t>(a, s); break;
    case 1: calib_typed<float>(a, s); break;
    case 2: calib_typed<double>(a, s); break;
    default: throw std::invalid_argument("segscore._cuda: bad probability type code");
  }
  check("calibration launch");
}

void crps(const CrpsLaunch& a, void* s) {
  if (a.n <= 0) return;
  if (a.kind == 0) {
    launch(&k_crps_gaussian, a.grid, a.block, s, a.a, a.b, a.c, a.types, a.geo, a.n, a.out, a.bad);
  } else if (a.types & 2) {
    ensemble_typed<double>(a, s);
  } else {
    ensemble_typed<float>(a, s);
  }
  check("CRPS launch");
}

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

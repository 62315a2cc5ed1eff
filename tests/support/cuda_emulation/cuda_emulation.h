// Sequential CUDA emulation for the test-suite: lets g++ compile
// segscore/gpu_kernels.h, cuda/driver.cu and the CuPy path's kernel source,
// and "launches" a kernel by calling it once per (block, thread).  Every
// kernel is a grid-stride loop over independent items with integer atomics
// only, so a sequential run computes what the GPU computes; it checks the
// algorithms and both launch sequences, not GPU timing or races.
#pragma once
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#ifndef SEGSCORE_CUDA_EMULATION
#define SEGSCORE_CUDA_EMULATION 1
#endif

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  dim3() = default;
  dim3(unsigned a, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
inline thread_local dim3 threadIdx{0, 0, 0};
inline thread_local dim3 blockIdx{0, 0, 0};
inline thread_local dim3 blockDim{1, 1, 1};
inline thread_local dim3 gridDim{1, 1, 1};

inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) {
  const unsigned long long o = *p;
  *p = o + v;
  return o;
}
inline unsigned long long atomicCAS(unsigned long long* p, unsigned long long cmp, unsigned long long v) {
  const unsigned long long o = *p;
  if (o == cmp) *p = v;
  return o;
}
inline long long atomicMin(long long* p, long long v) {
  const long long o = *p;
  if (v < o) *p = v;
  return o;
}
inline long long atomicMax(long long* p, long long v) {
  const long long o = *p;
  if (v > o) *p = v;
  return o;
}

namespace segscore_emu {

template <typename... P, typename... A>
void run(unsigned grid, unsigned block, void (*kernel)(P...), A... args) {
  gridDim = dim3(grid);
  blockDim = dim3(block);
  for (unsigned b = 0; b < grid; ++b) {
    blockIdx = dim3(b, 0, 0);
    for (unsigned t = 0; t < block; ++t) {
      threadIdx = dim3(t, 0, 0);
      kernel(args...);
    }
  }
}

template <typename T>
using bare = std::remove_cv_t<std::remove_reference_t<T>>;

template <typename... P, std::size_t... I>
void run_packed_impl(unsigned g, unsigned b, void (*kernel)(P...), void** args, std::index_sequence<I...>) {
  run(g, b, kernel, *static_cast<bare<P>*>(args[I])...);
}

// cuLaunchKernel-style launch: args[i] points at the value of parameter i.
// Returns 0, or -1 for a wrong argument count, or i+1 when argument i has
// the wrong size (a Python launch sequence out of step with the kernel).
template <typename... P>
int run_packed(unsigned g, unsigned b, void (*kernel)(P...), void** args, const long long* sizes, int nargs) {
  if (nargs != int(sizeof...(P))) return -1;
  const long long want[] = {static_cast<long long>(sizeof(bare<P>))..., 0};
  for (int i = 0; i < nargs; ++i)
    if (sizes[i] != want[i]) return i + 1;
  run_packed_impl(g, b, kernel, args, std::index_sequence_for<P...>{});
  return 0;
}

}  // namespace segscore_emu

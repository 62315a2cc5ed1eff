// segscore/common.h - portability layer shared by g++, nvcc and NVRTC.
//
// Every kernel header includes this file first.  It defines SEGSCORE_HD
// (__host__ __device__ under CUDA, nothing under a host compiler), the
// fixed-width integer types (NVRTC has no <cstdint>) and a few math helpers.
// Nothing here allocates or uses the STL.
#pragma once

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define SEGSCORE_HD __host__ __device__
#define SEGSCORE_INLINE __forceinline__
#else
#define SEGSCORE_HD
#define SEGSCORE_INLINE inline
#endif

#if defined(__CUDACC_RTC__)
typedef signed char int8_t;
typedef unsigned char uint8_t;
typedef short int16_t;
typedef unsigned short uint16_t;
typedef int int32_t;
typedef unsigned int uint32_t;
typedef long long int64_t;
typedef unsigned long long uint64_t;
#else
#include <cmath>
#include <cstdint>
#endif

namespace segscore {

// Largest finite value used as "infinitely far" inside squared-distance
// passes.  Using a finite sentinel keeps the parabola intersections finite;
// values >= kFar are turned into +inf at the end of a transform.
template <typename T>
struct Far;
template <>
struct Far<float> {
  SEGSCORE_HD static constexpr float value() { return 1e30f; }
};
template <>
struct Far<double> {
  SEGSCORE_HD static constexpr double value() { return 1e300; }
};

template <typename T>
SEGSCORE_HD SEGSCORE_INLINE T sq(T x) {
  return x * x;
}

SEGSCORE_HD SEGSCORE_INLINE double ss_sqrt(double x) { return sqrt(x); }
SEGSCORE_HD SEGSCORE_INLINE float ss_sqrt(float x) { return sqrtf(x); }

// +inf of the argument's type (NVRTC has no <cmath> macros).
SEGSCORE_HD SEGSCORE_INLINE double ss_inf(double) {
#if defined(__CUDA_ARCH__)
  return __longlong_as_double(0x7ff0000000000000LL);
#else
  return HUGE_VAL;
#endif
}
SEGSCORE_HD SEGSCORE_INLINE float ss_inf(float) {
#if defined(__CUDA_ARCH__)
  return __int_as_float(0x7f800000);
#else
  return HUGE_VALF;
#endif
}

}  // namespace segscore

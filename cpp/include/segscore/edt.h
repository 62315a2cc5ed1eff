// segscore/edt.h - exact separable squared Euclidean distance transform.
//
// One 1-D routine serves every axis (Felzenszwalb & Huttenlocher's lower
// envelope of parabolas), parameterised by the element stride and the voxel
// spacing of that axis.  The first pass over binary input is a two-sided scan
// (edt_binary_line); every later pass runs edt_parabola_line on the squared
// distances of the previous passes.  Squared distances are sums of
// (spacing * index difference)^2, accumulated in pass order.
//
// Multi-label variants restrict both passes to runs of one label along the
// line: a voxel's distance is to the nearest voxel of a *different* label,
// and the array border is not a boundary (like seung-lab edt).
//
// Everything here takes raw pointers and caller-provided workspace, so the
// same code runs from the C++ driver, the CUDA module and NVRTC.
#pragma once
#include "segscore/common.h"

namespace segscore {

// First pass over a binary line: out[i] = (spacing * distance to the nearest
// zero of `in` along the line)^2, or Far if the line has no zero.
// `in` is read with stride `in_stride`, `out` written with `out_stride`.
template <typename In, typename T>
SEGSCORE_HD void edt_binary_line(const In* in, int64_t in_stride, T* out, int64_t out_stride,
                                 int64_t n, double spacing) {
  const T far = Far<T>::value();
  // forward: distance (in voxels) to the last zero at or before i
  int64_t last = -1;
  for (int64_t i = 0; i < n; ++i) {
    if (!in[i * in_stride]) {
      last = i;
      out[i * out_stride] = T(0);
    } else {
      out[i * out_stride] = last < 0 ? far : T(sq(spacing * double(i - last)));
    }
  }
  // backward: the next zero at or after i
  int64_t next = -1;
  for (int64_t i = n - 1; i >= 0; --i) {
    if (!in[i * in_stride]) {
      next = i;
    } else if (next >= 0) {
      T d = T(sq(spacing * double(next - i)));
      if (d < out[i * out_stride]) out[i * out_stride] = d;
    }
  }
}

// Lower envelope pass: out[q] = min_p f[p] + (spacing*(q-p))^2 over p with
// f[p] < Far.  f is read with stride `f_stride`, out written with stride
// `out_stride` (out must not alias f).  Workspace: v (n entries of I) and z
// (n+1 doubles), both addressed with stride `ws`: the CPU passes 1, the GPU
// interleaves the workspaces of its threads (ws = number of threads) so that
// neighbouring threads touch neighbouring addresses.
template <typename T, typename I>
SEGSCORE_HD void edt_parabola_line_ws(const T* f, int64_t f_stride, T* out, int64_t out_stride, int64_t n,
                                      double spacing, I* v, double* z, int64_t ws) {
  const T far = Far<T>::value();
  const double s2 = spacing * spacing;
  int64_t k = -1;
  for (int64_t q = 0; q < n; ++q) {
    const T fq_t = f[q * f_stride];
    const double fq = double(fq_t);
    if (!(fq_t < far)) continue;
    if (k < 0) {
      k = 0;
      v[0] = I(q);
      z[0] = -1e308;
      z[ws] = 1e308;
      continue;
    }
    double s;
    for (;;) {
      const int64_t p = int64_t(v[k * ws]);
      // intersection of the parabolas rooted at p and q, in index units
      s = ((fq - double(f[p * f_stride])) / s2 + double(q * q - p * p)) / (2.0 * double(q - p));
      if (s <= z[k * ws] && k > 0) {
        --k;
      } else {
        break;
      }
    }
    if (s <= z[k * ws]) {  // k == 0 and q dominates everywhere
      v[0] = I(q);
      z[0] = -1e308;
      z[ws] = 1e308;
      continue;
    }
    ++k;
    v[k * ws] = I(q);
    z[k * ws] = s;
    z[(k + 1) * ws] = 1e308;
  }
  if (k < 0) {
    for (int64_t q = 0; q < n; ++q) out[q * out_stride] = far;
    return;
  }
  int64_t j = 0;
  for (int64_t q = 0; q < n; ++q) {
    while (z[(j + 1) * ws] < double(q)) ++j;
    const int64_t p = int64_t(v[j * ws]);
    out[q * out_stride] = T(double(f[p * f_stride]) + sq(spacing * double(q - p)));
  }
}

// The CPU form: f contiguous (the caller gathers the line), unit-stride
// workspace v (n int64) and z (n+1 double).
template <typename T>
SEGSCORE_HD void edt_parabola_line(const T* f, T* out, int64_t out_stride, int64_t n, double spacing,
                                   int64_t* v, double* z) {
  edt_parabola_line_ws<T, int64_t>(f, 1, out, out_stride, n, spacing, v, z, 1);
}

// Final value of a squared-distance pass: +inf for "no zero voxel", else the
// distance (or its square).
template <typename T>
SEGSCORE_HD SEGSCORE_INLINE T edt_finish(T v, bool squared) {
  if (!(v < Far<T>::value())) return ss_inf(T(0));
  return squared ? v : ss_sqrt(v);
}

// Multi-label first pass: out[i] = (spacing * distance to the nearest voxel of
// a different label along the line)^2; label 0 -> 0; the line ends are not
// boundaries (Far when the whole line is one nonzero label).
template <typename L, typename T>
SEGSCORE_HD void edt_multilabel_first_line(const L* in, int64_t in_stride, T* out, int64_t out_stride,
                                           int64_t n, double spacing) {
  const T far = Far<T>::value();
  int64_t start = 0;
  while (start < n) {
    const L lab = in[start * in_stride];
    int64_t end = start + 1;
    while (end < n && in[end * in_stride] == lab) ++end;
    if (lab == L(0)) {
      for (int64_t i = start; i < end; ++i) out[i * out_stride] = T(0);
    } else {
      // a different label sits at start-1 (if start > 0) and at end (if end < n)
      for (int64_t i = start; i < end; ++i) {
        double best = 1e308;
        if (start > 0) best = sq(spacing * double(i - start + 1));
        if (end < n) {
          const double d = sq(spacing * double(end - i));
          if (d < best) best = d;
        }
        out[i * out_stride] = best >= 1e307 ? far : T(best);
      }
    }
    start = end;
  }
}

// Multi-label later pass: the envelope is built separately on each run of one
// label along the line; the voxels just outside a run (a different label)
// act as roots with value 0.  `lab` is the label line (strided), f the
// squared distances of earlier passes (stride f_stride), out strided (not
// aliasing f).  Workspace v, z as for edt_parabola_line_ws, g (2(n+2) T),
// all with stride ws.
template <typename L, typename T, typename I>
SEGSCORE_HD void edt_multilabel_parabola_line_ws(const L* lab, int64_t lab_stride, const T* f, int64_t f_stride,
                                                 T* out, int64_t out_stride, int64_t n, double spacing, I* v,
                                                 double* z, T* g, int64_t ws) {
  int64_t start = 0;
  while (start < n) {
    const L l = lab[start * lab_stride];
    int64_t end = start + 1;
    while (end < n && lab[end * lab_stride] == l) ++end;
    if (l == L(0)) {
      for (int64_t i = start; i < end; ++i) out[i * out_stride] = T(0);
    } else {
      // g holds [left neighbour, run..., right neighbour] where present
      const int64_t lo = start > 0 ? start - 1 : start;
      const int64_t hi = end < n ? end + 1 : end;
      const int64_t m = hi - lo;
      for (int64_t i = lo; i < hi; ++i) g[(i - lo) * ws] = (i < start || i >= end) ? T(0) : f[i * f_stride];
      edt_parabola_line_ws<T, I>(g, ws, g + m * ws, ws, m, spacing, v, z, ws);
      for (int64_t i = start; i < end; ++i) out[i * out_stride] = g[(m + (i - lo)) * ws];
    }
    start = end;
  }
}

// The CPU form: f contiguous, unit-stride workspace.
template <typename L, typename T>
SEGSCORE_HD void edt_multilabel_parabola_line(const L* lab, int64_t lab_stride, const T* f, T* out,
                                              int64_t out_stride, int64_t n, double spacing,
                                              int64_t* v, double* z, T* g) {
  edt_multilabel_parabola_line_ws<L, T, int64_t>(lab, lab_stride, f, 1, out, out_stride, n, spacing, v, z, g, 1);
}

}  // namespace segscore

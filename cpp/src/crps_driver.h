// CPU driver of the CRPS kernels (segscore/crps.h): strided n-d iteration and threads.
#pragma once
#include "array_view.h"

namespace segscore {

// out[i] = CRPS of N(mu, sigma^2) against obs, elementwise.  obs, mu and sigma are float32
// or float64 views of one common shape (broadcast by the caller, zero strides allowed);
// `out` is C-contiguous float64 of that shape.  Deterministic for any thread count.
void crps_gaussian(const ArrayView& obs, const ArrayView& mu, const ArrayView& sigma, double* out, int threads);

// out[b] = CRPS of the ensemble members[b, :] (weights[b, :], or equal weights when
// `weights` is null) against obs[b].  obs has the batch shape B (ndim >= 0); members and
// weights have shape B + (m,), the member axis last (any strides).  float32 or float64.
void crps_ensemble(const ArrayView& obs, const ArrayView& members, const ArrayView* weights, double* out,
                   int threads);

}  // namespace segscore

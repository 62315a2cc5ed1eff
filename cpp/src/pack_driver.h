#pragma once
#include <cstdint>

#include "array_view.h"

namespace segscore {

// What one packing pass saw: the bitwise or of every packed code (bit j set: channel c0 + j
// has a voxel) and whether some voxel belongs to two channels or more.
struct PackInfo {
  uint64_t any_bits = 0;
  bool overlap = false;
};

// Bit-pack the channel masks of a (C, *spatial) array, the layout of a one-hot or sigmoid
// segmentation (MONAI's channel-first item): out[v] = sum_j [x[c0 + j, v] == 1] << j for the
// channels [c0, c0 + n), n <= 31, so overlapping channels stay independent masks of one label
// map.  A voxel belongs to a channel when its value equals 1 (bool true, integer 1, float 1.0);
// round_f32: float64 values are rounded to float32 first (MONAI converts to float32 before its
// comparison).  x: any strides, bool / integer / float16 / float32 / float64; out: C-contiguous,
// the spatial shape, uint8 / uint16 / uint32 wide enough for n bits.  One pass over x, threads
// over lines of the last axis.
PackInfo pack_channels(const ArrayView& x, int64_t c0, int n, bool round_f32, void* out, DType out_dtype,
                       int threads);

}  // namespace segscore

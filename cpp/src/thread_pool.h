// One process-wide pool of std::threads (no OpenMP: torch ships its own
// libgomp, and libgomp misbehaves after fork in worker processes).
#pragma once
#include <cstdint>
#include <functional>

namespace segscore {

// Number of threads to use when the caller passes 0: SEGSCORE_NUM_THREADS if
// set, else the CPUs this process may run on.
int default_threads();

// Run fn(begin, end, worker) over [0, n) split into contiguous chunks on at
// most `threads` workers (the calling thread is one of them).  Chunks are
// deterministic in n and `chunks`, so results never depend on scheduling.
// Exceptions thrown by fn are re-thrown in the caller.
void parallel_for(int64_t n, int threads, const std::function<void(int64_t, int64_t, int)>& fn,
                  int64_t min_chunk = 1);

// Dynamic variant: items are handed out one at a time (for unequal work such
// as labels of very different sizes).  fn(item, worker).
void parallel_items(int64_t n, int threads, const std::function<void(int64_t, int)>& fn);

}  // namespace segscore

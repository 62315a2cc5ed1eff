// Launch sequences of segscore._cuda.  Everything is planned by the Python
// layer (python/segscore/_gpu/plan.py: tables, buffer sizes, launch shapes)
// and allocated by the caller's array library (CuPy pool / torch caching
// allocator), so this layer only launches kernels of segscore/gpu_kernels.h
// on the caller's stream: it allocates nothing and never synchronises.
// python/segscore/_gpu/cupy_backend.py is the same sequence for CuPy.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace segscore {
namespace cuda {

// Separable EDT over a batch of fields (segscore/gpu_kernels.h, FD_*).
struct EdtLaunch {
  const void* in = nullptr;  // first-pass input (binary: zero = feature; multilabel: labels)
  int in_type = 0;           // 0 u8, 1 u16, 2 u32, 3 u64, 4 f32, 5 f64 (binary); 0..3 (multilabel)
  bool multilabel = false;
  bool f64 = true;           // value type double (else float)
  void* out = nullptr;       // the last pass writes here
  void* tmp = nullptr;       // ping-pong buffer, same layout as out
  void* ws = nullptr;        // per-thread envelope workspace
  int64_t nmax = 0;          // longest line of the parabola passes
  const int64_t* fd = nullptr;
  const double* sp = nullptr;
  const int64_t* prefix = nullptr;  // npasses rows of nfields+1
  int nfields = 0;
  int npasses = 0;
  std::vector<int64_t> grid;  // blocks per pass
  int block = 128;
  int finish = 1;             // of the last pass: 0 raw, 1 distance, 2 squared
};

struct StatsLaunch {
  const void* pred = nullptr;
  int pcode = 0;
  const void* ref = nullptr;
  int rcode = 0;
  const int64_t* geo = nullptr;
  int nd = 0;
  int64_t ignore = -1;
  int64_t K = 256;
  int64_t seg = 256;
  int64_t* st = nullptr;
  int64_t grid_init = 1, grid = 1;
  int block = 128;
};

struct SurfaceLaunch {
  const void* pred = nullptr;
  int pcode = 0;
  const void* ref = nullptr;
  int rcode = 0;
  const int64_t* src_str = nullptr;
  int nd = 0;
  int64_t ignore = -1;
  const int64_t* rt = nullptr;
  const int64_t* labels = nullptr;
  const int64_t* rows = nullptr;
  int nreg = 0;
  int64_t V = 0;  // crop elements
  int64_t L = 0;  // crop rows
  int kind = 1;   // 0 voxel border, 1 corner grid
  int conn = 1;
  int biou = 0;
  double width = 0;
  int strict = 0;
  const double* spacing = nullptr;
  uint8_t* masks = nullptr;  // 2V
  uint8_t* nb = nullptr;     // 2V (4V with biou)
  int64_t* cnt = nullptr;    // 2L
  int64_t* sums = nullptr;   // nchunks + 1
  int64_t* pos = nullptr;    // 2L + 1
  double* d = nullptr;       // boundary elements (upper bound)
  double* w = nullptr;
  int64_t* res = nullptr;    // 4 nreg, zeroed
  int64_t chunk = 256;
  int64_t grid_rows = 1, grid_chunks = 1, grid_regions = 1;
  int block = 128;
  EdtLaunch edt;             // fields: in = nb, out = F (2V or 4V doubles)
};

// Calibration binning pass (segscore/gpu_score_kernels.h): init, one pass,
// the reduction of the private histograms and of the Brier / NLL partials.
struct CalibLaunch {
  const void* probs = nullptr;
  int ptype = 1;               // 0 float16 (bits), 1 float32, 2 float64
  const void* target = nullptr;
  const void* mask = nullptr;  // null: no mask (CI_MCODE -1)
  const int64_t* geo = nullptr;
  const int64_t* ci = nullptr;
  const double* cd = nullptr;
  uint64_t* hist = nullptr;    // copies x keys x 4
  int64_t copies = 1, keys = 0;
  int64_t* counters = nullptr; // CC_W
  uint64_t* out = nullptr;     // keys x 4, the reduced histogram
  double* partial = nullptr;   // 2 x grid x block (scores only, else null)
  double* partial_sums = nullptr;  // 2 x ceil(grid x block / chunk)
  int64_t chunk = 256;
  int64_t grid = 1, grid_init = 1, grid_reduce = 1, grid_chunks = 1;
  int block = 256;
  int64_t stream_index = -1;   // >= 0: write that stream's confidences to conf instead of binning
  double* conf = nullptr;
};

// CRPS, elementwise (gaussian) or one thread per observation (ensemble).
struct CrpsLaunch {
  int kind = 0;                // 0 gaussian, 1 ensemble
  const void* a = nullptr;     // obs
  const void* b = nullptr;     // mu / members
  const void* c = nullptr;     // sigma / weights (may be null)
  int types = 0;               // bit i: operand i is float64 (else float32)
  const int64_t* geo = nullptr;
  int64_t n = 0;
  double* out = nullptr;
  int64_t* bad = nullptr;      // gaussian: count of sigma < 0
  double* ws = nullptr;        // ensemble: sort scratch
  int64_t grid = 1;
  int block = 128;
};

void set_device(int device);
void edt_passes(const EdtLaunch& a, void* stream);
void stats(const StatsLaunch& a, void* stream);
void surface(const SurfaceLaunch& a, void* stream);
void calibration(const CalibLaunch& a, void* stream);
void crps(const CrpsLaunch& a, void* stream);

int device_count();
int runtime_version();
int driver_version();
int built_with();
// "" when the kernels can run on `device`, else why not.
std::string probe(int device);

}  // namespace cuda
}  // namespace segscore

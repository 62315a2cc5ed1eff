// segscore._cuda: the compiled executor of the GPU launch plans.
//
// It holds no launch sequence.  Every sequence (kernel names, grids, blocks,
// arguments, in order) is built once in python/segscore/gpu/plan.py and run
// by python/segscore/gpu/backend.py either here, kernel by kernel through
// `launch`, or through CuPy's RawModule (NVRTC) by the same names.  This layer
// holds the table of the kernels of segscore/gpu_kernels.h and
// segscore/gpu_score_kernels.h by name (driver.cu), launches one on the
// caller's stream, and offers plain memory helpers; it never synchronises
// except in `synchronize` and the blocking copies.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace segscore {
namespace cuda {

// One kernel of the table.  `name` is the name expression without the
// namespace, exactly as python/segscore/gpu/source.py spells it for NVRTC
// (e.g. "k_edt_first<unsigned char, float>").  `sig` has one letter per
// parameter, derived from the C++ parameter types: p any pointer, i int
// (32-bit), q int64_t (64-bit integer), d double.
struct Kernel {
  std::string name;
  std::string sig;
  const void* fn = nullptr;  // the __global__ function (host stub)
  // the sequential emulation's launcher (tests); unused by the CUDA build
  void (*emulate)(unsigned grid, unsigned block, void** args) = nullptr;
};

const std::vector<Kernel>& kernels();
// nullptr when `name` is not in the table.
const Kernel* find_kernel(const std::string& name);

// Launches `k` on `stream` with cudaLaunchKernel's convention: args[i] points
// at the value of parameter i, of the type sig[i] says.  Throws
// std::invalid_argument for a grid or block outside [1, 2^31) / [1, 1024],
// std::runtime_error when the launch fails.
void launch(const Kernel& k, int64_t grid, int block, size_t shmem, void* stream, void** args);

void set_device(int device);

// Memory helpers (device pointers as integers at the Python layer).  The GPU
// operations allocate with the caller's array library instead; these serve
// standalone use and the device checks.
void* mem_alloc(size_t bytes);
void mem_free(void* p);
void mem_set(void* p, int value, size_t bytes, void* stream);         // asynchronous on stream
void mem_copy(void* dst, const void* src, size_t bytes, void* stream);  // any direction; waits for stream
void synchronize(void* stream);

int device_count();
int runtime_version();
int driver_version();
int built_with();
// "" when the kernels can run on `device`, else why not.
std::string probe(int device);

}  // namespace cuda
}  // namespace segscore

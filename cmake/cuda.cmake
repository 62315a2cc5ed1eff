# Decide whether to build segscore._cuda.
#   OFF  : never.
#   AUTO : only when a CUDA compiler works; a broken toolkit never blocks the CPU build.
#   ON   : required; a failed detection fails the build (CI uses this).
if(SEGSCORE_CUDA STREQUAL "OFF")
  message(STATUS "segscore: _cuda disabled (SEGSCORE_CUDA=OFF)")
  return()
endif()

include(CheckLanguage)
if(NOT CMAKE_CUDA_COMPILER)
  # CMake does not search the usual toolkit location when nvcc is not on PATH.
  foreach(_cand /usr/local/cuda/bin/nvcc /usr/local/cuda-13/bin/nvcc /usr/local/cuda-12/bin/nvcc)
    if(EXISTS ${_cand})
      set(CMAKE_CUDA_COMPILER ${_cand})
      break()
    endif()
  endforeach()
endif()
check_language(CUDA)
if(NOT CMAKE_CUDA_COMPILER)
  if(SEGSCORE_CUDA STREQUAL "ON")
    message(FATAL_ERROR "segscore: SEGSCORE_CUDA=ON but no working CUDA compiler was found")
  endif()
  message(STATUS "segscore: no CUDA compiler found; building the CPU module only")
  return()
endif()

# Must be set before enable_language(CUDA): CMake alone would pick sm_75.
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES OR CMAKE_CUDA_ARCHITECTURES STREQUAL "")
  set(CMAKE_CUDA_ARCHITECTURES "80-real;90-real;90-virtual")
endif()
enable_language(CUDA)
set(CMAKE_CUDA_STANDARD 17)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
set(CMAKE_CUDA_RUNTIME_LIBRARY Static)   # cudart static; libcuda never linked

# module.cpp (pybind11, host compiler) + driver.cu (nvcc: the table of the
# kernels of segscore/gpu_kernels.h and gpu_score_kernels.h by name and the
# generic launcher; the launch sequences are python/segscore/gpu/plan.py's).
pybind11_add_module(_cuda MODULE cuda/module.cpp cuda/driver.cu)
target_include_directories(_cuda PRIVATE ${SEGSCORE_INCLUDE} ${CMAKE_CURRENT_SOURCE_DIR}/cuda)
set_target_properties(_cuda PROPERTIES CUDA_RUNTIME_LIBRARY Static)
string(REPLACE ";" "," _segscore_archs "${CMAKE_CUDA_ARCHITECTURES}")
target_compile_definitions(_cuda PRIVATE SEGSCORE_CUDA_ARCHS="${_segscore_archs}")
# --fmad=false: no fused multiply-add contraction, so device arithmetic rounds
# exactly like the CPU build (float64 results equal to the CPU path).
# --threads: compile the architectures in parallel (CI has 2 cores).
target_compile_options(_cuda PRIVATE
  $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr --fmad=false --threads=2 -Xfatbin=-compress-all>)
install(TARGETS _cuda LIBRARY DESTINATION segscore)
message(STATUS "segscore: building _cuda for architectures ${CMAKE_CUDA_ARCHITECTURES}")

// Registration hooks of the _cpu module: each metric family binds its own
// functions from its own source file, so module.cpp stays small.
#pragma once
#include <pybind11/pybind11.h>

namespace segscore {
void bind_calibration(pybind11::module_& m);  // cpp/src/bind_calibration.cpp
void bind_crps(pybind11::module_& m);         // cpp/src/bind_crps.cpp
}  // namespace segscore

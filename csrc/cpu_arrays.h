// The one calling convention of the CPU bindings: tensors arrive as numpy arrays (their sizes are
// read from the arrays), window-like sizes as (y, x) tuples, an absent optional array as None.
// Outputs are bound with .noconvert(): a wrong dtype or layout is a TypeError, never a silent copy
// that the kernel would fill and Python would never see.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <optional>
#include <utility>

namespace saliency {

using FloatArray = pybind11::array_t<float, pybind11::array::c_style>;
using StridedFloatArray = pybind11::array_t<float>;  // any strides, e.g. a channels-last patch
using IndexArray = pybind11::array_t<int64_t, pybind11::array::c_style>;
using ByteArray = pybind11::array_t<uint8_t, pybind11::array::c_style>;
using Pair = std::pair<int64_t, int64_t>;  // (y, x): a window, a stride, a padded size

}  // namespace saliency

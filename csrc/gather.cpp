// Patch gather for incremental occlusion on CPU: crop many windows of a padded channels-last
// activation table and paste each window's recomputed patch over its crop, in one pass.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>

#include "cpu_arrays.h"

namespace py = pybind11;
using saliency::FloatArray;
using saliency::IndexArray;
using saliency::Pair;
using saliency::StridedFloatArray;

namespace {

// out[r, i, j, :] = table[(image[r]·Hp + y0[r] + i)·Wp + x0[r] + j, :]   (a crop of the padded map)
// then, where 0 ≤ i − dy[r] < ph and 0 ≤ j − dx[r] < pw:
// out[r, i, j, c] = patch[r, c, i − dy[r], j − dx[r]]                  (any strides s0..s3)
// table [B·Hp·Wp, C], out [rows, h, w, C]; patch [rows, C, ph, pw] with dy, dx, or all three None.
void gather_patches(FloatArray table_array, Pair padded, IndexArray image_array, IndexArray y0_array,
                    IndexArray x0_array, std::optional<StridedFloatArray> patch_array,
                    std::optional<IndexArray> dy_array, std::optional<IndexArray> dx_array, FloatArray out_array) {
  const auto [Hp, Wp] = padded;
  if (table_array.ndim() != 2 || out_array.ndim() != 4)
    throw std::invalid_argument("gather_patches: table must be [B*Hp*Wp, C] and out [rows, h, w, C]");
  const int64_t n_table = table_array.shape(0), C = table_array.shape(1), rows = out_array.shape(0);
  const int64_t h = out_array.shape(1), w = out_array.shape(2);
  if (Hp <= 0 || Wp <= 0 || C <= 0 || n_table % (Hp * Wp) != 0)
    throw std::invalid_argument("gather_patches: sizes must be positive and the table a whole number of maps");
  if (out_array.shape(3) != C || image_array.size() != rows || y0_array.size() != rows || x0_array.size() != rows)
    throw std::invalid_argument("gather_patches: out must be [rows, h, w, C] and image, y0, x0 have rows entries");
  if (patch_array.has_value() != dy_array.has_value() || patch_array.has_value() != dx_array.has_value())
    throw std::invalid_argument("gather_patches: patch, dy and dx come together");
  const float* patch = nullptr;
  const int64_t* dy = nullptr;
  const int64_t* dx = nullptr;
  int64_t ph = 0, pw = 0, s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  if (patch_array) {
    const StridedFloatArray& p = *patch_array;
    if (p.ndim() != 4 || p.shape(0) != rows || p.shape(1) != C || dy_array->size() != rows ||
        dx_array->size() != rows)
      throw std::invalid_argument("gather_patches: patch must be [rows, C, ph, pw] and dy, dx have rows entries");
    patch = p.data();
    dy = dy_array->data();
    dx = dx_array->data();
    ph = p.shape(2);
    pw = p.shape(3);
    // numpy strides are in bytes; the loops below step in floats.
    s0 = p.strides(0) / static_cast<int64_t>(sizeof(float));
    s1 = p.strides(1) / static_cast<int64_t>(sizeof(float));
    s2 = p.strides(2) / static_cast<int64_t>(sizeof(float));
    s3 = p.strides(3) / static_cast<int64_t>(sizeof(float));
  }
  const float* table = table_array.data();
  const int64_t* image = image_array.data();
  const int64_t* y0 = y0_array.data();
  const int64_t* x0 = x0_array.data();
  float* out = out_array.mutable_data();
  const int64_t images = n_table / (Hp * Wp);
  for (int64_t r = 0; r < rows; ++r) {  // bounds first: a bad offset is an error, never a stray read
    if (image[r] < 0 || image[r] >= images || y0[r] < 0 || y0[r] + h > Hp || x0[r] < 0 || x0[r] + w > Wp)
      throw std::out_of_range("gather_patches: row " + std::to_string(r) + " crops outside the padded map");
  }
  py::gil_scoped_release release;
#pragma omp parallel for schedule(static)
  for (int64_t ri = 0; ri < rows * h; ++ri) {
    const int64_t r = ri / h, i = ri % h;
    float* o = out + ri * w * C;
    // A crop row is w consecutive channel vectors of the channels-last table: one copy.
    std::memcpy(o, table + ((image[r] * Hp + y0[r] + i) * Wp + x0[r]) * C, sizeof(float) * w * C);
    if (patch == nullptr) continue;
    const int64_t pi = i - dy[r];
    if (pi < 0 || pi >= ph) continue;
    const int64_t j0 = std::max<int64_t>(dx[r], 0), j1 = std::min<int64_t>(dx[r] + pw, w);
    const float* p = patch + r * s0 + pi * s2;
    for (int64_t j = j0; j < j1; ++j) {
      const float* pj = p + (j - dx[r]) * s3;
      float* oj = o + j * C;
      if (s1 == 1) {
        std::memcpy(oj, pj, sizeof(float) * C);
      } else {
        for (int64_t c = 0; c < C; ++c) oj[c] = pj[c * s1];
      }
    }
  }
}

}  // namespace

#ifdef WITH_CUDA
void gather_patches_cuda(const float* table, int64_t C, const int64_t* image, const int64_t* y0, const int64_t* x0,
                         int64_t rows, int64_t h, int64_t w, int64_t Hp, int64_t Wp, int64_t images,
                         const float* patch, int64_t ph, int64_t pw, int64_t s0, int64_t s1, int64_t s2,
                         int64_t s3, const int64_t* dy, const int64_t* dx, float* out, uintptr_t stream);
#endif

void register_gather(py::module_& m) {
  m.def("gather_patches", &gather_patches, py::arg("table"), py::arg("padded"), py::arg("image"), py::arg("y0"),
        py::arg("x0"), py::arg("patch").none(true), py::arg("dy").none(true), py::arg("dx").none(true),
        py::arg("out").noconvert(),
        "Crop windows of a padded channels-last table and paste patches over them (CPU; out is [rows, h, w, C];"
        " patch, dy, dx may be None)");
#ifdef WITH_CUDA
  m.def(
      "gather_patches_cuda",
      [](uintptr_t table, int64_t C, uintptr_t image, uintptr_t y0, uintptr_t x0, int64_t rows, int64_t h,
         int64_t w, int64_t Hp, int64_t Wp, int64_t images, uintptr_t patch, int64_t ph, int64_t pw, int64_t s0,
         int64_t s1, int64_t s2, int64_t s3, uintptr_t dy, uintptr_t dx, uintptr_t out, uintptr_t stream) {
        py::gil_scoped_release release;
        gather_patches_cuda(reinterpret_cast<const float*>(table), C, reinterpret_cast<const int64_t*>(image),
                            reinterpret_cast<const int64_t*>(y0), reinterpret_cast<const int64_t*>(x0), rows, h, w,
                            Hp, Wp, images, reinterpret_cast<const float*>(patch), ph, pw, s0, s1, s2, s3,
                            reinterpret_cast<const int64_t*>(dy), reinterpret_cast<const int64_t*>(dx),
                            reinterpret_cast<float*>(out), stream);
      },
      "gather_patches on raw CUDA device pointers, launched on `stream`");
#endif
}

// Patch gather for incremental occlusion on CPU: crop many windows of a padded channels-last
// activation table and paste each window's recomputed patch over its crop, in one pass.
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace py = pybind11;

namespace {

// out[r, i, j, :] = table[(image[r]·Hp + y0[r] + i)·Wp + x0[r] + j, :]   (a crop of the padded map)
// then, where 0 ≤ i − dy[r] < ph and 0 ≤ j − dx[r] < pw:
// out[r, i, j, c] = patch[r, c, i − dy[r], j − dx[r]]                  (any strides s0..s3)
void gather_patches(uintptr_t table_ptr, int64_t n_table, int64_t C, uintptr_t image_ptr, uintptr_t y0_ptr,
                    uintptr_t x0_ptr, int64_t rows, int64_t h, int64_t w, int64_t Hp, int64_t Wp,
                    uintptr_t patch_ptr, int64_t ph, int64_t pw, int64_t s0, int64_t s1, int64_t s2, int64_t s3,
                    uintptr_t dy_ptr, uintptr_t dx_ptr, uintptr_t out_ptr) {
  const float* table = reinterpret_cast<const float*>(table_ptr);
  const int64_t* image = reinterpret_cast<const int64_t*>(image_ptr);
  const int64_t* y0 = reinterpret_cast<const int64_t*>(y0_ptr);
  const int64_t* x0 = reinterpret_cast<const int64_t*>(x0_ptr);
  const float* patch = reinterpret_cast<const float*>(patch_ptr);
  const int64_t* dy = reinterpret_cast<const int64_t*>(dy_ptr);
  const int64_t* dx = reinterpret_cast<const int64_t*>(dx_ptr);
  float* out = reinterpret_cast<float*>(out_ptr);
  if (Hp <= 0 || Wp <= 0 || C <= 0 || h < 0 || w < 0 || rows < 0)
    throw std::out_of_range("gather_patches: sizes must be positive");
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
  m.def("gather_patches", &gather_patches, py::arg("table"), py::arg("n_table"), py::arg("C"), py::arg("image"),
        py::arg("y0"), py::arg("x0"), py::arg("rows"), py::arg("h"), py::arg("w"), py::arg("Hp"), py::arg("Wp"),
        py::arg("patch"), py::arg("ph"), py::arg("pw"), py::arg("s0"), py::arg("s1"), py::arg("s2"), py::arg("s3"),
        py::arg("dy"), py::arg("dx"), py::arg("out"),
        "Crop windows of a padded channels-last table and paste patches over them (CPU raw pointers)");
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

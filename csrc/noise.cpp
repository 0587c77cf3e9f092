// Mask-weighted Gaussian corruption on CPU: clamp(x + sigma * eps * m, 0, 1), eps from a counter RNG.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <stdexcept>

#include "cpu_arrays.h"
#include "kernels_common.h"

namespace py = pybind11;
using saliency::FloatArray;

namespace {

void masked_noise(FloatArray images, FloatArray masks, FloatArray out, float sigma, uint32_t key1, uint32_t key2) {
  if (images.ndim() != 4) throw std::invalid_argument("masked_noise: images must be [B,C,H,W]");
  const int64_t B = images.shape(0), C = images.shape(1), plane = images.shape(2) * images.shape(3);
  if (masks.size() != B * plane || out.size() != images.size())
    throw std::invalid_argument("masked_noise: masks must be [B,H,W] and out like images");
  const float* x = images.data();
  const float* m = masks.data();
  float* o = out.mutable_data();
  const int64_t total = images.size();
  {
    py::gil_scoped_release release;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < total; ++i) {
      const int64_t b = i / (C * plane), p = i % plane;
      const float eps = saliency::gaussian(static_cast<uint32_t>(i), key1, key2);
      const float y = x[i] + sigma * eps * m[b * plane + p];
      o[i] = y < 0.0f ? 0.0f : (y > 1.0f ? 1.0f : y);
    }
  }
}

}  // namespace

#ifdef WITH_CUDA
void masked_noise_cuda(const float* images, const float* masks, float* out, int64_t B, int64_t C, int64_t plane,
                       float sigma, uint32_t key1, uint32_t key2, uintptr_t stream);
#endif

void register_noise(py::module_& m) {
  m.def("hash32", [](uint32_t x) { return saliency::hash32(x); }, "The lowbias32 integer hash");
  m.def("masked_noise", &masked_noise, py::arg("images"), py::arg("masks"), py::arg("out").noconvert(),
        py::arg("sigma"), py::arg("key1"), py::arg("key2"),
        "clamp(x + sigma*eps*m, 0, 1) with counter-based eps (CPU)");
#ifdef WITH_CUDA
  m.def(
      "masked_noise_cuda",
      [](uintptr_t images, uintptr_t masks, uintptr_t out, int64_t B, int64_t C, int64_t plane, float sigma,
         uint32_t key1, uint32_t key2, uintptr_t stream) {
        py::gil_scoped_release release;
        masked_noise_cuda(reinterpret_cast<const float*>(images), reinterpret_cast<const float*>(masks),
                          reinterpret_cast<float*>(out), B, C, plane, sigma, key1, key2, stream);
      },
      "masked_noise on raw CUDA device pointers, launched on `stream`");
#endif
}

// Occlusion on CPU: batch generation (occluded copies) and accumulation (per-pixel mean of deltas).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "cpu_arrays.h"
#include "kernels_common.h"

namespace py = pybind11;
using saliency::FloatArray;
using saliency::Pair;

namespace {

// Window and stride are checked in Python; checked again here (cheaply) because a zero stride or
// a window larger than the image would make the C++ loops divide by zero or index out of range.
void check_windows(const char* what, int64_t H, int64_t W, Pair window, Pair stride) {
  if (window.first <= 0 || window.second <= 0 || stride.first <= 0 || stride.second <= 0)
    throw std::invalid_argument(std::string(what) + ": window and stride must be positive");
  if (window.first > H || window.second > W)
    throw std::invalid_argument(std::string(what) + ": the window is larger than the image");
}

// out[i*B+b] = images[b] with window (start+i) replaced by the baseline. The baseline is
// [Bb, C, Hb, Wb] with Bb in {1, B} and (Hb, Wb) in {(1, 1), (H, W)}: broadcast by zero strides.
void occlusion_batch(FloatArray images, FloatArray baseline, FloatArray out, Pair window, Pair stride,
                     int64_t start, int64_t count) {
  if (images.ndim() != 4 || baseline.ndim() != 4 || out.ndim() != 4)
    throw std::invalid_argument("occlusion_batch: images, baseline and out must be 4-D");
  const int64_t B = images.shape(0), C = images.shape(1), H = images.shape(2), W = images.shape(3);
  check_windows("occlusion_batch", H, W, window, stride);
  const auto [h, w] = window;
  const auto [sy, sx] = stride;
  const int64_t nx = (W - w + sx - 1) / sx + 1;  // ceil((W-w)/sx) + 1
  if (start < 0 || count < 0) throw std::invalid_argument("occlusion_batch: start and count must be >= 0");
  if (out.shape(0) != count * B || out.shape(1) != C || out.shape(2) != H || out.shape(3) != W)
    throw std::invalid_argument("occlusion_batch: out has the wrong shape");
  const int64_t Bb = baseline.shape(0), Hb = baseline.shape(2), Wb = baseline.shape(3);
  if ((Bb != 1 && Bb != B) || baseline.shape(1) != C || !((Hb == 1 && Wb == 1) || (Hb == H && Wb == W)))
    throw std::invalid_argument("occlusion_batch: baseline must be [1 or B, C, 1 or H, 1 or W]");
  const int64_t base_b = Bb == 1 ? 0 : C * Hb * Wb, base_y = Hb == 1 ? 0 : Wb, base_x = Wb == 1 ? 0 : 1;
  const float* src = images.data();
  const float* base = baseline.data();
  float* dst = out.mutable_data();
  const int64_t plane = H * W, planes = count * B * C;
  {
    py::gil_scoped_release release;
#pragma omp parallel for schedule(static)
    for (int64_t row = 0; row < planes; ++row) {
      const int64_t c = row % C, b = (row / C) % B, i = row / (C * B);
      const int64_t iy = (start + i) / nx, ix = (start + i) % nx;
      const int64_t y0 = iy * sy, x0 = ix * sx;
      const int64_t y1 = std::min(y0 + h, H), x1 = std::min(x0 + w, W);
      float* o = dst + row * plane;
      std::memcpy(o, src + (b * C + c) * plane, sizeof(float) * plane);
      const float* bp = base + b * base_b + c * Hb * Wb;
      for (int64_t y = y0; y < y1; ++y)
        for (int64_t x = x0; x < x1; ++x) o[y * W + x] = bp[y * base_y + x * base_x];
    }
  }
}

// out[b,y,x] = mean of deltas[b, window] over the windows covering (y, x), 0 where none:
// a 2-D prefix sum of the window grid makes each pixel O(1), whatever the window size.
void occlusion_accumulate(FloatArray deltas, FloatArray out, Pair window, Pair stride) {
  if (deltas.ndim() != 2 || out.ndim() != 3)
    throw std::invalid_argument("occlusion_accumulate: deltas must be 2-D and out 3-D");
  const int64_t B = out.shape(0), H = out.shape(1), W = out.shape(2);
  check_windows("occlusion_accumulate", H, W, window, stride);
  const auto [h, w] = window;
  const auto [sy, sx] = stride;
  const int64_t ny = (H - h + sy - 1) / sy + 1, nx = (W - w + sx - 1) / sx + 1;
  if (deltas.shape(0) != B || deltas.shape(1) != ny * nx)
    throw std::invalid_argument("occlusion_accumulate: deltas must be [B, ny*nx]");
  const float* d = deltas.data();
  float* o = out.mutable_data();
  // Covering window ranges per row and column do not depend on the image.
  std::vector<int64_t> ylo(H), yhi(H), xlo(W), xhi(W);
  for (int64_t y = 0; y < H; ++y) saliency::covering(y, h, sy, ny, &ylo[y], &yhi[y]);
  for (int64_t x = 0; x < W; ++x) saliency::covering(x, w, sx, nx, &xlo[x], &xhi[x]);
  {
    py::gil_scoped_release release;
#pragma omp parallel
    {
      std::vector<double> prefix((ny + 1) * (nx + 1), 0.0);  // prefix[(iy)*(nx+1)+ix]
#pragma omp for schedule(static)
      for (int64_t b = 0; b < B; ++b) {
        const float* g = d + b * ny * nx;
        for (int64_t iy = 0; iy < ny; ++iy) {
          double run = 0.0;
          for (int64_t ix = 0; ix < nx; ++ix) {
            run += g[iy * nx + ix];
            prefix[(iy + 1) * (nx + 1) + ix + 1] = prefix[iy * (nx + 1) + ix + 1] + run;
          }
        }
        float* ob = o + b * H * W;
        for (int64_t y = 0; y < H; ++y) {
          const int64_t a0 = ylo[y], a1 = yhi[y];
          for (int64_t x = 0; x < W; ++x) {
            const int64_t c0 = xlo[x], c1 = xhi[x];
            const int64_t n = (a1 - a0) * (c1 - c0);
            if (n == 0) {
              ob[y * W + x] = 0.0f;
              continue;
            }
            const double s = prefix[a1 * (nx + 1) + c1] - prefix[a0 * (nx + 1) + c1] -
                             prefix[a1 * (nx + 1) + c0] + prefix[a0 * (nx + 1) + c0];
            ob[y * W + x] = static_cast<float>(s / static_cast<double>(n));
          }
        }
      }
    }
  }
}

}  // namespace

#ifdef WITH_CUDA
void occlusion_batch_cuda(const float* images, const float* baseline, float* out, int64_t B, int64_t C,
                          int64_t H, int64_t W, int64_t Bb, int64_t Hb, int64_t Wb, int64_t h, int64_t w,
                          int64_t sy, int64_t sx, int64_t start, int64_t count, uintptr_t stream);
void occlusion_accumulate_cuda(const float* deltas, float* out, int64_t B, int64_t H, int64_t W,
                               int64_t h, int64_t w, int64_t sy, int64_t sx, uintptr_t stream);
#endif

void register_occlusion(py::module_& m) {
  m.def("occlusion_batch", &occlusion_batch, py::arg("images"), py::arg("baseline"), py::arg("out").noconvert(),
        py::arg("window"), py::arg("stride"), py::arg("start"), py::arg("count"),
        "Write occluded copies of images into out (CPU; float32 C-contiguous arrays, (h, w) and (sy, sx) pairs)");
  m.def("occlusion_accumulate", &occlusion_accumulate, py::arg("deltas"), py::arg("out").noconvert(),
        py::arg("window"), py::arg("stride"), "Per-pixel mean of the deltas of the covering windows (CPU)");
#ifdef WITH_CUDA
  m.def(
      "occlusion_batch_cuda",
      [](uintptr_t images, uintptr_t baseline, uintptr_t out, int64_t B, int64_t C, int64_t H, int64_t W,
         int64_t Bb, int64_t Hb, int64_t Wb, int64_t h, int64_t w, int64_t sy, int64_t sx, int64_t start,
         int64_t count, uintptr_t stream) {
        py::gil_scoped_release release;
        occlusion_batch_cuda(reinterpret_cast<const float*>(images), reinterpret_cast<const float*>(baseline),
                             reinterpret_cast<float*>(out), B, C, H, W, Bb, Hb, Wb, h, w, sy, sx, start,
                             count, stream);
      },
      "occlusion_batch on raw CUDA device pointers, launched on `stream`");
  m.def(
      "occlusion_accumulate_cuda",
      [](uintptr_t deltas, uintptr_t out, int64_t B, int64_t H, int64_t W, int64_t h, int64_t w, int64_t sy,
         int64_t sx, uintptr_t stream) {
        py::gil_scoped_release release;
        occlusion_accumulate_cuda(reinterpret_cast<const float*>(deltas), reinterpret_cast<float*>(out), B, H,
                                  W, h, w, sy, sx, stream);
      },
      "occlusion_accumulate on raw CUDA device pointers, launched on `stream`");
#endif
}

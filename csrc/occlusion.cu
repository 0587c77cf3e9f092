// Occlusion on CUDA: batch generation and accumulation (twins of occlusion.cpp).
#include <cstdint>

#include "cuda_check.h"
#include "kernels_common.h"

namespace {

__global__ void occlusion_batch_kernel(const float* __restrict__ images, const float* __restrict__ baseline,
                                       float* __restrict__ out, int64_t B, int64_t C, int64_t H, int64_t W,
                                       int64_t Bb, int64_t Hb, int64_t Wb, int64_t h, int64_t w, int64_t sy,
                                       int64_t sx, int64_t nx, int64_t start, int64_t total) {
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total;
       e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t x = e % W, y = (e / W) % H, c = (e / (W * H)) % C, b = (e / (W * H * C)) % B;
    const int64_t i = e / (W * H * C * B);
    const int64_t iy = (start + i) / nx, ix = (start + i) % nx;
    const int64_t y0 = iy * sy, x0 = ix * sx;
    const bool inside = y >= y0 && y < y0 + h && x >= x0 && x < x0 + w;
    float v;
    if (inside) {
      const int64_t bb = Bb == 1 ? 0 : b, yy = Hb == 1 ? 0 : y, xx = Wb == 1 ? 0 : x;
      v = baseline[((bb * C + c) * Hb + yy) * Wb + xx];
    } else {
      v = images[((b * C + c) * H + y) * W + x];
    }
    out[e] = v;
  }
}

// One thread per pixel, summing the deltas of the (few) covering windows directly.
__global__ void occlusion_accumulate_kernel(const float* __restrict__ deltas, float* __restrict__ out, int64_t B,
                                            int64_t H, int64_t W, int64_t h, int64_t w, int64_t sy, int64_t sx,
                                            int64_t ny, int64_t nx) {
  const int64_t total = B * H * W;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total;
       e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t x = e % W, y = (e / W) % H, b = e / (W * H);
    int64_t a0, a1, c0, c1;
    saliency::covering(y, h, sy, ny, &a0, &a1);
    saliency::covering(x, w, sx, nx, &c0, &c1);
    const float* g = deltas + b * ny * nx;
    double s = 0.0;
    for (int64_t iy = a0; iy < a1; ++iy)
      for (int64_t ix = c0; ix < c1; ++ix) s += g[iy * nx + ix];
    const int64_t n = (a1 - a0) * (c1 - c0);
    out[e] = n > 0 ? static_cast<float>(s / static_cast<double>(n)) : 0.0f;
  }
}

}  // namespace

void occlusion_batch_cuda(const float* images, const float* baseline, float* out, int64_t B, int64_t C,
                          int64_t H, int64_t W, int64_t Bb, int64_t Hb, int64_t Wb, int64_t h, int64_t w,
                          int64_t sy, int64_t sx, int64_t start, int64_t count, uintptr_t stream) {
  const int64_t nx = (W - w + sx - 1) / sx + 1;
  const int64_t total = count * B * C * H * W;
  if (total == 0) return;
  occlusion_batch_kernel<<<blocks_for(total, 256), 256, 0, reinterpret_cast<cudaStream_t>(stream)>>>(
      images, baseline, out, B, C, H, W, Bb, Hb, Wb, h, w, sy, sx, nx, start, total);
  check_cuda("occlusion_batch_cuda");
}

void occlusion_accumulate_cuda(const float* deltas, float* out, int64_t B, int64_t H, int64_t W, int64_t h,
                               int64_t w, int64_t sy, int64_t sx, uintptr_t stream) {
  const int64_t ny = (H - h + sy - 1) / sy + 1, nx = (W - w + sx - 1) / sx + 1;
  const int64_t total = B * H * W;
  if (total == 0) return;
  occlusion_accumulate_kernel<<<blocks_for(total, 256), 256, 0, reinterpret_cast<cudaStream_t>(stream)>>>(
      deltas, out, B, H, W, h, w, sy, sx, ny, nx);
  check_cuda("occlusion_accumulate_cuda");
}

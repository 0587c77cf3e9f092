// Patch gather for incremental occlusion on CUDA (twin of gather.cpp): one thread per output value.
#include <cstdint>

#include "cuda_check.h"

namespace {

__global__ void gather_patches_kernel(const float* __restrict__ table, int64_t C, const int64_t* __restrict__ image,
                                      const int64_t* __restrict__ y0, const int64_t* __restrict__ x0, int64_t h,
                                      int64_t w, int64_t Hp, int64_t Wp, int64_t images,
                                      const float* __restrict__ patch, int64_t ph, int64_t pw, int64_t s0,
                                      int64_t s1, int64_t s2, int64_t s3, const int64_t* __restrict__ dy,
                                      const int64_t* __restrict__ dx, float* __restrict__ out, int64_t total) {
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total;
       e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t c = e % C, j = (e / C) % w, i = (e / (C * w)) % h, r = e / (C * w * h);
    if (patch != nullptr) {
      const int64_t pi = i - dy[r], pj = j - dx[r];
      if (pi >= 0 && pi < ph && pj >= 0 && pj < pw) {
        out[e] = patch[r * s0 + c * s1 + pi * s2 + pj * s3];
        continue;
      }
    }
    const int64_t y = y0[r] + i, x = x0[r] + j, b = image[r];
    // Offsets are validated on the host side of the engine; out-of-range reads become 0, never stray.
    out[e] = (b >= 0 && b < images && y >= 0 && y < Hp && x >= 0 && x < Wp) ? table[((b * Hp + y) * Wp + x) * C + c]
                                                                            : 0.0f;
  }
}

}  // namespace

void gather_patches_cuda(const float* table, int64_t C, const int64_t* image, const int64_t* y0, const int64_t* x0,
                         int64_t rows, int64_t h, int64_t w, int64_t Hp, int64_t Wp, int64_t images,
                         const float* patch, int64_t ph, int64_t pw, int64_t s0, int64_t s1, int64_t s2,
                         int64_t s3, const int64_t* dy, const int64_t* dx, float* out, uintptr_t stream) {
  const int64_t total = rows * h * w * C;
  if (total == 0) return;
  gather_patches_kernel<<<blocks_for(total, 256), 256, 0, reinterpret_cast<cudaStream_t>(stream)>>>(
      table, C, image, y0, x0, h, w, Hp, Wp, images, patch, ph, pw, s0, s1, s2, s3, dy, dx, out, total);
  check_cuda("gather_patches_cuda");
}

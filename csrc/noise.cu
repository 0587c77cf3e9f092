// Mask-weighted Gaussian corruption on CUDA (twin of noise.cpp, same counter-based RNG).
#include <cstdint>

#include "cuda_check.h"
#include "kernels_common.h"

namespace {

__global__ void masked_noise_kernel(const float* __restrict__ images, const float* __restrict__ masks,
                                    float* __restrict__ out, int64_t C, int64_t plane, int64_t total, float sigma,
                                    uint32_t key1, uint32_t key2) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total;
       i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t b = i / (C * plane), p = i % plane;
    const float eps = saliency::gaussian(static_cast<uint32_t>(i), key1, key2);
    const float y = images[i] + sigma * eps * masks[b * plane + p];
    out[i] = fminf(fmaxf(y, 0.0f), 1.0f);
  }
}

}  // namespace

void masked_noise_cuda(const float* images, const float* masks, float* out, int64_t B, int64_t C, int64_t plane,
                       float sigma, uint32_t key1, uint32_t key2, uintptr_t stream) {
  const int64_t total = B * C * plane;
  if (total == 0) return;
  masked_noise_kernel<<<blocks_for(total, 256), 256, 0, reinterpret_cast<cudaStream_t>(stream)>>>(
      images, masks, out, C, plane, total, sigma, key1, key2);
  check_cuda("masked_noise_cuda");
}

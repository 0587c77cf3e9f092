// Fused top-percent threshold + mask + region share on CUDA: one block per map, 8-bit radix select
// over order-preserving keys (4 histogram passes), then one counting/mask pass.
#include <cstdint>

#include "cuda_check.h"
#include "kernels_common.h"

namespace {

constexpr int kThreads = 512;

__global__ void top_percent_kernel(const float* __restrict__ maps, int64_t H, int64_t W, int64_t k,
                                   int64_t region_kind, const int64_t* __restrict__ boxes,
                                   const uint8_t* __restrict__ region_masks, float* threshold, float* share,
                                   int64_t* count, uint8_t* mask) {
  const int64_t n = H * W, b = blockIdx.x;
  const float* map = maps + b * n;
  __shared__ unsigned int hist[256];
  __shared__ unsigned long long valid, salient, inside;
  __shared__ uint32_t prefix, prefix_mask;
  __shared__ long long remaining;
  if (threadIdx.x == 0) {
    valid = 0;
    salient = 0;
    inside = 0;
    prefix = 0;
    prefix_mask = 0;
  }
  __syncthreads();
  unsigned long long mine = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) mine += !isnan(map[i]);
  atomicAdd(&valid, mine);
  __syncthreads();
  const float nan = __int_as_float(0x7fc00000);
  float t = nan;
  if (valid > 0) {
    if (threadIdx.x == 0) remaining = k < (long long)valid ? k : (long long)valid;  // rank from the top
    for (int shift = 24; shift >= 0; shift -= 8) {
      for (int d = threadIdx.x; d < 256; d += blockDim.x) hist[d] = 0;
      __syncthreads();
      const uint32_t want = prefix, want_mask = prefix_mask;
      for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        const float x = map[i];
        if (isnan(x)) continue;
        const uint32_t key = saliency::float_key(__float_as_uint(x));
        if ((key & want_mask) == want) atomicAdd(&hist[(key >> shift) & 255U], 1U);
      }
      __syncthreads();
      if (threadIdx.x == 0) {
        long long above = 0;
        for (int d = 255; d >= 0; --d) {
          if (above + hist[d] >= remaining) {
            remaining -= above;
            prefix |= static_cast<uint32_t>(d) << shift;
            prefix_mask |= 255U << shift;
            break;
          }
          above += hist[d];
        }
      }
      __syncthreads();
    }
    t = __uint_as_float(saliency::key_bits(prefix));
  }
  int64_t x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  if (region_kind == 1) {
    const int64_t* box = boxes + b * 4;
    x0 = min(max(box[0], (int64_t)0), W);
    y0 = min(max(box[1], (int64_t)0), H);
    x1 = min(max(box[2], (int64_t)0), W);
    y1 = min(max(box[3], (int64_t)0), H);
  }
  unsigned long long my_salient = 0, my_inside = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const bool s = map[i] >= t;  // false for NaN values and a NaN threshold
    if (mask != nullptr) mask[b * n + i] = s;
    my_salient += s;
    if (region_kind == 1) {
      const int64_t y = i / W, x = i % W;
      my_inside += s && y >= y0 && y < y1 && x >= x0 && x < x1;
    } else if (region_kind == 2) {
      my_inside += s && region_masks[b * n + i] != 0;
    }
  }
  atomicAdd(&salient, my_salient);
  atomicAdd(&inside, my_inside);
  __syncthreads();
  if (threadIdx.x == 0) {
    threshold[b] = t;
    count[b] = static_cast<int64_t>(salient);
    share[b] = (region_kind != 0 && salient > 0) ? static_cast<float>((double)inside / (double)salient) : nan;
  }
}

}  // namespace

void top_percent_cuda(const float* maps, int64_t B, int64_t H, int64_t W, int64_t k, int64_t region_kind,
                      const int64_t* boxes, const uint8_t* region_masks, float* threshold, float* share,
                      int64_t* count, uint8_t* mask, uintptr_t stream) {
  if (B == 0) return;
  top_percent_kernel<<<static_cast<unsigned int>(B), kThreads, 0, reinterpret_cast<cudaStream_t>(stream)>>>(
      maps, H, W, k, region_kind, boxes, region_masks, threshold, share, count, mask);
  check_cuda("top_percent_cuda");
}

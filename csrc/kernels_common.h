// Shared by the C++ and CUDA kernels: geometry and the counter-based RNG (host + device).
#pragma once
#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define SAL_HD __host__ __device__ __forceinline__
#else
#define SAL_HD inline
#endif

namespace saliency {

// lowbias32 (Chris Wellons): the same integer hash as saliency_core.kernels.reference.hash32.
SAL_HD uint32_t hash32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

// Standard normal for flat element `index`: Box-Muller on two hashed uniforms (see reference.gaussian).
SAL_HD float gaussian(uint32_t index, uint32_t key1, uint32_t key2) {
  const float scale = 1.0f / 16777216.0f;
  float u1 = static_cast<float>((hash32(index + key1) >> 8) + 1U) * scale;
  float u2 = static_cast<float>(hash32(index + key2) >> 8) * scale;
#if defined(__CUDA_ARCH__)
  return sqrtf(-2.0f * logf(u1)) * cosf(6.2831855f * u2);
#else
  return std::sqrt(-2.0f * std::log(u1)) * std::cos(6.2831855f * u2);
#endif
}

// Range [lo, hi) of window indices along one axis whose window [i*s, i*s+w) covers pixel p.
SAL_HD void covering(int64_t p, int64_t w, int64_t s, int64_t n, int64_t* lo, int64_t* hi) {
  int64_t first = p - w + 1 <= 0 ? 0 : (p - w + 1 + s - 1) / s;  // ceil((p-w+1)/s), >= 0
  int64_t last = p / s + 1;                                       // floor(p/s) + 1
  *lo = first;
  *hi = last < n ? last : n;
  if (*hi < *lo) *hi = *lo;
}

// Order-preserving map float -> uint32 (NaN excluded by the callers).
SAL_HD uint32_t float_key(uint32_t bits) {
  return (bits & 0x80000000U) ? ~bits : (bits | 0x80000000U);
}
SAL_HD uint32_t key_bits(uint32_t key) {
  return (key & 0x80000000U) ? (key & 0x7fffffffU) : ~key;
}

}  // namespace saliency

// Fused top-percent threshold + salient mask + region share on CPU, one map per task.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <optional>
#include <stdexcept>
#include <vector>

#include "cpu_arrays.h"
#include "kernels_common.h"

namespace py = pybind11;
using saliency::ByteArray;
using saliency::FloatArray;
using saliency::IndexArray;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr int64_t kParallelPixels = int64_t{1} << 18;  // 16 maps of 128x128

// The k-th largest non-NaN value of v[0..n) (the smallest one when fewer than k), NaN if none.
// A sample gives a pivot just below the expected k-th value; one pass keeps the values
// above it and nth_element runs on those few. `buf` has room for n values.
float kth_largest(const float* v, int64_t n, int64_t k, std::vector<float>& buf, int64_t* kept) {
  int64_t valid = 0;
  float pivot = -std::numeric_limits<float>::infinity();
  bool use_pivot = false;
  // The sample: 64 runs of 16 neighbours (one cache line each) spread over the map; strided
  // single values would touch ~16x more cache lines for the same sample size.
  constexpr int64_t kRuns = 64, kRun = 16;
  if (n >= 4 * kRuns * kRun && k < n / 8) {
    const int64_t step = n / kRuns;
    int64_t m = 0;
    for (int64_t r = 0; r < kRuns; ++r)
      for (int64_t i = r * step; i < r * step + kRun; ++i)
        if (!std::isnan(v[i])) buf[m++] = v[i];
    if (m > 0) {
      // Rank in the sample of the expected k-th value, widened by a few standard deviations.
      const double frac = static_cast<double>(k) / static_cast<double>(n);
      int64_t r = static_cast<int64_t>(frac * m + 2.5 * std::sqrt(frac * m) + 2.0);
      if (r < m) {
        std::nth_element(buf.begin(), buf.begin() + r, buf.begin() + m, std::greater<float>());
        pivot = buf[r];
        use_pivot = true;
      }
    }
  }
  int64_t size = 0;
  if (use_pivot) {
    // Blocks of 16 values tested with 4-wide vectors (GCC/Clang vector extensions, portable
    // across targets); the branch-free gather runs only in the rare blocks holding a value
    // >= pivot. NaN fails every comparison.
    using f4 = float __attribute__((vector_size(16)));
    using i4 = int32_t __attribute__((vector_size(16)));
    const f4 pv = {pivot, pivot, pivot, pivot};
    i4 ok = {0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
      f4 a, b, c, d;
      std::memcpy(&a, v + i, sizeof a);
      std::memcpy(&b, v + i + 4, sizeof b);
      std::memcpy(&c, v + i + 8, sizeof c);
      std::memcpy(&d, v + i + 12, sizeof d);
      const i4 hit = (a >= pv) | (b >= pv) | (c >= pv) | (d >= pv);
      ok -= (a == a) + (b == b) + (c == c) + (d == d);  // true is -1
      if (hit[0] | hit[1] | hit[2] | hit[3])
        for (int64_t j = i; j < i + 16; ++j) {
          buf[size] = v[j];
          size += v[j] >= pivot;
        }
    }
    valid = static_cast<int64_t>(ok[0]) + ok[1] + ok[2] + ok[3];
    for (; i < n; ++i) {
      valid += v[i] == v[i];
      buf[size] = v[i];
      size += v[i] >= pivot;
    }
    const int64_t kk = std::min(k, valid);
    if (size < kk) use_pivot = false;  // unlucky sample: fall back to every value
  }
  if (!use_pivot) {
    size = 0;
    for (int64_t i = 0; i < n; ++i)
      if (!std::isnan(v[i])) buf[size++] = v[i];
    valid = size;
  }
  if (valid == 0) {
    *kept = 0;
    return kNaN;
  }
  const int64_t kk = std::min(k, valid);
  std::nth_element(buf.begin(), buf.begin() + (kk - 1), buf.begin() + size, std::greater<float>());
  const float threshold = buf[kk - 1];
  // Every value >= threshold is in buf (threshold >= pivot): count the salient pixels there.
  int64_t salient = 0;
  for (int64_t i = 0; i < size; ++i) salient += buf[i] >= threshold;
  *kept = salient;
  return threshold;
}

// The region is boxes int64 [B,4] (x0,y0,x1,y1), masks uint8 [B,H,W], or neither (None, None);
// `mask` (uint8 [B,H,W]) is written when given.
void top_percent(FloatArray maps, int64_t k, std::optional<IndexArray> boxes, std::optional<ByteArray> region_masks,
                 FloatArray threshold, FloatArray share, IndexArray count, std::optional<ByteArray> mask) {
  if (maps.ndim() != 3) throw std::invalid_argument("top_percent: maps must be [B,H,W]");
  const int64_t B = maps.shape(0), H = maps.shape(1), W = maps.shape(2), n = H * W;
  if (k < 1) throw std::invalid_argument("top_percent: k must be >= 1");
  if (threshold.size() != B || share.size() != B || count.size() != B)
    throw std::invalid_argument("top_percent: outputs must have B elements");
  if (boxes && region_masks) throw std::invalid_argument("top_percent: give boxes or region masks, not both");
  if (boxes && (boxes->ndim() != 2 || boxes->shape(0) != B || boxes->shape(1) != 4))
    throw std::invalid_argument("top_percent: boxes must be [B,4]");
  if (region_masks && region_masks->size() != B * n)
    throw std::invalid_argument("top_percent: region masks must be [B,H,W]");
  if (mask && mask->size() != B * n) throw std::invalid_argument("top_percent: mask must be [B,H,W]");
  const int64_t region_kind = boxes ? 1 : (region_masks ? 2 : 0);
  const float* v = maps.data();
  const int64_t* bx = boxes ? boxes->data() : nullptr;
  const uint8_t* rm = region_masks ? region_masks->data() : nullptr;
  float* thr = threshold.mutable_data();
  float* sh = share.mutable_data();
  int64_t* cnt = count.mutable_data();
  uint8_t* mk = mask ? mask->mutable_data() : nullptr;
  {
    py::gil_scoped_release release;
    // A thread team costs more than a few small maps: on a busy machine waking the second thread
    // took ~20 ms for one 128x128 map that one thread ranks in 0.04 ms. Parallel only for real work.
    const bool parallel = B > 1 && B * n >= kParallelPixels;
#pragma omp parallel if (parallel)
    {
      std::vector<float> buf(n);
#pragma omp for schedule(dynamic, 4)
      for (int64_t b = 0; b < B; ++b) {
        const float* map = v + b * n;
        int64_t salient = 0;
        const float t = kth_largest(map, n, k, buf, &salient);
        thr[b] = t;
        cnt[b] = salient;
        if (mk != nullptr) {
          uint8_t* mb = mk + b * n;
          for (int64_t i = 0; i < n; ++i) mb[i] = map[i] >= t;  // all false when t is NaN
        }
        if (region_kind == 0) {
          sh[b] = kNaN;
          continue;
        }
        int64_t inside = 0;
        if (region_kind == 1) {
          const int64_t* box = bx + b * 4;
          const int64_t x0 = std::clamp<int64_t>(box[0], 0, W), y0 = std::clamp<int64_t>(box[1], 0, H);
          const int64_t x1 = std::clamp<int64_t>(box[2], 0, W), y1 = std::clamp<int64_t>(box[3], 0, H);
          for (int64_t y = y0; y < y1; ++y)
            for (int64_t x = x0; x < x1; ++x) inside += map[y * W + x] >= t;
        } else {
          const uint8_t* r = rm + b * n;
          for (int64_t i = 0; i < n; ++i) inside += (r[i] != 0) & (map[i] >= t);
        }
        sh[b] = salient > 0 ? static_cast<float>(static_cast<double>(inside) / static_cast<double>(salient))
                            : kNaN;
      }
    }
  }
}

}  // namespace

#ifdef WITH_CUDA
void top_percent_cuda(const float* maps, int64_t B, int64_t H, int64_t W, int64_t k, int64_t region_kind,
                      const int64_t* boxes, const uint8_t* region_masks, float* threshold, float* share,
                      int64_t* count, uint8_t* mask, uintptr_t stream);
#endif

void register_threshold(py::module_& m) {
  m.def("top_percent", &top_percent, py::arg("maps"), py::arg("k"), py::arg("boxes").none(true),
        py::arg("region_masks").none(true), py::arg("threshold").noconvert(), py::arg("share").noconvert(),
        py::arg("count").noconvert(), py::arg("mask").noconvert().none(true),
        "Fused k-th largest threshold, salient mask and region share (CPU; boxes, region_masks, mask may be None)");
#ifdef WITH_CUDA
  m.def(
      "top_percent_cuda",
      [](uintptr_t maps, int64_t B, int64_t H, int64_t W, int64_t k, int64_t region_kind, uintptr_t boxes,
         uintptr_t region_masks, uintptr_t threshold, uintptr_t share, uintptr_t count, uintptr_t mask,
         uintptr_t stream) {
        py::gil_scoped_release release;
        top_percent_cuda(reinterpret_cast<const float*>(maps), B, H, W, k, region_kind,
                         reinterpret_cast<const int64_t*>(boxes), reinterpret_cast<const uint8_t*>(region_masks),
                         reinterpret_cast<float*>(threshold), reinterpret_cast<float*>(share),
                         reinterpret_cast<int64_t*>(count), reinterpret_cast<uint8_t*>(mask), stream);
      },
      "top_percent on raw CUDA device pointers (mask may be 0), launched on `stream`");
#endif
}

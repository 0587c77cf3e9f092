// Turn a CUDA error after a launch into a C++ exception (pybind11 makes it a RuntimeError).
#pragma once
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

inline void check_cuda(const char* what) {
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
}

inline unsigned int blocks_for(long long n, int threads) {
  long long blocks = (n + threads - 1) / threads;
  return static_cast<unsigned int>(blocks < 65535LL * 32 ? blocks : 65535LL * 32);
}

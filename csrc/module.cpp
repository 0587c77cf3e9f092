// Python bindings of saliency_core._ext (kernels are registered by their own sources).
#include <pybind11/pybind11.h>

namespace py = pybind11;

#ifdef WITH_CUDA
bool cuda_device_available();
#endif
void register_occlusion(py::module_& m);
void register_threshold(py::module_& m);
void register_noise(py::module_& m);
void register_gather(py::module_& m);

PYBIND11_MODULE(_ext, m) {
  m.doc() = "Fused occlusion and top-percentile kernels for saliency_core";
#ifdef WITH_CUDA
  m.attr("WITH_CUDA") = true;
  m.def("cuda_available", &cuda_device_available, "True when a CUDA device is visible at run time");
#else
  m.attr("WITH_CUDA") = false;
  m.def("cuda_available", []() { return false; });
#endif
  register_occlusion(m);
  register_threshold(m);
  register_noise(m);
  register_gather(m);
}

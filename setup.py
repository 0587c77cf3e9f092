"""Build `saliency_core._ext` with CMake (the pattern of pybind11's cmake_example).

Environment switches:
  SALIENCY_CUDA=AUTO|ON|OFF   build the CUDA kernels. AUTO (the default): only when a GPU is visible
                              (/dev/nvidia<N> or `nvidia-smi -L`) and a CUDA compiler is found, so a
                              machine without a GPU never spends minutes compiling them; ON: always
                              (CI sets it so the CUDA sources never rot), failing without nvcc; OFF: never
  SALIENCY_CUDA_ARCHS=...     CMAKE_CUDA_ARCHITECTURES (default: a short list of major GPUs)
  SALIENCY_REQUIRE_EXT=1      a failed native build fails the install instead of falling back
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).parent.resolve()


def gpu_visible() -> bool:
    """Whether this machine shows an NVIDIA GPU (a device node, or `nvidia-smi -L` lists one)."""
    if any(Path("/dev").glob("nvidia[0-9]*")):
        return True
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and "GPU" in out.stdout


def cuda_setting() -> str:
    """SALIENCY_CUDA for CMake: ON and OFF as given; AUTO becomes OFF when no GPU is visible."""
    value = os.environ.get("SALIENCY_CUDA", "AUTO").strip().upper() or "AUTO"
    if value not in ("AUTO", "ON", "OFF"):
        raise ValueError(f"SALIENCY_CUDA must be AUTO, ON or OFF, got {value!r}")
    return "OFF" if value == "AUTO" and not gpu_visible() else value


class CMakeExtension(Extension):
    def __init__(self, name: str, sourcedir: Path) -> None:
        super().__init__(name, sources=[])
        self.sourcedir = str(sourcedir)


class CMakeBuild(build_ext):
    def build_extension(self, ext: Extension) -> None:
        assert isinstance(ext, CMakeExtension)
        try:
            self._cmake(ext)
        except (OSError, subprocess.CalledProcessError) as err:
            if os.environ.get("SALIENCY_REQUIRE_EXT") == "1":
                raise
            # The package still works on its plain-torch reference kernels.
            warnings.warn(f"saliency_core._ext failed to build ({err}); using reference kernels")
            self._failed.add(ext.name)

    _failed: set[str] = set()

    def _built(self) -> list[Extension]:
        return [e for e in self.extensions if e.name not in self._failed]

    # A failed optional build leaves nothing to copy or package.
    def copy_extensions_to_source(self) -> None:
        self.extensions = self._built()
        super().copy_extensions_to_source()

    def get_outputs(self) -> list[str]:
        self.extensions = self._built()
        return super().get_outputs()

    def get_output_mapping(self) -> dict[str, str]:
        self.extensions = self._built()
        return super().get_output_mapping()

    def _cmake(self, ext: CMakeExtension) -> None:
        import pybind11

        out_dir = Path(self.get_ext_fullpath(ext.name)).parent.resolve()
        build_dir = Path(self.build_temp).resolve() / ext.name
        build_dir.mkdir(parents=True, exist_ok=True)
        cuda = cuda_setting()
        print(f"saliency_core._ext: SALIENCY_CUDA={os.environ.get('SALIENCY_CUDA', 'AUTO')} -> {cuda}", flush=True)
        args = [
            f"-DCMAKE_LIBRARY_OUTPUT_DIRECTORY={out_dir}{os.sep}",
            f"-DPython_EXECUTABLE={sys.executable}",
            f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
            "-DCMAKE_BUILD_TYPE=Release",
            f"-DSALIENCY_CUDA={cuda}",
        ]
        if archs := os.environ.get("SALIENCY_CUDA_ARCHS"):
            args.append(f"-DCMAKE_CUDA_ARCHITECTURES={archs}")
        try:
            import ninja  # noqa: F401

            args.append("-GNinja")
        except ImportError:
            pass
        subprocess.run(["cmake", ext.sourcedir, *args], cwd=build_dir, check=True)
        subprocess.run(["cmake", "--build", ".", "--parallel", str(os.cpu_count() or 2)],
                       cwd=build_dir, check=True)


setup(
    ext_modules=[CMakeExtension("saliency_core._ext", ROOT)],
    cmdclass={"build_ext": CMakeBuild},
)

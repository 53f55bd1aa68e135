"""The cffi extension (csrc/ffi_build.py), then the helper executable
lxcpy/lxcpy-helper next to it, with the same compiler and liblxc flags.

LXCPY_SANITIZE=1 (read by csrc/ffi_build.py) builds both with ASan and
UBSan, in build-sanitize/ rather than build/ so that objects of the two
kinds never mix."""

import importlib.util
import os
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent


def _ffi_build():
    spec = importlib.util.spec_from_file_location("_lxcpy_ffi_build", HERE / "csrc" / "ffi_build.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class BuildExtWithHelper(build_ext):
    def run(self):
        super().run()
        fb = _ffi_build()
        include_dirs, library_dirs, libraries = fb.lxc_flags()
        out_dir = os.path.dirname(self.get_ext_fullpath("lxcpy._lxc"))
        os.makedirs(out_dir, exist_ok=True)
        sources = [os.path.relpath(s) for s in fb.HELPER_SOURCES]
        objects = self.compiler.compile(
            sources,
            output_dir=os.path.join(self.build_temp, "helper"),
            include_dirs=[*fb.INCLUDE_DIRS, *include_dirs],
            extra_postargs=fb.COMPILE_ARGS,
        )
        self.compiler.link_executable(
            objects,
            "lxcpy-helper",
            output_dir=out_dir,
            libraries=libraries,
            library_dirs=library_dirs,
            extra_postargs=fb.LINK_ARGS,
        )
        self._helper = os.path.join(out_dir, "lxcpy-helper")

    def get_outputs(self):
        outputs = super().get_outputs()
        out_dir = os.path.dirname(self.get_ext_fullpath("lxcpy._lxc"))
        return [*outputs, os.path.join(out_dir, "lxcpy-helper")]


_SANITIZE = os.environ.get("LXCPY_SANITIZE", "").strip() == "1"

setup(
    cffi_modules=["csrc/ffi_build.py:ffibuilder"],
    cmdclass={"build_ext": BuildExtWithHelper},
    options={"build": {"build_base": "build-sanitize"}} if _SANITIZE else {},
)

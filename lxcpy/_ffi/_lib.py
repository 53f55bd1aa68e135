"""The compiled cffi extension, ``lxcpy._lxc`` (csrc/ffi_build.py): this is
the one module that imports it. The rest of lxcpy._ffi takes ``ffi`` and
``lib`` from here; nothing outside lxcpy._ffi does."""

from __future__ import annotations

import os

from lxcpy import _lxc  # type: ignore[attr-defined,unused-ignore]
from lxcpy._lxc import ffi, lib  # type: ignore[import-not-found,unused-ignore]

__all__ = ["EXTENSION_PATH", "ffi", "lib"]

# Where the extension lies: lxcpy-helper is installed next to it.
EXTENSION_PATH: str = os.path.abspath(_lxc.__file__)

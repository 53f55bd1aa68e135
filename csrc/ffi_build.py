"""Build script for lxcpy._lxc, the cffi extension (API, out-of-line mode).

It never imports lxcpy. It finds liblxc with pkg-config, declares only the
shim (``decl/constants.cdef`` and the ``decl/*.decl.h`` files, whose uses of
the attach options' list, ``common/attach_table.h``, the C preprocessor
expands for cdef) and compiles
``common/*.c`` and ``ext/*.c`` into the extension. setup.py also reads
``lxc_flags()``, ``INCLUDE_DIRS``, ``HELPER_SOURCES`` (``helper/*.c`` and
``common/*.c``), ``COMPILE_ARGS`` and ``LINK_ARGS`` from here to build the
helper executable.

``LXCPY_SANITIZE=1`` in the environment builds both with AddressSanitizer
and UndefinedBehaviorSanitizer (``make test-asan`` does, into ``.venv-asan``;
see ``tests/sanitize/``). Such an extension only loads into a Python that
has ``libasan.so`` preloaded (``LD_PRELOAD=$(gcc -print-file-name=libasan.so)``).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
# csrc/decl/    the cffi surface: *.decl.h, read by cdef and by the compiler
# csrc/common/  C built into both the extension and the helper
# csrc/ext/     C built into the extension only (attach(func) needs Python)
# csrc/helper/  C built into the helper executable only
DECL = HERE / "decl"
COMMON = HERE / "common"
DECLS = sorted(DECL.glob("*.decl.h"))
INCLUDE_DIRS = [str(DECL), str(COMMON)]
EXTENSION_SOURCES = [*sorted(COMMON.glob("*.c")), *sorted((HERE / "ext").glob("*.c"))]
MISSING = (
    "lxcpy needs liblxc's development files (lxc/lxccontainer.h and lxc.pc): install "
    "the package 'lxc-dev' on Debian/Ubuntu or 'lxc-devel' on Fedora, and 'pkg-config'."
)


def _pkg_config(*args: str) -> list[str] | None:
    if shutil.which("pkg-config") is None:
        return None
    try:
        out = subprocess.run(
            ["pkg-config", *args, "lxc"], check=True, capture_output=True, text=True
        ).stdout
    except subprocess.CalledProcessError:
        return None
    return shlex.split(out)


def lxc_flags() -> tuple[list[str], list[str], list[str]]:
    """liblxc's (include_dirs, library_dirs, libraries), from pkg-config;
    used for the extension and for the helper executable (setup.py)."""
    cflags = _pkg_config("--cflags")
    libs = _pkg_config("--libs")
    if cflags is None or libs is None:
        sys.exit(MISSING)
    include_dirs = [f[2:] for f in cflags if f.startswith("-I")]
    header_dirs = [*include_dirs, "/usr/include", "/usr/local/include"]
    if not any(Path(d, "lxc", "lxccontainer.h").is_file() for d in header_dirs):
        sys.exit(MISSING)
    library_dirs = [f[2:] for f in libs if f.startswith("-L")]
    libraries = [f[2:] for f in libs if f.startswith("-l")]
    return include_dirs, library_dirs, libraries


# The helper executable (lxcpy/lxcpy-helper, built by setup.py): its own
# sources, plus the common ones it shares with the extension.
HELPER_SOURCES = [*sorted((HERE / "helper").glob("*.c")), *sorted(COMMON.glob("*.c"))]

# LXCPY_SANITIZE=1: ASan + UBSan, for the extension and the helper alike.
SANITIZE = os.environ.get("LXCPY_SANITIZE", "").strip() == "1"
SANITIZE_ARGS = [
    "-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g", "-O1", "-DLXCPY_SANITIZE=1",
]
COMPILE_ARGS = ["-std=gnu11", "-Wall", "-Wno-unused-function"]
if SANITIZE:
    COMPILE_ARGS += SANITIZE_ARGS
LINK_ARGS = ["-fsanitize=address,undefined"] if SANITIZE else []


# The headers whose macros a decl file may use (cdef knows no macros):
# attach_table.h, the attach options' one list, which struct
# lxcpy_attach_opts expands. It includes nothing.
EXPANDED = [COMMON / "attach_table.h"]
# A line of a decl file that is one use of such a macro (LXCPY_NAME(...)).
_MACRO_LINE = re.compile(r"^\s*LXCPY_[A-Z0-9_]+\(.*\)\s*$")


def _preprocess(lines: list[str]) -> list[str]:
    """lines as the C preprocessor expands them with the EXPANDED headers
    (one line each): the compiler's own expansion, so that cdef and the
    compiler read the same declarations."""
    if not lines:
        return []
    marker = "@@lxcpy-line@@"
    src = "".join(f'#include "{h.name}"\n' for h in EXPANDED)
    src += "".join(f"{marker}\n{ln}\n" for ln in lines)
    cc = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")
    cmd = [*cc, "-E", "-P", *(f"-I{h.parent}" for h in EXPANDED), "-x", "c", "-"]
    try:
        out = subprocess.run(cmd, input=src, check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        sys.exit(f"lxcpy's build needs a C compiler ({shlex.join(cmd)} failed: {e})")
    parts = out.split(marker)[1:]
    if len(parts) != len(lines):
        sys.exit(f"the C preprocessor's output of {lines} was not understood: {out!r}")
    return [" ".join(p.split()) for p in parts]


def _cdef() -> str:
    """The constants file, then every ``*.decl.h`` without its preprocessor
    lines (the include guard), which the C compiler reads as they are; a
    line that uses a macro of EXPANDED is replaced by its expansion."""
    parts = [(DECL / "constants.cdef").read_text()]
    for decl in DECLS:
        lines = [ln for ln in decl.read_text().splitlines() if not ln.lstrip().startswith("#")]
        uses = [i for i, ln in enumerate(lines) if _MACRO_LINE.match(ln)]
        for i, text in zip(uses, _preprocess([lines[i] for i in uses]), strict=True):
            lines[i] = text
        parts.append("\n".join(lines))
    return "\n".join(parts)


def build() -> FFI:
    include_dirs, library_dirs, libraries = lxc_flags()
    builder = FFI()
    builder.cdef(_cdef())
    includes = "".join(f'#include "{d.name}"\n' for d in DECLS)
    builder.set_source(
        "lxcpy._lxc",
        # wire.h: what the helper protocol's table generates (the
        # LXCPY_OP_* and LXCPY_FD_* values cffi takes from the compiler).
        '#include "lxcpy_shim.h"\n' + includes + '#include "wire.h"\n',
        sources=[os.path.relpath(s) for s in EXTENSION_SOURCES],
        include_dirs=[*INCLUDE_DIRS, *include_dirs],
        library_dirs=library_dirs,
        libraries=libraries,
        extra_compile_args=COMPILE_ARGS,
        extra_link_args=LINK_ARGS,
    )
    return builder


ffibuilder = build()

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)

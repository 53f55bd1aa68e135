"""Loads the ASan runtime first in every Python of ``.venv-asan``.

``make test-asan`` installs this module with ``lxcpy_sanitize.pth`` (one
line, ``import lxcpy_sanitize``) into the sanitizer venv's site-packages, so
it runs at interpreter start-up, before anything imports lxcpy.

An ASan-instrumented extension loads only into a process whose first
library is ASan's runtime; CPython is not built with it, so the runtime
must be preloaded. ``LXCPY_ASAN_RUNTIME`` (set by tests/sanitize/run.sh)
names it: a Python started without it preloaded re-executes itself with
``LD_PRELOAD`` set (so Python subprocesses of the tests get it too), and a
Python that has it removes ``LD_PRELOAD`` from its environment again, so
that nothing it starts inherits it: lxcpy-helper links the runtime itself,
and processes inside a container have no such file (the dynamic loader
would complain on their stderr).
"""

from __future__ import annotations

import os
import sys


def _setup() -> None:
    runtime = os.environ.get("LXCPY_ASAN_RUNTIME")
    if not runtime:
        return
    with open("/proc/self/maps") as f:
        loaded = "libasan" in f.read()
    if not loaded:
        env = dict(os.environ)
        env["LD_PRELOAD"] = runtime
        os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)
    if os.environ.get("LD_PRELOAD") == runtime:
        del os.environ["LD_PRELOAD"]


_setup()

"""Checkpoint and restore a container with CRIU.

Whether CRIU can work on this host is found out at run time (``criu
check``, once per process); where it cannot, both operations raise
``UnsupportedError`` (a ``CheckpointError`` and a ``NotImplementedError``)
carrying CRIU's own reason.
"""

from __future__ import annotations

import errno
import functools
import os
import shutil
import subprocess
from typing import TYPE_CHECKING

from lxcpy import _ffi, _validate
from lxcpy.errors import CheckpointError, UnsupportedError, from_os_error, with_os_error

if TYPE_CHECKING:
    from lxcpy.container import Container

__all__ = ["CriuUnsupportedError", "checkpoint", "criu_problem", "restore"]


class CriuUnsupportedError(CheckpointError, UnsupportedError):
    """CRIU is missing or cannot work on this kernel."""


@functools.lru_cache(maxsize=1)
def criu_problem() -> str | None:
    """None when ``criu check`` passes; else why CRIU cannot work here."""
    criu = shutil.which("criu") or next(
        (p for p in ("/usr/sbin/criu", "/sbin/criu") if os.access(p, os.X_OK)), None
    )
    if criu is None:
        return "criu is not installed (Debian package 'criu')"
    try:
        r = subprocess.run(
            [criu, "check"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"'criu check' could not run: {e}"
    if r.returncode == 0:
        return None
    lines = [ln for ln in (r.stderr + r.stdout).splitlines() if ln.strip()]
    errors = [ln for ln in lines if "Error" in ln] or lines
    return "'criu check' fails on this kernel: " + "; ".join(errors[-3:])


def _need_criu(c: Container, operation: str) -> None:
    problem = criu_problem()
    if problem is not None:
        raise CriuUnsupportedError(problem, container=c.name, operation=operation)


def checkpoint(c: Container, directory: object, stop: bool, verbose: bool) -> None:
    d = _validate.path(directory, "directory")
    if not isinstance(stop, bool) or not isinstance(verbose, bool):
        raise TypeError("stop and verbose must be bool")
    c._need_running("checkpoint")
    _need_criu(c, "checkpoint")
    try:
        os.makedirs(d, exist_ok=True)
    except OSError as e:
        raise from_os_error(
            CheckpointError,
            f"could not make the checkpoint directory {d!r}",
            e,
            filename=d,
            container=c.name,
            operation="checkpoint",
        ) from None
    with c._op("checkpoint", CheckpointError) as o:
        if not _ffi.checkpoint(c._handle(), _ffi.enc_path(os.path.abspath(d)), stop, verbose):
            o.fail(f"liblxc/CRIU could not checkpoint into {d!r}")


def restore(c: Container, directory: object, verbose: bool) -> None:
    d = _validate.path(directory, "directory")
    if not isinstance(verbose, bool):
        raise TypeError("verbose must be bool")
    if not os.path.isdir(d):
        raise with_os_error(
            CheckpointError,
            f"no checkpoint directory {d!r}",
            errno.ENOENT,
            filename=d,
            container=c.name,
            operation="restore",
        )
    c._need_stopped("restore")
    _need_criu(c, "restore")
    with c._op("restore", CheckpointError) as o:
        rc = _ffi.restore(c._handle(), _ffi.enc_path(os.path.abspath(d)), verbose)
        if rc != 0:
            o.fail(f"liblxc/CRIU could not restore from {d!r}")

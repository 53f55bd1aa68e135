"""File descriptors a running container hands out, and may_control()."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from lxcpy import _ffi
from lxcpy.errors import LxcError, UnsupportedError

if TYPE_CHECKING:
    from lxcpy.container import Container

__all__ = ["devpts_fd", "init_pidfd", "may_control", "seccomp_notify_fd"]


def _fd(c: Container, name: str, call: Callable[[_ffi.Handle], int], what: str) -> int:
    c._need_running(name)
    with c._op(name, LxcError) as o:
        fd = call(c._handle())
        if fd == -errno.ENOSYS:
            o.fail(f"this liblxc cannot hand out {what}", error=UnsupportedError)
        if fd < 0:
            o.fail(f"liblxc gave no {what}: {os.strerror(-fd)}", errno=-fd)
    return fd


def init_pidfd(c: Container) -> int:
    return _fd(c, "init_pidfd", _ffi.init_pidfd, "pidfd of the container's init")


def devpts_fd(c: Container) -> int:
    return _fd(c, "devpts_fd", _ffi.devpts_fd, "fd of the container's devpts")


def seccomp_notify_fd(c: Container) -> int:
    return _fd(
        c,
        "seccomp_notify_fd",
        _ffi.seccomp_notify_fd,
        "seccomp notify fd (the container needs a seccomp policy with 'notify' rules)",
    )


def may_control(c: Container) -> bool:
    return _ffi.may_control(c._handle())

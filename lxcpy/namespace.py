"""``lxcpy.Namespace``: which of the container's namespaces to attach to."""

from __future__ import annotations

import enum

from lxcpy import _ffi

__all__ = ["Namespace"]


class Namespace(enum.IntFlag):
    """Namespaces of a container (the kernel's CLONE_NEW* values), for the
    ``namespaces=`` option of ``run()``/``popen()``/``attach()``; by
    default a process is attached to all the namespaces the container has."""

    MOUNT = _ffi.NS_MOUNT
    PID = _ffi.NS_PID
    UTS = _ffi.NS_UTS
    IPC = _ffi.NS_IPC
    USER = _ffi.NS_USER
    NET = _ffi.NS_NET
    CGROUP = _ffi.NS_CGROUP

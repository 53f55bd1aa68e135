"""A container's state (defined, running, state name, init pid, config
file) and lifecycle: create and start (in a forked child), stop, shutdown,
reboot, freeze, wait, destroy, rename, clone."""

from __future__ import annotations

import os
from typing import Any

from lxcpy._ffi._lib import ffi, lib
from lxcpy._ffi.encoding import _argv, _opt, _str, enc
from lxcpy._ffi.handles import Handle, _owned

CLONE_KEEPNAME: int = lib.LXC_CLONE_KEEPNAME
CLONE_KEEPMACADDR: int = lib.LXC_CLONE_KEEPMACADDR
CLONE_SNAPSHOT: int = lib.LXC_CLONE_SNAPSHOT


# -- state ----------------------------------------------------------------


def is_defined(h: Handle) -> bool:
    return bool(lib.lxcpy_is_defined(h.c))


def is_running(h: Handle) -> bool:
    return bool(lib.lxcpy_is_running(h.c))


def state(h: Handle) -> str:
    return _str(lib.lxcpy_state(h.c)) or "STOPPED"


def init_pid(h: Handle) -> int:
    return int(lib.lxcpy_init_pid(h.c))


def config_file_name(h: Handle) -> str | None:
    p = lib.lxcpy_config_file_name(h.c)
    if p == ffi.NULL:
        return None
    try:
        return os.fsdecode(ffi.string(p))
    finally:
        lib.lxcpy_free(p)


# -- lifecycle ----------------------------------------------------------------


def pid_box() -> Any:
    """An int the shim writes a forked child's pid into (0 until then)."""
    return ffi.new("int *")


def create(
    h: Handle,
    template: str | None,
    backend: str | None,
    args: list[str],
    outfd: int,
    child: Any,
) -> int:
    """Fork a child that creates (its pid into the pid_box ``child``): 0
    or -errno."""
    argv, _keep = _argv([enc(a) for a in args])
    return int(
        lib.lxcpy_create(
            h.c,
            _opt(None if template is None else enc(template)),
            _opt(None if backend is None else enc(backend)),
            0,
            argv,
            outfd,
            child,
        )
    )


def start(h: Handle, use_init: bool, cmd: list[bytes] | None, child: Any) -> int:
    """Fork a child that starts (its pid into the pid_box ``child``): 0 or
    -errno."""
    if cmd is None:
        return int(lib.lxcpy_start(h.c, int(use_init), ffi.NULL, child))
    argv, _keep = _argv(cmd)
    return int(lib.lxcpy_start(h.c, int(use_init), argv, child))


def stop(h: Handle) -> bool:
    return bool(lib.lxcpy_stop(h.c))


def shutdown(h: Handle, timeout: int) -> bool:
    return bool(lib.lxcpy_shutdown(h.c, timeout))


def reboot(h: Handle, timeout: int) -> int:
    return int(lib.lxcpy_reboot(h.c, timeout))


def freeze(h: Handle) -> bool:
    return bool(lib.lxcpy_freeze(h.c))


def unfreeze(h: Handle) -> bool:
    return bool(lib.lxcpy_unfreeze(h.c))


def wait(h: Handle, state: str, timeout: int) -> bool:
    return bool(lib.lxcpy_wait(h.c, enc(state), timeout))


def destroy(h: Handle, with_snapshots: bool) -> bool:
    return bool(lib.lxcpy_destroy(h.c, with_snapshots))


def rename(h: Handle, new_name: str) -> bool:
    return bool(lib.lxcpy_rename(h.c, enc(new_name)))


def clone(
    h: Handle, new_name: str, lxcpath: bytes | None, flags: int, backend: str | None
) -> Handle | None:
    name = enc(new_name)
    path = _opt(lxcpath)
    bdev = _opt(None if backend is None else enc(backend))

    def make() -> Any:
        c = lib.lxcpy_clone(h.c, name, path, flags, bdev)
        return ffi.NULL if c == ffi.NULL else lib.lxcpy_handle_wrap(c)

    return _owned(make)

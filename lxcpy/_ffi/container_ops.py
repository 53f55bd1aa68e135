"""The other container operations (csrc/ext/container_ops.c): cgroups,
network, devices, mounts, console, snapshots, checkpoints, fds. Every
array and string liblxc hands over is copied and freed here."""

from __future__ import annotations

import os
from typing import Any

from lxcpy._ffi._lib import ffi, lib
from lxcpy._ffi.config import _sized
from lxcpy._ffi.encoding import _opt, enc
from lxcpy._ffi.handles import Handle


def get_cgroup_item(h: Handle, key: str) -> str | None:
    return _sized(lib.lxcpy_get_cgroup_item, h, enc(key))


def set_cgroup_item(h: Handle, key: str, value: str) -> bool:
    return bool(lib.lxcpy_set_cgroup_item(h.c, enc(key), enc(value)))


def _take_strv(v: Any) -> list[str] | None:
    """Copy a NULL-terminated char** liblxc malloc'ed, and free it all."""
    if v == ffi.NULL:
        return None
    try:
        out = []
        i = 0
        while v[i] != ffi.NULL:
            out.append(ffi.string(v[i]).decode("utf-8", "replace"))
            i += 1
        return out
    finally:
        lib.lxcpy_free_strv(v)


def get_interfaces(h: Handle) -> list[str] | None:
    return _take_strv(lib.lxcpy_get_interfaces(h.c))


def get_ips(h: Handle, interface: str | None, family: str | None, scope: int) -> list[str] | None:
    return _take_strv(
        lib.lxcpy_get_ips(
            h.c,
            _opt(None if interface is None else enc(interface)),
            _opt(None if family is None else enc(family)),
            scope,
        )
    )


def attach_interface(h: Handle, dev: str, dst: str | None) -> bool:
    return bool(lib.lxcpy_attach_interface(h.c, enc(dev), _opt(None if dst is None else enc(dst))))


def detach_interface(h: Handle, dev: str, dst: str | None) -> bool:
    return bool(lib.lxcpy_detach_interface(h.c, enc(dev), _opt(None if dst is None else enc(dst))))


def add_device_node(h: Handle, src: bytes, dst: bytes | None) -> bool:
    return bool(lib.lxcpy_add_device_node(h.c, src, _opt(dst)))


def remove_device_node(h: Handle, src: bytes, dst: bytes | None) -> bool:
    return bool(lib.lxcpy_remove_device_node(h.c, src, _opt(dst)))


def mount(
    h: Handle,
    source: bytes | None,
    target: bytes,
    fstype: str | None,
    flags: int,
    data: str | None,
) -> int:
    return int(
        lib.lxcpy_mount(
            h.c,
            _opt(source),
            target,
            _opt(None if fstype is None else enc(fstype)),
            flags,
            _opt(None if data is None else enc(data)),
        )
    )


def umount(h: Handle, target: bytes, flags: int) -> int:
    return int(lib.lxcpy_umount(h.c, target, flags))


def console_getfd(h: Handle, tty: int) -> tuple[int, int, int]:
    """(pty master fd, reservation socket fd, tty number); fds -1 on failure.
    The caller owns (and must close) both fds."""
    ttynum = ffi.new("int *", tty)
    ptx = ffi.new("int *", -1)
    sock = int(lib.lxcpy_console_getfd(h.c, ttynum, ptx))
    return int(ptx[0]), sock, int(ttynum[0])


def console_log(h: Handle, clear: bool, read: bool, max_bytes: int) -> tuple[int, bytes]:
    """(0 or -errno, the bytes read)."""
    n = ffi.new("uint64_t *", max_bytes)
    data = ffi.new("char **")
    rc = int(lib.lxcpy_console_log(h.c, clear, read, n, data))
    if data[0] == ffi.NULL:
        return rc, b""
    try:
        return rc, bytes(ffi.buffer(data[0], int(n[0]))) if rc == 0 else b""
    finally:
        lib.lxcpy_free(data[0])


def snapshot(h: Handle, comment_file: bytes | None) -> int:
    return int(lib.lxcpy_snapshot(h.c, _opt(comment_file)))


def snapshot_list(h: Handle) -> list[tuple[str, str | None, str | None, str]] | None:
    """Copy each snapshot's (name, comment path, timestamp, lxcpath) out of
    liblxc's array, then free every snapshot and the array at once."""
    out = ffi.new("struct lxc_snapshot **")
    n = int(lib.lxcpy_snapshot_list(h.c, out))
    if n < 0:
        return None
    arr = out[0]
    try:

        def field(i: int, which: int) -> str | None:
            p = lib.lxcpy_snapshot_field(arr, i, which)
            return None if p == ffi.NULL else os.fsdecode(ffi.string(p))

        return [
            (
                field(i, lib.LXCPY_SNAP_NAME) or "",
                field(i, lib.LXCPY_SNAP_COMMENT),
                field(i, lib.LXCPY_SNAP_TIMESTAMP),
                field(i, lib.LXCPY_SNAP_LXCPATH) or "",
            )
            for i in range(n)
        ]
    finally:
        lib.lxcpy_snapshots_free(arr, max(n, 0))


def snapshot_restore(h: Handle, name: str, new_name: str | None) -> bool:
    return bool(
        lib.lxcpy_snapshot_restore(
            h.c, enc(name), _opt(None if new_name is None else enc(new_name))
        )
    )


def snapshot_destroy(h: Handle, name: str) -> bool:
    return bool(lib.lxcpy_snapshot_destroy(h.c, enc(name)))


def snapshot_destroy_all(h: Handle) -> bool:
    return bool(lib.lxcpy_snapshot_destroy_all(h.c))


def checkpoint(h: Handle, directory: bytes, stop: bool, verbose: bool) -> bool:
    return bool(lib.lxcpy_checkpoint(h.c, directory, stop, verbose))


def restore(h: Handle, directory: bytes, verbose: bool) -> int:
    return int(lib.lxcpy_restore(h.c, directory, verbose))


def init_pidfd(h: Handle) -> int:
    return int(lib.lxcpy_init_pidfd(h.c))


def devpts_fd(h: Handle) -> int:
    return int(lib.lxcpy_devpts_fd(h.c))


def seccomp_notify_fd(h: Handle) -> int:
    return int(lib.lxcpy_seccomp_notify_fd_active(h.c))


def may_control(h: Handle) -> bool:
    return bool(lib.lxcpy_may_control(h.c))

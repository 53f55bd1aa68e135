"""Device nodes and mounts injected into a running container."""

from __future__ import annotations

import errno
import os
import stat
from typing import TYPE_CHECKING

from lxcpy import _ffi, _validate
from lxcpy.errors import DeviceError, MountError, UnsupportedError, from_os_error, with_os_error

if TYPE_CHECKING:
    from lxcpy.container import Container

__all__ = ["add_device_node", "mount", "remove_device_node", "umount"]


def _abs(value: object, what: str) -> str:
    p = _validate.path(value, what)
    if not os.path.isabs(p):
        raise ValueError(f"{what} must be an absolute path: {p!r}")
    return p


def _device(c: Container, path: str, what: str, operation: str) -> None:
    """The node liblxc will stat on the host must be a char/block device
    (a DeviceError, also the matching OSError, when it cannot be stat'ed)."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise from_os_error(
            DeviceError,
            f"{what} {path!r} on the host",
            e,
            filename=path,
            container=c.name,
            operation=operation,
        ) from None
    if not (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)):
        raise ValueError(f"{what} is not a character or block device: {path!r}")


def _device_node(c: Container, src: object, dst: object, add: bool) -> None:
    s = _abs(src, "src")
    d = None if dst is None else _abs(dst, "dst")
    # liblxc stats dst (when given, else src) on the host, creates that
    # path inside the container and allows/denies its numbers in the
    # devices cgroup; it never looks at src when dst is given.
    name = "add_device_node" if add else "remove_device_node"
    _device(c, s, "src", name)
    if d is not None:
        _device(c, d, "dst", name)
    c._need_running(name)
    call = _ffi.add_device_node if add else _ffi.remove_device_node
    with c._op(name, DeviceError) as o:
        if not call(c._handle(), _ffi.enc_path(s), None if d is None else _ffi.enc_path(d)):
            o.fail(f"liblxc could not {'add' if add else 'remove'} the device node {d or s!r}")


def add_device_node(c: Container, src: object, dst: object = None) -> None:
    _device_node(c, src, dst, True)


def remove_device_node(c: Container, src: object, dst: object = None) -> None:
    _device_node(c, src, dst, False)


def _flags(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"flags must be int, not {type(value).__name__}")
    if not 0 <= value < 1 << 64:
        raise ValueError(f"flags out of range: {value!r}")
    return value


def mount(
    c: Container,
    source: object,
    target: object,
    fstype: str | None,
    flags: object,
    data: str | None,
) -> None:
    src = None if source is None else _validate.path(source, "source")
    tgt = _abs(target, "target")
    if fstype is not None:
        _validate.text(fstype, "fstype")
        if fstype == "":
            raise ValueError("fstype must not be empty")
    if data is not None:
        _validate.text(data, "data")
    fl = _flags(flags)
    if src is None and fstype is None:
        raise ValueError("give a source, an fstype or both")
    if src is not None and not os.path.exists(src) and fstype is None:
        raise with_os_error(
            MountError,
            f"the mount source {src!r} does not exist on the host",
            errno.ENOENT,
            filename=src,
            container=c.name,
            operation="mount",
        )
    c._need_running("mount")
    is_file = src is not None and os.path.exists(src) and not os.path.isdir(src)
    with c._op("mount", MountError) as o:
        needed = "mount_injection_file" if is_file else "mount_injection"
        if not _ffi.has_api_extension(needed):
            o.fail(f"this liblxc lacks the {needed} API extension", error=UnsupportedError)
        rc = _ffi.mount(
            c._handle(),
            None if src is None else _ffi.enc_path(src),
            _ffi.enc_path(tgt),
            fstype,
            fl,
            data,
        )
        if rc == -errno.ENOSYS:  # the shim's fallback
            o.fail("this liblxc cannot mount into a running container", error=UnsupportedError)
        if rc == -errno.EINVAL:
            o.fail(
                "mounting into a running container needs "
                "'lxc.mount.auto = shmounts:<host dir>' in its config (set before start)"
            )
        if rc != 0:
            o.fail(f"liblxc could not mount {src or fstype!r} on {tgt!r}")


def umount(c: Container, target: object, flags: object) -> None:
    tgt = _abs(target, "target")
    fl = _flags(flags)
    c._need_running("umount")
    with c._op("umount", MountError) as o:
        if not _ffi.has_api_extension("mount_injection"):
            o.fail("this liblxc lacks the mount_injection API extension", error=UnsupportedError)
        rc = _ffi.umount(c._handle(), _ffi.enc_path(tgt), fl)
        if rc == -errno.ENOSYS:  # the shim's fallback
            o.fail("this liblxc cannot unmount in a running container", error=UnsupportedError)
        if rc != 0:
            o.fail(f"liblxc could not unmount {tgt!r}")

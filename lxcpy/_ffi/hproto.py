"""The helper protocol. Requests are packed by C (csrc/common/hproto.c),
the code lxcpy-helper unpacks them with; Python moves the bytes and the
fds (lxcpy._helper)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from lxcpy._ffi._lib import EXTENSION_PATH, ffi, lib
from lxcpy._ffi.attach import AttachOptions, _attach_opts
from lxcpy._ffi.encoding import _argv, _opt, enc

HELPER_PATH: str = os.path.join(os.path.dirname(EXTENSION_PATH), "lxcpy-helper")
HREP_DONE: int = lib.LXCPY_HREP_DONE
HREP_PONG: int = lib.LXCPY_HREP_PONG
HREP_STARTED: int = lib.LXCPY_HREP_STARTED
HMAX_MSG: int = int(lib.lxcpy_hmax_msg())
_HREPLY_SIZE: int = ffi.sizeof("struct lxcpy_hreply")


def _packed(pack: Any, size: int, *args: Any) -> bytes | None:
    """Run one lxcpy_hpack_* into a buffer; None when the request is too
    large for the protocol (the caller then works in-process)."""
    cap = min(size + 256, HMAX_MSG)
    buf = ffi.new("char[]", cap)
    n = int(pack(buf, cap, *args))
    if n < 0:
        return None
    return bytes(ffi.buffer(buf, n))


def _strv_size(args: Sequence[bytes] | None) -> int:
    return sum(len(a) + 1 for a in args or ())


def hpack_ping() -> bytes:
    msg = _packed(lib.lxcpy_hpack_ping, 0)
    assert msg is not None
    return msg


def hpack_start(name: str, lxcpath: bytes, use_init: bool, cmd: list[bytes] | None) -> bytes | None:
    n = enc(name)
    keep: Any = ffi.NULL
    if cmd is not None:
        keep, _strings = _argv(cmd)
    return _packed(
        lib.lxcpy_hpack_start,
        len(n) + len(lxcpath) + _strv_size(cmd),
        n,
        lxcpath,
        int(use_init),
        keep,
    )


def hpack_create(
    name: str, lxcpath: bytes, template: str | None, backend: str | None, args: list[str]
) -> bytes | None:
    n, t, b = enc(name), _enc_opt(template), _enc_opt(backend)
    argv = [enc(a) for a in args]
    arr, _strings = _argv(argv)
    return _packed(
        lib.lxcpy_hpack_create,
        len(n) + len(lxcpath) + len(t or b"") + len(b or b"") + _strv_size(argv),
        n,
        lxcpath,
        _opt(t),
        _opt(b),
        0,
        arr,
    )


def hpack_attach(
    name: bytes,
    lxcpath: bytes,
    o: AttachOptions,
    liblxc_stdio: Sequence[int],
    child_stdio: Sequence[int],
    errfd: int,
    argv: list[bytes],
    logfd: int,
) -> tuple[bytes, list[int]] | None:
    """The ATTACH request hsend_attach sends, and the fds that go with it
    (after the reply socket); None when it is too large for the protocol.
    (For tests of the helper's checks; lxcpy itself packs and sends in
    one call.)"""
    p, _keep = _attach_opts(o, liblxc_stdio, child_stdio, errfd)
    cargv, _strings = _argv(argv)
    fds = ffi.new("int[]", lib.LXCPY_HATTACH_FDS)
    nfds = ffi.new("int *")
    buf = ffi.new("char[]", HMAX_MSG)
    rc = int(
        lib.lxcpy_hpack_attach(
            buf, HMAX_MSG, name, lxcpath, p, cargv, logfd, fds, lib.LXCPY_HATTACH_FDS, nfds
        )
    )
    if rc < 0:
        return None
    return bytes(ffi.buffer(buf, rc)), [int(fds[i]) for i in range(nfds[0])]


def hsend(ctl: int, msg: bytes, fds: Sequence[int]) -> int:
    """Send a packed request with a new reply socket and fds: our end of
    the reply socket (an fd, CLOEXEC), or -errno."""
    return int(lib.lxcpy_hsend(ctl, msg, len(msg), list(fds), len(fds)))


def hsend_attach(
    ctl: int,
    name: bytes,
    lxcpath: bytes,
    o: AttachOptions,
    liblxc_stdio: Sequence[int],
    child_stdio: Sequence[int],
    errfd: int,
    argv: list[bytes],
    logfd: int,
) -> int:
    """Pack an ATTACH request (as hpack_attach) and send it (as hsend):
    our end of the reply socket, or -errno (-E2BIG: too large for the
    protocol; the caller then attaches in-process)."""
    p, _keep = _attach_opts(o, liblxc_stdio, child_stdio, errfd)
    cargv, _strings = _argv(argv)
    return int(lib.lxcpy_hsend_attach(ctl, name, lxcpath, p, cargv, logfd))


def hrecv(fd: int, nonblock: bool) -> tuple[int, tuple[int, int, int, int] | None, int]:
    """One reply: (1, (err, kind, status, pid), the fd it carried or -1);
    (0, None, -1) at EOF; (-errno, None, -1), -EAGAIN when nonblock and
    nothing came yet, -EINTR when a signal came."""
    r = ffi.new("struct lxcpy_hreply *")
    passed = ffi.new("int *")
    rc = int(lib.lxcpy_hrecv(fd, int(nonblock), r, passed))
    if rc != 1:
        return rc, None, -1
    return 1, (int(r.err), int(r.kind), int(r.status), int(r.pid)), int(passed[0])


def hreply(data: bytes) -> tuple[int, int, int, int] | None:
    """(err, kind, status, pid) of one reply; None when it is not one."""
    if len(data) != _HREPLY_SIZE:
        return None
    r = ffi.new("struct lxcpy_hreply *")
    ffi.memmove(r, data, _HREPLY_SIZE)
    return int(r.err), int(r.kind), int(r.status), int(r.pid)


def _enc_opt(value: str | None) -> bytes | None:
    return None if value is None else enc(value)

"""A running container's consoles: a tty's file descriptor and the
console ring buffer."""

from __future__ import annotations

import contextlib
import errno
import os
import weakref
from types import TracebackType
from typing import TYPE_CHECKING

from lxcpy import _ffi
from lxcpy.errors import ConsoleError, UnsupportedError

if TYPE_CHECKING:
    from lxcpy.container import Container

__all__ = ["Console", "console_getfd", "console_log"]


def _close(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)


class _Reservation:
    """Holds liblxc's tty reservation socket; closed when this is collected."""

    __slots__ = ("__weakref__", "finalizer")

    def __init__(self, sock: int) -> None:
        self.finalizer = weakref.finalize(self, _close, sock)


class Console(tuple[int, int]):
    """``(fd, ttynum)`` from ``console_getfd()``: ``fd`` is the tty's pty
    master (read the container's output from it, write its input to it),
    ``ttynum`` the tty number (0 is the console).

    liblxc also hands over a socket that holds the tty's reservation: while
    it is open nobody else gets this tty, and for the console (tty 0) the
    monitor keeps relaying. This object owns that socket. ``close()`` (or
    leaving ``with``) closes both fds; garbage collection closes only the
    socket, never an ``fd`` the caller may still be using.
    """

    _reservation: _Reservation

    def __new__(cls, fd: int, ttynum: int, sock: int) -> Console:
        self = super().__new__(cls, (fd, ttynum))
        self._reservation = _Reservation(sock)
        return self

    @property
    def fd(self) -> int:
        return self[0]

    @property
    def ttynum(self) -> int:
        return self[1]

    def close(self) -> None:
        """Close the pty master and release the tty (idempotent)."""
        if self._reservation.finalizer.alive:
            self._reservation.finalizer()
            _close(self.fd)

    @property
    def closed(self) -> bool:
        return not self._reservation.finalizer.alive

    def __enter__(self) -> Console:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def console_getfd(c: Container, tty: int) -> Console:
    if isinstance(tty, bool) or not isinstance(tty, int):
        raise TypeError(f"tty must be int, not {type(tty).__name__}")
    if not -1 <= tty < 1 << 16:
        raise ValueError(f"tty must be -1 (the first free one), 0 (the console) or more: {tty}")
    c._need_running("console_getfd")
    with c._op("console_getfd", ConsoleError) as o:
        ptx, sock, ttynum = _ffi.console_getfd(c._handle(), tty)
        if sock < 0 or ptx < 0:
            o.fail(
                "liblxc gave no tty"
                + (" (all busy or none configured: lxc.tty.max)" if tty != 0 else "")
            )
    return Console(ptx, ttynum, sock)


def console_log(c: Container, clear: bool, max_bytes: int | None) -> bytes:
    if not isinstance(clear, bool):
        raise TypeError(f"clear must be bool, not {type(clear).__name__}")
    if max_bytes is not None:
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int):
            raise TypeError(f"max_bytes must be int or None, not {type(max_bytes).__name__}")
        if not 0 < max_bytes < 1 << 63:
            raise ValueError(f"max_bytes must be > 0: {max_bytes}")
    c._need_running("console_log")
    with c._op("console_log", ConsoleError) as o:
        rc, data = _ffi.console_log(c._handle(), clear, True, max_bytes or 0)
        if rc == -errno.ENODATA:
            return b""
        if rc == -errno.ENOSYS:
            o.fail("this liblxc has no console_log API", error=UnsupportedError)
        if rc == -errno.EFAULT:
            o.fail(
                "the container keeps no console ring buffer: set "
                "lxc.console.buffer.size in its config before starting it"
            )
        if rc < 0:
            o.fail(f"liblxc could not read the console log: {os.strerror(-rc)}", errno=-rc)
    return data

"""The attached process's stdio, taken as subprocess takes it (None, PIPE,
DEVNULL, STDOUT, an fd or a file object): the pipes and fd duplicates of
one attach, and the registry of lxcpy's own fds.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
from typing import Any

PIPE = subprocess.PIPE
STDOUT = subprocess.STDOUT
DEVNULL = subprocess.DEVNULL

_PIPE_SIZE = 1 << 20


def check_std(value: Any, what: str) -> None:
    """What subprocess accepts: None, PIPE, DEVNULL, STDOUT (stderr only),
    an fd, or an object with fileno()."""
    if value is None:
        return
    if isinstance(value, bool):
        raise TypeError(f"{what} must be None, PIPE, DEVNULL, an fd or a file object")
    if isinstance(value, int):
        if value == STDOUT and what != "stderr":
            raise ValueError(f"STDOUT is only valid for stderr, not {what}")
        if value < 0 and value not in (PIPE, DEVNULL, STDOUT):
            raise ValueError(f"invalid {what}: {value}")
        return
    if not callable(getattr(value, "fileno", None)):
        raise TypeError(f"{what} must be None, PIPE, DEVNULL, an fd or a file object")


# lxcpy's own fds (pipes, duplicates) as (fd, st_dev, st_ino): a Python
# child closes those that are still the same files, so that it does not
# hold another attach's pipes open for its whole life.
own_fds: dict[int, tuple[int, int]] = {}
own_lock = threading.Lock()


def _own(*fds: int) -> None:
    with own_lock:
        for fd in fds:
            with contextlib.suppress(OSError):
                st = os.fstat(fd)
                own_fds[fd] = (st.st_dev, st.st_ino)


def _disown(fd: int) -> None:
    with own_lock:
        own_fds.pop(fd, None)


def close(fd: int) -> None:
    _disown(fd)
    with contextlib.suppress(OSError):
        os.close(fd)


def _high(fd: int) -> int:
    """fd, moved to >= 3 if it is below (liblxc dup2()s onto 0-2)."""
    if fd >= 3:
        return fd
    high = _dupfd(fd)
    os.close(fd)
    return high


def _dupfd(fd: int) -> int:
    import fcntl

    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)


def pipe() -> tuple[int, int]:
    r, w = os.pipe()
    r, w = _high(r), _high(w)
    _own(r, w)
    return r, w


def _grow(fd: int) -> None:
    """Bigger pipes: fewer wake-ups for large outputs (best effort)."""
    import fcntl

    with contextlib.suppress(OSError, AttributeError):
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, _PIPE_SIZE)


class Plumbing:
    """The fds of one attach: liblxc's (own pipes, -1 for /dev/null), the
    child's (caller fds the shim puts on 0-2, -1 for none), the parent's
    pipe ends, and the fds to close once the child exists."""

    def __init__(self) -> None:
        self.lxc = [-1, -1, -1]
        self.child = [-1, -1, -1]
        self.parent: list[int | None] = [None, None, None]
        self.temp: list[int] = []
        # Duplicates of the caller's own 0-2: not lxcpy's pipes, so not
        # worth registering (see own_fds).
        self.inherit: list[int] = []

    def close_temp(self) -> None:
        temp, self.temp = self.temp, []
        for fd in temp:
            close(fd)
        inherit, self.inherit = self.inherit, []
        for fd in inherit:
            os.close(fd)

    def close_all(self) -> None:
        self.close_temp()
        for i, fd in enumerate(self.parent):
            if fd is not None:
                close(fd)
                self.parent[i] = None


def _caller_fd(fd: int, what: str) -> int:
    """A CLOEXEC duplicate >= 3 of a caller's fd, for the child's use."""
    try:
        return _dupfd(fd)
    except OSError as e:
        raise OSError(e.errno, f"{what}: bad file descriptor {fd}") from None


def plumb(stdin: Any, stdout: Any, stderr: Any) -> Plumbing:
    p = Plumbing()
    try:
        for i, spec in enumerate((stdin, stdout, stderr)):
            what = ("stdin", "stdout", "stderr")[i]
            if spec == STDOUT and i == 2:
                p.lxc[2], p.child[2] = p.lxc[1], p.child[1]
            elif spec is None:
                try:
                    fd = _dupfd(i)
                except OSError:
                    continue  # the caller has no such fd: /dev/null
                p.inherit.append(fd)
                p.child[i] = fd
            elif spec == PIPE:
                r, w = pipe()
                if i == 0:
                    p.parent[0], p.lxc[0] = w, r
                else:
                    p.parent[i], p.lxc[i] = r, w
                    _grow(r)
                p.temp.append(p.lxc[i])
            elif spec == DEVNULL:
                pass
            else:
                fd = spec if isinstance(spec, int) else int(spec.fileno())
                if i > 0 and hasattr(spec, "flush"):
                    with contextlib.suppress(OSError, ValueError):
                        spec.flush()
                dup = _caller_fd(fd, what)
                p.temp.append(dup)
                p.child[i] = dup
        _own(*p.temp)
    except BaseException:
        p.close_all()
        raise
    return p

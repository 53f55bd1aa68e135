"""The Python child of ``attach(func)``: it closes lxcpy's inherited fds,
takes liblxc's environment into os.environ and puts sys's stdio on its fds
0-2, runs func, and exits with func's status as sys.exit would give it.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lxcpy import _ffi
from lxcpy._stdio import own_fds, own_lock


def _exit_code(value: Any) -> int:
    """sys.exit()'s rules: None -> 0, an int -> itself, anything else is
    printed to stderr -> 1."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    with contextlib.suppress(Exception):
        print(value, file=sys.stderr)
    return 1


def _fresh_stdio() -> None:
    """sys.stdin/stdout/stderr on the child's fds 0-2 (the caller's may
    have been replaced by objects that do not write to fd 1 and 2)."""

    def stream(fd: int, mode: str, old: Any, errors: str) -> io.TextIOWrapper:
        enc = getattr(old, "encoding", None) or "utf-8"
        raw = io.FileIO(fd, mode, closefd=False)
        buffered: Any = io.BufferedWriter(raw) if mode == "w" else io.BufferedReader(raw)
        return io.TextIOWrapper(
            buffered, encoding=enc, errors=errors, line_buffering=(mode == "w" and fd == 2)
        )

    sys.stdin = stream(0, "r", sys.stdin, "strict")
    sys.stdout = stream(1, "w", sys.stdout, "strict")
    sys.stderr = stream(2, "w", sys.stderr, "backslashreplace")
    for name in ("stdin", "stdout", "stderr"):
        setattr(sys, f"__{name}__", getattr(sys, name))


def _close_inherited(own: dict[int, tuple[int, int]]) -> None:
    for fd, ident in own.items():
        if fd < 3:
            continue
        with contextlib.suppress(OSError):
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) == ident:
                os.close(fd)


def _sync_environ() -> None:
    """Make os.environ what liblxc set up in the child (the C environ)."""
    env = _ffi.c_environ()
    for key in list(os.environb):
        if key not in env:
            del os.environb[key]
    for key, value in env.items():
        if os.environb.get(key) != value:
            os.environb[key] = value


def child_function(
    func: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any]
) -> Callable[[], int]:
    """What the attached child runs: func(*args, **kwargs), its stdio
    flushed, then os._exit with its status."""

    def child() -> int:
        status = 1
        try:
            with own_lock:
                own = dict(own_fds)
            _close_inherited(own)
            _sync_environ()
            _fresh_stdio()
            try:
                status = _exit_code(func(*args, **kwargs))
            except SystemExit as e:
                status = _exit_code(e.code)
            except BaseException:
                traceback.print_exc()
                status = 1
        except BaseException:
            with contextlib.suppress(BaseException):
                traceback.print_exc()
        finally:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(BaseException):
                    stream.flush()
            os._exit(status)

    return child

"""The one checked-call helper: turn a failed liblxc call into a typed
exception that names the container and the operation and carries what
liblxc logged while the call ran.

liblxc returns a bare false and writes its reason to the container's log.
Each handle's log goes to its own memfd (see ``lxcpy_log_attach`` in the
shim), so a call's lines are those appended between its start and its end.
Calls on one handle from several threads may see each other's lines; calls
on different handles never do.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from types import TracebackType
from typing import NoReturn

from lxcpy import _ffi
from lxcpy.errors import (
    AttachError,
    CgroupError,
    CheckpointError,
    CloneError,
    ConfigError,
    CreateError,
    DestroyError,
    FreezeError,
    LxcError,
    RebootError,
    RenameError,
    SnapshotError,
    StartError,
    StopError,
)

# Which exception a failed operation raises.
ERRORS: dict[str, type[LxcError]] = {
    "create": CreateError,
    "start": StartError,
    "stop": StopError,
    "shutdown": StopError,
    "reboot": RebootError,
    "freeze": FreezeError,
    "unfreeze": FreezeError,
    "destroy": DestroyError,
    "rename": RenameError,
    "clone": CloneError,
    "config": ConfigError,
    "snapshot": SnapshotError,
    "attach": AttachError,
    "cgroup": CgroupError,
    "checkpoint": CheckpointError,
    "restore": CheckpointError,
}

# The level of the lines liblxc writes to each handle's log.
LOG_LEVEL = "ERROR"
_ffi.log_setup(LOG_LEVEL)

_TRIM_AT = 1 << 16


class LogCapture:
    """Reads one handle's log memfd by offsets; trims it when idle."""

    __slots__ = ("_busy", "_fd", "_lock")

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._lock = threading.Lock()
        self._busy = 0

    def mark(self) -> int:
        with self._lock:
            self._busy += 1
            return os.fstat(self._fd).st_size

    def lines_since(self, start: int) -> list[str]:
        end = os.fstat(self._fd).st_size
        if end <= start:
            return []
        data = os.pread(self._fd, end - start, start)
        return [ln for ln in data.decode("utf-8", "replace").splitlines() if ln.strip()]

    def release(self) -> None:
        with self._lock:
            self._busy -= 1
            if self._busy == 0 and os.fstat(self._fd).st_size > _TRIM_AT:
                os.ftruncate(self._fd, 0)


class Operation:
    """``with Operation(...) as op:`` around one or more C calls; ``op.fail()``
    raises the operation's exception with the lines logged meanwhile."""

    __slots__ = ("_capture", "_container", "_error", "_handle", "_name", "_start")

    def __init__(
        self,
        capture: LogCapture,
        handle: _ffi.Handle,
        container: str,
        name: str,
        error: type[LxcError] | None = None,
    ) -> None:
        self._capture = capture
        self._handle = handle
        self._container = container
        self._name = name
        self._error = error or ERRORS.get(name, LxcError)
        self._start = 0

    def __enter__(self) -> Operation:
        self._start = self._capture.mark()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._capture.release()

    @property
    def handle(self) -> _ffi.Handle:
        return self._handle

    def details(self) -> list[str]:
        lines = self._capture.lines_since(self._start)
        num, text = _ffi.error_string(self._handle)
        if text:
            lines.append(f"error_string ({num}): {text}")
        return lines

    def fail(
        self,
        message: str,
        *,
        error: type[LxcError] | None = None,
        errno: int | None = None,
        extra: Sequence[str] = (),
        **fields: str,
    ) -> NoReturn:
        cls = error or self._error
        exc = cls(
            message,
            container=self._container,
            operation=self._name,
            details=[*self.details(), *extra],
            errno=errno,
        )
        for key, value in fields.items():
            setattr(exc, key, value)
        raise exc

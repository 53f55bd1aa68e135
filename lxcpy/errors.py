"""lxcpy's exceptions.

Every failure is an exception; no method reports failure by returning
False. Each carries the container it concerns, the operation that failed
and ``details``: the lines liblxc itself logged while the call ran, which
usually hold the real reason (a missing bridge, a template error...).
Classes mix in a builtin where the meaning matches, so ``except
LookupError`` or ``except NotImplementedError`` catch what they should;
an operation that fails on a host file (a missing device node, an
unwritable directory) raises its class mixed with the matching OSError
subclass (``with_os_error``): ``except FileNotFoundError`` and ``except
DeviceError`` both catch a missing device node.
"""

from __future__ import annotations

import errno
import errno as _errno
import os
import re
import threading
from collections.abc import Sequence
from typing import TypeVar, cast

__all__ = [
    "AlreadyDefinedError",
    "AlreadyRunningError",
    "AttachError",
    "CgroupError",
    "CheckpointError",
    "CloneError",
    "ConfigError",
    "ConsoleError",
    "CreateError",
    "DestroyError",
    "DeviceError",
    "ExitStatusLostError",
    "FreezeError",
    "HelperError",
    "LxcError",
    "MountError",
    "NetworkError",
    "NotDefinedError",
    "NotRunningError",
    "RebootError",
    "RenameError",
    "SnapshotError",
    "StartError",
    "StopError",
    "StopTimeoutError",
    "UnsupportedError",
    "with_os_error",
]

# "lxcpy name 20261129021306.292 ERROR    network - file.c:func:711 - reason"
_LOG_LINE = re.compile(r"^\S+(?: \S+)? \d{8,}\.\d+ +([A-Z]+) +\S+ - \S+:\S+:\d+ - (.*)$")


def log_reason(line: str) -> str:
    """The message part of one liblxc log line (the line itself if its
    shape is unknown)."""
    m = _LOG_LINE.match(line)
    return m.group(2) if m else line


class LxcError(Exception):
    """Base class: an operation on a container failed.

    Attributes: ``container`` (its name, or None), ``operation`` (e.g.
    "start"), ``details`` (liblxc's own log lines for the failing call),
    ``errno`` (an errno value where one was known, else None).
    """

    def __init__(
        self,
        message: str,
        *,
        container: str | None = None,
        operation: str | None = None,
        details: Sequence[str] = (),
        errno: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.container = container
        self.operation = operation
        self.details = list(details)
        self.errno = errno

    def __str__(self) -> str:
        parts = []
        if self.container is not None:
            parts.append(f"container {self.container!r}")
        if self.operation is not None:
            parts.append(self.operation)
        head = ": ".join(parts)
        text = f"{head}: {self.message}" if head else self.message
        reasons = list(dict.fromkeys(log_reason(d) for d in self.details))
        if reasons:
            text += "\n" + "\n".join(f"  liblxc: {r}" for r in reasons[:8])
            if len(reasons) > 8:
                text += f"\n  ... and {len(reasons) - 8} more lines in .details"
        return text


class NotDefinedError(LxcError, LookupError):
    """The operation needs a defined (created) container."""


class AlreadyDefinedError(LxcError, FileExistsError):
    """create/rename/clone onto a name that already exists."""


class NotRunningError(LxcError):
    """The operation needs a running container."""


class AlreadyRunningError(LxcError):
    """start() on a container that is already running."""


class ConfigError(LxcError, ValueError):
    """An unknown configuration key or an invalid value."""


class UnsupportedError(LxcError, NotImplementedError):
    """This liblxc (or kernel) lacks what the operation needs."""


class CreateError(LxcError):
    """create() failed. ``output`` holds what the template printed."""

    output: str = ""

    def __str__(self) -> str:
        text = super().__str__()
        if self.output.strip():
            tail = self.output.strip().splitlines()[-20:]
            text += "\n  template output:\n" + "\n".join(f"    {ln}" for ln in tail)
        return text


class StartError(LxcError):
    """start() failed."""


class StopError(LxcError):
    """stop() or shutdown() failed."""


class StopTimeoutError(StopError, TimeoutError):
    """shutdown() ran out of time (and was not told to force a stop)."""


class RebootError(LxcError):
    """reboot() failed."""


class FreezeError(LxcError):
    """freeze() or unfreeze() failed."""


class DestroyError(LxcError):
    """destroy() failed."""


class RenameError(LxcError):
    """rename() failed."""


class CloneError(LxcError):
    """clone() failed."""


class SnapshotError(LxcError):
    """A snapshot operation failed."""


class AttachError(LxcError):
    """Attaching to a running container failed."""


class ExitStatusLostError(AttachError, ChildProcessError):
    """A process run through lxcpy's helper process (run(), popen()) has
    an exit status nobody can tell any more: the helper, its parent, died.
    The next call starts a new helper."""


class HelperError(LxcError):
    """lxcpy's helper process (``lxcpy-helper``) cannot be used: it is
    from another build (its protocol version is not this one's), or it did
    not start properly. ``path`` is the executable; ``expected`` and
    ``found`` the protocol versions (``found`` is None when it said none).
    """

    def __init__(self, message: str, *, path: str, expected: int, found: int | None = None) -> None:
        super().__init__(message, operation="helper")
        self.path = path
        self.expected = expected
        self.found = found


class CgroupError(LxcError):
    """Reading or writing a cgroup value failed."""


class CheckpointError(LxcError):
    """checkpoint() or restore() failed."""


class NetworkError(LxcError):
    """Listing, moving or reading network interfaces failed."""


class DeviceError(LxcError):
    """Adding or removing a device node failed."""


class MountError(LxcError):
    """mount() or umount() into a running container failed."""


class ConsoleError(LxcError):
    """Getting a console or its log failed."""


# The builtin OSError subclass for an errno (FileNotFoundError for ENOENT...).
_BY_ERRNO: dict[int, type[OSError]] = {
    _errno.ENOENT: FileNotFoundError,
    _errno.EEXIST: FileExistsError,
    _errno.EISDIR: IsADirectoryError,
    _errno.ENOTDIR: NotADirectoryError,
    _errno.EACCES: PermissionError,
    _errno.EPERM: PermissionError,
    _errno.ETIMEDOUT: TimeoutError,
}


_mixed: dict[tuple[type[LxcError], type[OSError]], type[LxcError]] = {}
_mixed_lock = threading.Lock()


def _mix(cls: type[LxcError], builtin: type[OSError]) -> type[LxcError]:
    """``cls`` mixed with ``builtin`` (one class per pair, made on first use;
    named e.g. ``DeviceError(FileNotFoundError)``)."""
    if issubclass(cls, builtin):
        return cls
    with _mixed_lock:
        mixed = _mixed.get((cls, builtin))
        if mixed is None:
            mixed = type(
                f"{cls.__name__}({builtin.__name__})",
                (cls, builtin),
                {"__module__": cls.__module__, "__doc__": cls.__doc__},
            )
            _mixed[(cls, builtin)] = mixed
    return mixed


_E = TypeVar("_E", bound=LxcError)


def with_os_error(
    cls: type[_E],
    message: str,
    err: int,
    *,
    filename: str | None = None,
    container: str | None = None,
    operation: str | None = None,
) -> _E:
    """An instance of ``cls`` that is also the OSError subclass matching
    ``err`` (FileNotFoundError for ENOENT, PermissionError for EACCES...;
    OSError for the rest), with ``errno``, ``strerror`` and ``filename``
    set as an OSError's are."""
    mixed = cast("type[_E]", _mix(cls, _BY_ERRNO.get(err, OSError)))
    e = mixed(message, container=container, operation=operation, errno=err)
    assert isinstance(e, OSError)
    e.strerror = os.strerror(err)
    e.filename = filename
    return e


def from_os_error(
    cls: type[_E],
    what: str,
    e: OSError,
    *,
    filename: str | None = None,
    container: str | None = None,
    operation: str | None = None,
) -> _E:
    """with_os_error() for an OSError caught from the OS: the message is
    ``what: <its strerror>``, with its errno (EIO when it has none)."""
    return with_os_error(
        cls,
        f"{what}: {e.strerror}",
        e.errno or errno.EIO,
        filename=filename,
        container=container,
        operation=operation,
    )

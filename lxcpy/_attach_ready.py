"""Whether a container can take an attach now: running, and not frozen
(an attach into a frozen cgroup would block in liblxc for good).

Asking the container's monitor for its init costs a round trip to another
process (tens of microseconds, a good part of a short run()), so the
answer is kept per Container: a pidfd of the init the monitor named, and
the files that tell whether its cgroup is frozen, kept open. While that
pidfd does not report an exit, the container is still running with the
same init (an init never changes cgroups), and only the freezer files are
read again. A Container's fds are closed with it (``release``), or when
its init exits.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

from lxcpy import _ffi, _sigint
from lxcpy._cgroupfs import FreezeFile, freeze_files
from lxcpy.errors import AttachError, NotRunningError
from lxcpy.state import State

if TYPE_CHECKING:
    from lxcpy.container import Container

__all__ = ["CheckTimeout", "check", "exiting", "init_exited", "init_id", "release"]


class CheckTimeout(Exception):
    """The container's monitor did not answer by the deadline."""


class _Init:
    """A running container init: its pid, a pidfd on it (polled for its
    exit), and its cgroups' freezer files, kept open (read again with
    pread; an open file does not keep a cgroup from being removed)."""

    __slots__ = ("files", "key", "pid", "pidfd", "poller")

    def __init__(self, key: tuple[str, str], pid: int, pidfd: int) -> None:
        # Owns pidfd from here on, whatever fails below (__del__).
        self.files: list[tuple[int, bytes | None]] = []
        self.pidfd = pidfd
        self.key = key
        self.pid = pid
        self.poller = select.poll()
        self.poller.register(pidfd, select.POLLIN)
        for path, mark in freeze_files(pid):
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                continue
            self.files.append((fd, None if mark is None else mark.encode()))

    def alive(self) -> bool:
        return self.pidfd >= 0 and not self.poller.poll(0)

    def frozen(self) -> bool:
        for fd, mark in self.files:
            try:
                text = os.pread(fd, 4096, 0)
            except OSError:
                continue
            if _is_frozen(text, mark):
                return True
        return False

    def close(self) -> None:
        fd, self.pidfd = self.pidfd, -1
        files, self.files = self.files, []
        for f in (fd, *(f for f, _ in files)):
            if f >= 0:
                os.close(f)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


_inits: weakref.WeakKeyDictionary[Container, _Init] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _read(path: str) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return os.read(fd, 4096)
    except OSError:
        return None
    finally:
        os.close(fd)


def _is_frozen(text: bytes, mark: bytes | None) -> bool:
    if mark is None:
        return text.strip() != b"THAWED"
    return mark in text.splitlines()


def frozen(files: tuple[FreezeFile, ...]) -> bool:
    for path, mark in files:
        text = _read(path)
        if text is not None and _is_frozen(text, None if mark is None else mark.encode()):
            return True
    return False


_PID_LINE = re.compile(rb"^Pid:\s*(-?\d+)", re.M)


def _pidfd_pid(fd: int) -> int:
    """The pid a pidfd refers to (-1 once it exited), from its fdinfo."""
    text = _read(f"/proc/self/fdinfo/{fd}") or b""
    m = _PID_LINE.search(text)
    return int(m.group(1)) if m else -1


def _learn(c: Container, h: _ffi.Handle) -> _Init | None:
    """Ask the monitor for the init's pidfd (one round trip); None when
    it has none to give (not running, or no pidfds here)."""
    fd = _ffi.init_pidfd(h)
    if fd < 0:
        return None
    try:
        os.set_inheritable(fd, False)
        pid = _pidfd_pid(fd)
    except BaseException:
        os.close(fd)
        raise
    if pid <= 0:
        os.close(fd)
        return None
    return _Init((c.name, c.lxcpath), pid, fd)


def _raise_frozen(c: Container, state: str) -> None:
    raise AttachError(
        f"the container is {state.lower()}: unfreeze it first",
        container=c.name,
        operation="attach",
    )


def check(c: Container, deadline: float | None = None, held: _sigint.Held | None = None) -> int:
    """NotRunningError unless running; AttachError when frozen. Returns the
    init's pid (0 when the monitor gave none but says RUNNING: started
    just now; liblxc is let try). Unless the answer is known already, the
    monitor is asked from a thread of its own (a monitor that does not
    answer blocks in liblxc for good), whose answer is kept for the next
    call once it comes, while this one waits in slices: no answer by
    ``deadline`` (a time.monotonic() value) raises CheckTimeout, and a
    Ctrl-C ``held`` back (lxcpy._sigint) raises KeyboardInterrupt within a
    fraction of a second. With neither, the monitor is asked here."""
    if deadline is None and held is None:
        return _check(c)
    known = _known(c)
    if known is not None:
        return known
    box: list[tuple[bool, Any]] = []
    done = threading.Event()

    def ask() -> None:
        try:
            box.append((True, _check(c)))
        except BaseException as e:
            box.append((False, e))
        finally:
            done.set()

    threading.Thread(target=ask, name="lxcpy-attach-check", daemon=True).start()
    while True:
        left = 0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic()))
        if done.wait(left):
            break
        if held is not None and held.pending:
            raise KeyboardInterrupt
        if deadline is not None and time.monotonic() >= deadline:
            raise CheckTimeout
    ok, value = box[0]
    if not ok:
        raise value
    return int(value)


def _known(c: Container) -> int | None:
    """The init's pid when known and alive, and not frozen (no question
    to the monitor); else None."""
    key = (c.name, c.lxcpath)
    with _lock:
        init = _inits.get(c)
        if init is not None and init.key == key and init.alive() and not init.frozen():
            return init.pid
    return None


def _check(c: Container) -> int:
    h = c._handle()
    key = (c.name, c.lxcpath)
    with _lock:
        init = _inits.get(c)
        if init is not None and (init.key != key or not init.alive()):
            del _inits[c]
            init.close()
            init = None
        if init is not None and not init.frozen():
            return init.pid
    if init is None:
        # Not under the lock: a monitor that does not answer must not hold
        # up attaches to other containers.
        init = _learn(c, h)
        if init is not None:
            with _lock:
                old = _inits.get(c)
                if old is not None:  # another thread learnt it meanwhile
                    old.close()
                if c.closed:
                    # Closed by another thread meanwhile: release() ran
                    # already (it comes after the mark), keep nothing.
                    frozen_now = init.frozen()
                    init.close()
                    if not frozen_now:
                        return init.pid
                    _raise_frozen(c, State.FROZEN.value)
                _inits[c] = init
                if not init.frozen():
                    return init.pid
    if init is not None:
        _raise_frozen(c, State.FROZEN.value)
    # No pidfd from the monitor: not running, or no pidfds here.
    pid = _ffi.init_pid(h)
    if pid > 0:
        if not frozen(freeze_files(pid)):
            return pid
        _raise_frozen(c, State.FROZEN.value)
    state = _ffi.state(h)
    if state == State.RUNNING.value:
        return 0
    if state in (State.FROZEN.value, State.FREEZING.value):
        _raise_frozen(c, state)
    why = "not running" if _ffi.is_defined(h) else "not defined"
    raise NotRunningError(f"the container is {why}", container=c.name, operation="attach")


_PF_EXITING = 0x4


def exiting(pid: int) -> bool:
    """Whether pid is exiting or gone (an init exiting waits for the rest
    of its pid namespace to die, and no process can join it meanwhile)."""
    text = _read(f"/proc/{pid}/stat")
    if text is None:
        return True
    fields = text[text.rfind(b")") + 2 :].split()
    try:
        return fields[0] in (b"Z", b"X", b"x") or bool(int(fields[6]) & _PF_EXITING)
    except (IndexError, ValueError):
        return False


def init_id(c: Container) -> tuple[int, int]:
    """(st_dev, st_ino) of the pidfd this Container keeps of its init, or
    (0, 0). (Under the lock: a kept one is closed only once removed.)"""
    with _lock:
        init = _inits.get(c)
        if init is None or init.pidfd < 0:
            return 0, 0
        st = os.fstat(init.pidfd)
        return st.st_dev, st.st_ino


def init_exited(c: Container) -> bool:
    """Whether the init this Container last knew of has exited (False
    when it knew of none)."""
    with _lock:
        init = _inits.get(c)
        return init is not None and not init.alive()


def release(c: Container) -> None:
    """Close what was kept (pidfd, freezer files) for a Container being
    closed."""
    with _lock:
        init = _inits.pop(c, None)
    if init is not None:
        init.close()

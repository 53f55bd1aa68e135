"""A Container's liblxc handle, shared by the calls in flight on it.

Any method of a Container may be called from any thread, and ``close()``
may come while another thread is still inside a call on the same object.
So the handle (and its log memfd, see lxcpy._operation) is not released by
``close()`` itself: ``close()`` marks the object closed at once (new calls
raise ``ValueError``), and the handle goes when the last call in flight
returns. The same holds for a handle that ``destroy()`` or ``rename()``
replaces with a fresh one: it is retired, and freed once nobody uses it.
That way no call ever reads or truncates an fd number that lxcpy no longer
owns (another thread may have opened a file under it meanwhile).

Every public method and property of ``Container`` (and of the views that
hold one, ``Config`` and ``Cgroup``) runs between ``enter()`` and
``leave()``; see ``guard_methods``.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple, TypeVar

from lxcpy import _ffi
from lxcpy._operation import LogCapture

__all__ = ["HandleRef", "Slot", "guard_methods"]

# One lock for every Slot: it is held for a few operations at a time, and
# a single lock is simple to make safe across fork (below).
_lock = threading.Lock()


def _after_fork_in_child() -> None:
    # Another thread may have held it at fork time; it is gone in the child.
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


class HandleRef(NamedTuple):
    """A liblxc handle and the capture of its log, which go together."""

    handle: _ffi.Handle
    capture: LogCapture


def _ref(h: _ffi.Handle) -> HandleRef:
    return HandleRef(h, LogCapture(_ffi.log_fd(h)))


class Slot:
    """The current handle of one Container, the number of calls in flight,
    and the handles retired while calls were in flight."""

    __slots__ = ("_calls", "_cur", "_last", "_name", "_retired")

    def __init__(self, h: _ffi.Handle, name: str) -> None:
        self._cur: HandleRef | None = _ref(h)
        # After close(): the handle the calls still in flight go on using.
        self._last: HandleRef | None = None
        self._calls = 0
        self._retired: list[_ffi.Handle] = []
        self._name = name

    @property
    def closed(self) -> bool:
        return self._cur is None

    def rename(self, name: str) -> None:
        self._name = name

    def current(self) -> HandleRef:
        """The handle to use. A call that was in flight when another thread
        closed the object finishes with the handle it started on."""
        cur = self._cur or self._last
        if cur is None:
            raise ValueError(f"I/O operation on closed Container {self._name!r}")
        return cur

    def enter(self) -> None:
        with _lock:
            if self._cur is None:
                raise ValueError(f"I/O operation on closed Container {self._name!r}")
            self._calls += 1

    def leave(self) -> None:
        with _lock:
            self._calls -= 1
            free = self._take_retired()
        _free(free)

    def replace(self, h: _ffi.Handle) -> None:
        """Make h the current handle; the old one goes once unused."""
        new = _ref(h)
        with _lock:
            if self._cur is None:  # closed meanwhile by another thread
                self._retired.append(h)
            else:
                self._retired.append(self._cur.handle)
                self._cur = new
            free = self._take_retired()
        _free(free)

    def close(self) -> bool:
        """Mark closed; False if it already was. The handle is freed now if
        no call is in flight, else by the last one to leave."""
        with _lock:
            old, self._cur = self._cur, None
            if old is None:
                return False
            self._last = old
            self._retired.append(old.handle)
            free = self._take_retired()
        _free(free)
        return True

    def _take_retired(self) -> list[_ffi.Handle]:
        if self._calls > 0 or not self._retired:
            return []
        free, self._retired = self._retired, []
        self._last = None
        return free


def _free(handles: Iterable[_ffi.Handle]) -> None:
    for h in handles:
        _ffi.handle_free(h)


F = TypeVar("F", bound=Callable[..., Any])


def _guarded(fn: F, slot: Callable[[Any], Slot]) -> F:
    @functools.wraps(fn)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        s = slot(self)
        s.enter()
        try:
            return fn(self, *args, **kwargs)
        finally:
            s.leave()

    return call  # type: ignore[return-value]


def guard_methods(cls: type, slot: Callable[[Any], Slot], exclude: Iterable[str] = ()) -> None:
    """Run every public method and property of cls (and the dunders that
    read or write items) between ``slot(self).enter()`` and ``leave()``."""
    skip = set(exclude)
    dunders = {"__getitem__", "__setitem__", "__delitem__", "__iter__", "__len__", "__contains__"}
    for attr, value in list(vars(cls).items()):
        if attr in skip or (attr.startswith("_") and attr not in dunders):
            continue
        if isinstance(value, property):
            setattr(
                cls,
                attr,
                property(
                    None if value.fget is None else _guarded(value.fget, slot),
                    None if value.fset is None else _guarded(value.fset, slot),
                    None if value.fdel is None else _guarded(value.fdel, slot),
                    value.__doc__,
                ),
            )
        elif callable(value) and not isinstance(value, (staticmethod, classmethod, type)):
            setattr(cls, attr, _guarded(value, slot))

"""Holding a Ctrl-C back while fds move from C into Python.

A KeyboardInterrupt is raised at the next bytecode boundary after the
signal, which may fall between a C call that returned an fd (a request's
socket, a process's pidfd) and the Python statement that keeps it: the fd
leaks, and the process it stands for runs on, unknown. So where lxcpy
starts something, it holds SIGINT back (``held()``): the default handler is
replaced by one that only notes the signal, the code checks ``pending`` at
the points where it can stop cleanly, and once everything it made is known
it undoes that and raises KeyboardInterrupt itself.

Python runs signal handlers in the main thread only, so only there is
anything held back; a handler other than Python's default one (the
caller's own) is left alone.
"""

from __future__ import annotations

import os
import signal
import threading

try:
    # The C module under signal.py: the same calls without the wrapping of
    # handlers in enums (4 us a call).
    import _signal  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # another Python
    _signal = signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["Held", "deferred", "held", "pending"]


class Held:
    """Whether a SIGINT came while held back."""

    __slots__ = ("pending",)

    def __init__(self) -> None:
        self.pending = False

    def note(self, signum: int, frame: Any) -> None:
        self.pending = True


# The hold whose handler is in place (the outermost: one inside it finds
# a handler that is not the default one, and leaves it), None when none.
_active: Held | None = None


def _after_fork_in_child() -> None:
    """A child forked (by another thread) while the main thread held a
    Ctrl-C back never leaves that hold: the child gets Python's default
    handler back, and no hold."""
    global _active
    if _active is not None:
        _active = None
        try:
            if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
                signal.signal(signal.SIGINT, signal.default_int_handler)
        except (ValueError, OSError):
            pass


os.register_at_fork(after_in_child=_after_fork_in_child)


class held:  # lower case: used as a function, ``with held() as state:``
    """Hold SIGINT back for the block (in the main thread, under Python's
    default handler): yields the block's ``Held``. A class rather than a
    generator, on the path of every run(): entering and leaving cost a
    fifth of what @contextmanager and signal.signal's enum wrapping do."""

    __slots__ = ("_old", "_state")

    def __init__(self) -> None:
        self._state = Held()
        self._old: Any = None

    def __enter__(self) -> Held:
        global _active
        if threading.current_thread() is threading.main_thread():
            try:
                current = _signal.getsignal(signal.SIGINT)
                if current is signal.default_int_handler:
                    _signal.signal(signal.SIGINT, self._state.note)
                    self._old = current
                    _active = self._state
            except (ValueError, OSError):
                self._old = None
        return self._state

    def __exit__(self, *exc: object) -> None:
        global _active
        if self._old is not None:
            _active = None
            _signal.signal(signal.SIGINT, self._old)


def pending() -> bool:
    """Whether a Ctrl-C came while held back, in the hold around this
    code (for a wait deep inside one, such as a new helper's hello, to
    give up on: False outside the main thread or any hold)."""
    state = _active
    return (
        state is not None
        and state.pending
        and threading.current_thread() is threading.main_thread()
    )


@contextmanager
def deferred() -> Iterator[None]:
    """Run the block with a Ctrl-C held back, and raise it when the block
    is done: for a block that makes something and records it where the
    cleanup finds it (``fd = os.memfd_create(...)`` inside a ``try`` whose
    ``finally`` closes it), which a KeyboardInterrupt between the two
    would leak. If the block raises, that exception goes up instead."""
    with held() as state:
        yield
    if state.pending:
        raise KeyboardInterrupt

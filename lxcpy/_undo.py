"""Stopping what an interrupted start() got going.

A start() that raised (KeyboardInterrupt, a timeout) must leave the
container stopped. But liblxc's monitor answers no command, not even the
state, until it is past STARTING: a slow pre-start hook, or an AppArmor
profile being compiled (seconds under emulation) keeps it busy. So the
stop runs in a thread with a handle of its own (``StartUndo``): start()
waits for it about a second (``WAIT``), then lets the exception go up,
and the thread goes on until the container is STOPPED, asking again
whenever liblxc could not pass the request on (the monitor's socket not
there yet), for at most ``LIMIT`` seconds.

Such a thread is a daemon (a stuck monitor must not keep the program
alive for ever). So that the usual end of a Ctrl-C, the interpreter
exiting, does not cut it short, the interpreter waits at exit for the
threads in flight, for at most ``LIMIT`` seconds in all (a further Ctrl-C
ends that wait).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import time

from lxcpy import _ffi, _worker

__all__ = ["LIMIT", "WAIT", "StartUndo", "stop_in_background", "wait_all"]

# How long start() waits for the stop before its exception goes up.
WAIT = 1.0
# How long the thread goes on trying (and the interpreter waits at exit).
LIMIT = 60.0
# How long one blocking liblxc wait runs; how long between two requests.
_SLICE = 1
_RETRY = 0.1

_STOPPED = "STOPPED"
_lock = threading.Lock()
_in_flight: set[StartUndo] = set()


class StartUndo:
    """Stop the container ``name`` in ``lxcpath`` unless it is STOPPED,
    and wait until it is (then, with ``destroy``, destroy it), in a daemon
    thread."""

    __slots__ = ("_destroy", "_done", "_lxcpath", "_name", "_thread")

    def __init__(self, name: str, lxcpath: str, *, destroy: bool = False) -> None:
        self._name = name
        self._lxcpath = lxcpath
        self._destroy = destroy  # then destroy it once STOPPED (ephemeral())
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lxcpy-undo-start", daemon=True)

    def start(self) -> None:
        """Start the thread (once; safe to call again)."""
        with _lock:
            if self._thread.ident is not None:
                return
            _in_flight.add(self)
            self._thread.start()

    def wait(self, deadline: float) -> None:
        """Wait until the thread is done (the container STOPPED) or
        ``deadline`` (monotonic) passed."""
        self._done.wait(max(0.0, deadline - time.monotonic()))

    def _run(self) -> None:
        try:
            h = _ffi.handle_new(self._name, _ffi.enc_path(self._lxcpath))
            if h is None:
                return
            try:
                _stop_until_stopped(h, time.monotonic() + LIMIT)
                stopped = _ffi.state(h) == _STOPPED
            finally:
                _ffi.handle_free(h)
            if self._destroy and stopped:
                _destroy(self._name, self._lxcpath)
        finally:
            self._done.set()
            with _lock:
                _in_flight.discard(self)


def stop_in_background(name: str, lxcpath: str, wait: float, *, destroy: bool = False) -> None:
    """Start a ``StartUndo`` for the container and wait for it at most
    ``wait`` seconds, through further Ctrl-Cs (each step is bounded)."""
    deadline = time.monotonic() + wait
    undo = StartUndo(name, lxcpath, destroy=destroy)
    _worker.finish(undo.start)
    _worker.finish(lambda: undo.wait(deadline))


def _stop_until_stopped(h: _ffi.Handle, deadline: float) -> None:
    # Each call may block until the monitor serves commands again.
    while _ffi.state(h) != _STOPPED:
        if _ffi.stop(h):
            while _ffi.state(h) != _STOPPED and time.monotonic() < deadline:
                _ffi.wait(h, _STOPPED, _SLICE)
            return
        # liblxc could not pass the stop on: the monitor is not serving
        # yet, or the container went meanwhile (the state says which).
        if time.monotonic() >= deadline:
            return
        time.sleep(_RETRY)


def _destroy(name: str, lxcpath: str) -> None:
    # Through Container: destroy's checks (nothing outside the container's
    # directory) apply here too.
    from lxcpy.container import Container
    from lxcpy.errors import LxcError

    with Container(name, lxcpath) as c, contextlib.suppress(LxcError):
        if c.defined:
            c.destroy(snapshots=True)


def wait_all(timeout: float = LIMIT) -> None:
    """Wait for the threads in flight, for at most ``timeout`` seconds in
    all (at interpreter exit; tests, before they count what is left)."""
    deadline = time.monotonic() + timeout
    with _lock:
        pending = list(_in_flight)
    for undo in pending:
        undo.wait(deadline)


def _after_fork_in_child() -> None:
    # The threads stayed in the parent, which waits for them.
    global _lock
    _lock = threading.Lock()
    _in_flight.clear()


atexit.register(wait_all)
os.register_at_fork(after_in_child=_after_fork_in_child)

"""Test support, and nothing else: what lxcpy's tests (tests/, the
benchmarks' soak run, tests/sanitize/run.sh) ask of lxcpy's internals that
lxcpy itself never needs. No other module of lxcpy imports this one.

- ``helper_pid()``: the helper's pid as it answers a PING (spawning it if
  needed); ``current_helper_pid()``: the pid of this process's helper,
  without spawning one;
- ``open_request()``: one request sent to the helper whose reply socket
  stays open for more replies, and its first reply;
- ``reaper_pending()``: how many dropped Popen children the background
  reaper still waits for.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Sequence

from lxcpy import _helper
from lxcpy._ffi import wire
from lxcpy.process import _reaper

__all__ = ["current_helper_pid", "helper_pid", "open_request", "reaper_pending"]


def helper_pid() -> int:
    """The helper's pid as it reports it (spawning it if needed)."""
    packed = wire.pack_request(wire.OP_PING, {})
    assert packed is not None
    err, kind, _status, pid = _helper.request(packed[0])
    if err or kind != wire.REPLY_PONG:
        raise OSError(-err or errno.EPROTO, "lxcpy's helper did not answer a ping")
    return pid


def current_helper_pid() -> int | None:
    """The pid of this process's helper, without spawning one."""
    h = _helper._current
    return None if h is None else h.pid


def open_request(
    msg: bytes | Callable[[int], int], fds: Sequence[int] = ()
) -> tuple[int, tuple[int, int, int, int], int, _helper.Helper]:
    """Send one request whose reply socket stays open for more replies (an
    attach: STARTED, then DONE): a packed message with its fds, or a
    function that sends one. Returns the socket (an fd, the caller's to
    close with _helper.close_request), the first reply, the fd it carried
    (or -1; CLOEXEC, the caller's to close) and the helper."""
    mine, h = _helper.send_request(msg if callable(msg) else _helper._packed(msg, fds))
    try:
        reply, passed = _helper._recv(mine, h)
    except BaseException:
        _helper.close_request(mine)
        raise
    return mine, reply, passed, h


def reaper_pending() -> int:
    """How many dropped Popen children the background reaper still waits
    for (0 once all are reaped)."""
    with _reaper._lock:
        return len(_reaper._children)

"""lxcpy's helper process (lxcpy._helper, csrc/helper/main.c): lazy, shared
by threads, safe across fork, gone with its caller, restarted after a
crash, leak-free, and deaf to malformed requests."""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import (
    NEEDS_HELPER,
    NEUTRAL_CWD,
    children_of,
    open_fds,
    proc_stat,
    unreaped,
    zombies,
)
from protocol import defaults, pack, parse_reply, with_header

import lxcpy
from lxcpy import _ffi, _helper, _testing

pytestmark = [NEEDS_HELPER, pytest.mark.usefixtures("helper_on")]

EINVAL = 22


def alive(pid: int) -> bool:
    """Whether pid exists and is not a zombie: a zombie leader whose other
    threads still exit is not dead yet (the helper has two threads)."""
    st = proc_stat(pid)
    if st is None:
        return False
    if st[0] != "Z":
        return True
    try:
        return len(os.listdir(f"/proc/{pid}/task")) > 1
    except FileNotFoundError:
        return False


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.01)
    return not alive(pid)


def run_python(code: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=NEUTRAL_CWD,
        **kw,  # type: ignore[arg-type]
    )


# -- lifetime -----------------------------------------------------------------


def test_starts_lazily(base: lxcpy.Container, lxcpath: str) -> None:
    r = run_python(
        f"""
        import lxcpy
        from lxcpy import _testing
        c = lxcpy.Container("base", {base.lxcpath!r})
        c.state, c.config["lxc.uts.name"], lxcpy.list_containers({lxcpath!r})
        assert _testing.current_helper_pid() is None, "spawned too early"
        copy = c.clone("lazy", lxcpath={lxcpath!r}, snapshot=True)
        copy.start()
        assert _testing.current_helper_pid() is not None, "start did not use the helper"
        copy.stop()
        print("ok")
        """
    )
    assert r.stdout.strip() == "ok", r.stderr


def test_switch_off_means_no_helper(base: lxcpy.Container, lxcpath: str) -> None:
    r = run_python(
        f"""
        import lxcpy
        from lxcpy import _testing
        c = lxcpy.Container("base", {base.lxcpath!r})
        copy = c.clone("off", lxcpath={lxcpath!r}, snapshot=True)
        copy.start()
        copy.stop()
        assert _testing.current_helper_pid() is None
        print("ok")
        """,
        env={**os.environ, "LXCPY_HELPER": "0"},
    )
    assert r.stdout.strip() == "ok", r.stderr


def test_shared_by_threads() -> None:
    pids: list[int] = []
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            for _ in range(20):
                pids.append(_testing.helper_pid())
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(pids) == 160
    assert len(set(pids)) == 1
    assert pids[0] == _testing.current_helper_pid()


def test_forked_child_gets_its_own() -> None:
    parent_helper = _testing.helper_pid()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(r)
            none_at_first = _testing.current_helper_pid() is None
            own = _testing.helper_pid()
            ok = none_at_first and own != parent_helper and own in children_of(os.getpid())
            os.write(w, struct.pack("ii", int(ok), own))
        finally:
            os._exit(0)
    os.close(w)
    data = os.read(r, 8)
    os.close(r)
    os.waitpid(pid, 0)
    ok, child_helper = struct.unpack("ii", data)
    assert ok
    # The child's helper went with the child; the parent's still serves.
    assert gone_within(child_helper, 2)
    assert _testing.helper_pid() == parent_helper
    assert zombies() == 0


def test_dies_with_its_caller() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from lxcpy import _testing; print(_testing.helper_pid(), flush=True); "
            "import time; time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=NEUTRAL_CWD,
    )
    try:
        assert proc.stdout is not None
        helper = int(proc.stdout.readline())
        assert alive(helper)
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    assert gone_within(helper, 1)


def test_restarts_after_kill(container: lxcpy.Container) -> None:
    first = _testing.helper_pid()
    os.kill(first, signal.SIGKILL)
    assert gone_within(first, 2)
    container.start()  # transparently through a new helper
    assert container.running
    second = _testing.current_helper_pid()
    assert second is not None and second != first
    container.stop()
    # The dead one was reaped.
    assert zombies() == 0
    assert not Path(f"/proc/{first}").exists()


def test_restarts_when_found_dead_on_send() -> None:
    h = _helper._get()
    os.kill(h.pid, signal.SIGKILL)
    os.waitpid(h.pid, 0)  # reaped behind lxcpy's back: the send fails
    new = _testing.helper_pid()
    assert new != h.pid
    assert zombies() == 0


def test_death_during_a_request_is_a_start_error(container: lxcpy.Container) -> None:
    hook = Path(container.lxcpath, "slow-hook")
    hook.write_text("#!/bin/sh\nsleep 2\n")
    hook.chmod(0o755)
    container.config["lxc.hook.pre-start"] = str(hook)
    helper = _testing.helper_pid()
    killer = threading.Timer(0.5, os.kill, (helper, signal.SIGKILL))
    killer.start()
    try:
        with pytest.raises(lxcpy.StartError, match="helper process died"):
            container.start()
    finally:
        killer.join()
    # The worker carries on without the helper; let it finish and clean up.
    container.wait(lxcpy.State.RUNNING, timeout=10)
    if container.running:
        container.stop()
    assert _testing.helper_pid() != helper
    assert zombies() == 0


def test_no_leaks_over_many_calls(container: lxcpy.Container) -> None:
    container.start()
    container.stop()
    helper = _testing.helper_pid()
    # A process an earlier test left running (attached through the
    # helper) holds its request's socket in the helper until it exits.
    deadline = time.monotonic() + 10
    while unreaped(helper) and time.monotonic() < deadline:
        time.sleep(0.02)
    fds, helper_fds = open_fds(), helper_fd_links(helper)
    for _ in range(15):
        container.start()
        container.stop()
    assert open_fds() == fds
    # Nothing new in the helper. (Something an earlier test left open
    # there, a socket seen now and then in full runs, may have closed.)
    assert set(helper_fd_links(helper).items()) <= set(helper_fds.items())
    assert unreaped(helper) == []
    assert zombies() == 0
    assert _testing.current_helper_pid() == helper


def helper_fd_links(pid: int) -> dict[str, str]:
    out = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out[fd] = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
    return out


def test_executable_refuses_a_missing_control_socket() -> None:
    r = subprocess.run([_ffi.HELPER_PATH], capture_output=True, text=True, check=False)
    assert r.returncode == 2
    assert "control socket" in r.stderr


# -- malformed requests -----------------------------------------------------


def raw(msg: bytes, fds: list[int] | None = None, *, with_reply: bool = True) -> bytes | None:
    """Send msg on the helper's control socket; the reply, or None when
    the helper (rightly) had nobody to answer."""
    h = _helper._get()
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with mine:
        sent = [theirs.fileno()] if with_reply else []
        socket.send_fds(h.sock, [msg], [*sent, *(fds or [])])
        theirs.close()
        if not with_reply:
            return None
        mine.settimeout(5)
        return mine.recv(64)


def err_of(reply: bytes | None) -> int:
    assert reply is not None
    parsed = parse_reply(reply)
    assert parsed is not None
    return parsed[0]


@pytest.fixture
def memfds() -> Iterator[list[int]]:
    fds = [os.memfd_create("cfg", os.MFD_CLOEXEC), os.memfd_create("log", os.MFD_CLOEXEC)]
    yield fds
    for fd in fds:
        os.close(fd)


def test_refuses_garbage(memfds: list[int]) -> None:
    helper = _testing.helper_pid()
    assert err_of(raw(b"")) == -EINVAL
    assert err_of(raw(b"\0" * 3)) == -EINVAL
    assert err_of(raw(os.urandom(200))) == -EINVAL
    assert err_of(raw(b"x" * 150_000)) == -EINVAL  # longer than the limit
    # Right magic, lying lengths and counts (the framing, field by field:
    # test_helper_protocol.py).
    good = _ffi.pack_start("ct", b"/tmp/x", False, None)
    assert good is not None
    assert err_of(raw(with_header(good, len=999), memfds)) == -EINVAL
    assert err_of(raw(with_header(good, nfds=1 << 30), memfds)) == -EINVAL
    assert err_of(raw(with_header(good, op=99), memfds)) == -EINVAL
    # The last string not NUL-terminated, or bytes after the last field.
    assert err_of(raw(with_header(good[:-1], len=len(good) - 1), memfds)) == -EINVAL
    assert err_of(raw(with_header(good + b"junk", len=len(good) + 4), memfds)) == -EINVAL
    # No reply socket, or not a socket: dropped silently.
    raw(os.urandom(64), with_reply=False)
    r, w = os.pipe()
    try:
        h = _helper._get()
        socket.send_fds(h.sock, [os.urandom(64)], [r, w])
    finally:
        os.close(r)
        os.close(w)
    # Still the same helper, still answering.
    assert _testing.helper_pid() == helper


def test_refuses_what_the_api_refuses(memfds: list[int]) -> None:
    helper = _testing.helper_pid()
    good = _ffi.pack_start("ct", b"/tmp/x", False, None)
    assert good is not None
    # Wrong number of fds, or fds of the wrong kind.
    assert err_of(raw(good, memfds[:1])) == -EINVAL
    assert err_of(raw(good, [*memfds, memfds[0]])) == -EINVAL
    r, w = os.pipe()
    try:
        assert err_of(raw(good, [r, memfds[1]])) == -EINVAL
    finally:
        os.close(r)
        os.close(w)
    # Names and paths the public API refuses (packed by C, which does not
    # check: the helper must).
    for name in ["", ".", "..", "a/b", "a b", "a\tb", "a\u00a0b", "a\u2028b", "x" * 300]:
        msg = _ffi.pack_start(name, b"/tmp/x", False, None)
        assert msg is not None
        assert err_of(raw(msg, memfds)) == -EINVAL, name
    for path in [b"relative", b""]:
        msg = _ffi.pack_start("ct", path, False, None)
        assert msg is not None
        assert err_of(raw(msg, memfds)) == -EINVAL, path
    bad_utf8 = bytearray(good)
    bad_utf8[good.index(b"ct\0")] = 0xFF
    assert err_of(raw(bytes(bad_utf8), memfds)) == -EINVAL
    # use_init must be 0 or 1; a command is never empty.
    fields = {**defaults(_ffi.OP_START), "name": b"ct", "lxcpath": b"/tmp/x"}
    assert err_of(raw(pack(_ffi.OP_START, {**fields, "use_init": 7})[0], memfds)) == -EINVAL
    assert err_of(raw(pack(_ffi.OP_START, {**fields, "cmd": []})[0], memfds)) == -EINVAL
    # A create with flags the API never passes, or an empty template.
    out = os.memfd_create("out", os.MFD_CLOEXEC)
    try:
        msg = _ffi.pack_create("ct", b"/tmp/x", "", None, [])
        assert msg is not None
        assert err_of(raw(msg, [*memfds, out])) == -EINVAL
    finally:
        os.close(out)
    assert _testing.helper_pid() == helper
    assert zombies() == 0


def test_packing_refuses_oversized_requests() -> None:
    assert _ffi.pack_start("ct", b"/tmp/x", False, [b"x" * 200_000]) is None


def test_oversized_start_falls_back_in_process(container: lxcpy.Container) -> None:
    # Too large for the protocol: done in-process, same result.
    with pytest.raises(lxcpy.StartError):
        container.start(["/bin/" + "x" * 200_000])

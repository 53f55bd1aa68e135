"""run() and popen() through lxcpy's helper process: the attached process
is the helper's child, its status comes back exact, signals go through a
pidfd, a dead helper loses the status loudly and is replaced, nothing
leaks on either side, and malformed attach requests are refused."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import pytest
from helpers import NEEDS_HELPER, attach_workers, helper_fds, open_fds, proc_stat, unreaped
from protocol import pack_attach, repacked, with_header
from test_helper import err_of, raw

import lxcpy
from lxcpy import _attach, _ffi, _helper, _testing

pytestmark = [NEEDS_HELPER, pytest.mark.usefixtures("helper_on")]

EINVAL = 22


def parent_of(pid: int) -> int:
    st = proc_stat(pid)
    assert st is not None, f"no process {pid}"
    return st[1]


def helper_zombies(helper: int) -> int:
    return sum(1 for pid in unreaped(helper) if (proc_stat(pid) or ("",))[0] == "Z")


def settle(helper: int) -> None:
    """Give the helper and its workers a moment to reap what just exited."""
    deadline = time.monotonic() + 5
    while unreaped(helper) and time.monotonic() < deadline:
        time.sleep(0.01)


def test_the_process_is_an_attach_workers_child(running: lxcpy.Container) -> None:
    with running.popen(["sleep", "30"]) as p:
        helper = _testing.current_helper_pid()
        assert helper is not None and p.pid != helper
        # The helper's event loop never attaches: a worker of its pool
        # does, and waits for the program.
        worker = parent_of(p.pid)
        assert worker not in (helper, os.getpid())
        assert parent_of(worker) == helper
        with pytest.raises(ChildProcessError):
            os.waitpid(p.pid, os.WNOHANG)
        assert p.poll() is None
        p.kill()
        assert p.wait() == -signal.SIGKILL
    assert p.returncode == -signal.SIGKILL


def test_exit_status_and_signals_exact(running: lxcpy.Container) -> None:
    assert running.run(["sh", "-c", "exit 7"]).returncode == 7
    assert running.run(["sh", "-c", "exit 255"]).returncode == 255
    assert running.run(["sh", "-c", "kill -TERM $$"]).returncode == -signal.SIGTERM
    assert running.run(["sh", "-c", "kill -SEGV $$"]).returncode == -signal.SIGSEGV
    with pytest.raises(subprocess.CalledProcessError) as e:
        running.run(["false"], check=True)
    assert e.value.returncode == 1


def test_terminate_and_send_signal(running: lxcpy.Container) -> None:
    p = running.popen(["sleep", "30"])
    p.terminate()
    assert p.wait(10) == -signal.SIGTERM
    p.send_signal(signal.SIGKILL)  # a no-op once waited for
    p = running.popen(["sh", "-c", "trap 'exit 42' USR1; while :; do sleep 0.05; done"])
    time.sleep(0.3)
    p.send_signal(signal.SIGUSR1)
    assert p.wait(10) == 42


def test_timeouts(running: lxcpy.Container) -> None:
    t = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        running.run(["sleep", "30"], timeout=0.3)
    assert time.monotonic() - t < 3
    p = running.popen(["sleep", "30"])
    t = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        p.wait(0.2)
    assert 0.2 <= time.monotonic() - t < 1.5
    assert p.poll() is None
    p.kill()
    assert p.wait(5) == -signal.SIGKILL
    helper = _testing.current_helper_pid()
    assert helper is not None
    settle(helper)
    assert unreaped(helper) == []


def test_exec_errors_stay_exact(running: lxcpy.Container) -> None:
    with pytest.raises(FileNotFoundError) as e:
        running.run(["no-such-program"])
    assert e.value.filename == "no-such-program"
    with pytest.raises(PermissionError):
        running.run(["/etc/passwd"])
    with pytest.raises(FileNotFoundError) as e:
        running.run(["true"], cwd="/no/such/dir")
    assert e.value.filename == "/no/such/dir"


def test_the_callers_environment_and_cwd(
    running: lxcpy.Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    running.run(["true"])  # the helper exists before the change
    monkeypatch.setenv("LXCPY_TEST_VAR", "from-the-caller")
    out = running.run(["sh", "-c", "echo $LXCPY_TEST_VAR"], capture_output=True, text=True)
    assert out.stdout == "from-the-caller\n"
    out = running.run(
        ["sh", "-c", "echo ${LXCPY_TEST_VAR:-unset} $FOO"],
        capture_output=True,
        text=True,
        clear_env=True,
        env={"FOO": "bar"},
    )
    assert out.stdout == "unset bar\n"
    out = running.run(
        ["sh", "-c", "echo $LXCPY_TEST_VAR"],
        capture_output=True,
        text=True,
        clear_env=True,
        keep_env=["LXCPY_TEST_VAR"],
    )
    assert out.stdout == "from-the-caller\n"
    monkeypatch.chdir("/etc")  # exists in the container too
    assert running.run(["pwd"], capture_output=True, text=True).stdout == "/etc\n"


def test_the_program_gets_the_same_signal_state(
    running: lxcpy.Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing blocked (the helper blocks SIGCHLD for itself), and the
    same ignored signals as in-process (what this process inherited
    ignored, minus SIGPIPE and SIGXFSZ, which Python ignores, and glibc's
    internal signals 32 and 33)."""
    cmd = ["grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"]
    out = running.run(cmd, capture_output=True, text=True).stdout
    assert "SigBlk:\t0000000000000000" in out
    monkeypatch.setenv("LXCPY_HELPER", "0")
    assert running.run(cmd, capture_output=True, text=True).stdout == out


_SIGNALS_BOTH_WAYS = """
import os, sys
if "" in sys.path:  # the checkout's lxcpy/ (unbuilt) must not shadow the installed one
    sys.path.remove("")
import lxcpy
c = lxcpy.Container(sys.argv[1], sys.argv[2])
cmd = ["grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"]
os.environ["LXCPY_HELPER"] = "1"
a = c.run(cmd, capture_output=True, text=True).stdout
os.environ["LXCPY_HELPER"] = "0"
b = c.run(cmd, capture_output=True, text=True).stdout
own = [ln for ln in open("/proc/self/status") if ln.startswith("SigIgn")][0]
print("same" if a == b else f"differ {a!r} {b!r}", own.split()[1])
"""


def test_signal_state_same_when_the_caller_inherited_ignored_signals(
    running: lxcpy.Container,
) -> None:
    """A caller started by glibc's posix_spawn inherits glibc's internal
    signals ignored (as CI runners' children do): both modes still agree."""
    r, w = os.pipe()
    actions = [(os.POSIX_SPAWN_DUP2, w, 1), (os.POSIX_SPAWN_DUP2, w, 2), (os.POSIX_SPAWN_CLOSE, r)]
    argv = [sys.executable, "-c", _SIGNALS_BOTH_WAYS, running.name, running.lxcpath]
    pid = os.posix_spawn(sys.executable, argv, dict(os.environ), file_actions=actions)
    os.close(w)
    with os.fdopen(r) as f:
        out = f.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, out
    verdict, own_ignored = out.split()
    assert int(own_ignored, 16) & (1 << 31), "posix_spawn left signal 32 ignored"
    assert verdict == "same", out


def test_helper_killed_mid_run(running: lxcpy.Container) -> None:
    p = running.popen(["sleep", "30"])
    helper = _testing.current_helper_pid()
    assert helper is not None
    os.kill(helper, signal.SIGKILL)
    # The attach worker that waits for the program outlives the helper:
    # the exact status still comes.
    assert p.poll() is None
    p.kill()  # reachable through its pidfd
    assert p.wait(10) == -signal.SIGKILL
    # Once the helper is dead (a SIGKILL is not instant: a request sent
    # before it died is lost with it), the next call starts a new one.
    deadline = time.monotonic() + 5
    while (st := proc_stat(helper)) is not None and st[0] != "Z" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert running.run(["sh", "-c", "exit 5"]).returncode == 5
    assert _testing.current_helper_pid() not in (None, helper)


def test_helper_killed_during_run(running: lxcpy.Container) -> None:
    helper = _testing.helper_pid()
    t = threading.Timer(0.3, os.kill, (helper, signal.SIGKILL))
    t.start()
    try:
        assert running.run(["sh", "-c", "sleep 1; exit 3"]).returncode == 3
    finally:
        t.join()
    assert running.run(["true"]).returncode == 0
    assert _testing.current_helper_pid() not in (None, helper)


def test_worker_killed_mid_run(running: lxcpy.Container) -> None:
    p = running.popen(["sleep", "30"])
    helper = _testing.current_helper_pid()
    worker = parent_of(p.pid)
    assert helper is not None and worker != helper
    os.kill(worker, signal.SIGKILL)
    with pytest.raises(lxcpy.ExitStatusLostError, match="died") as e:
        p.wait(10)
    assert isinstance(e.value, ChildProcessError)
    assert isinstance(e.value, lxcpy.LxcError)
    with pytest.raises(ChildProcessError):
        p.poll()
    assert p.returncode is None
    p.kill()  # still reachable through its pidfd
    # The helper itself is fine: kept, and it replaces the worker.
    assert running.run(["sh", "-c", "exit 5"]).returncode == 5
    assert _testing.current_helper_pid() == helper


def test_a_request_sent_to_a_worker_that_dies_unread_goes_to_another(
    running: lxcpy.Container,
) -> None:
    """A worker killed while idle (from outside: the OOM killer, say) may
    be sent a request before the helper knows it is dead: the request is
    not lost with it (it was: 'liblxc could not attach', ECONNABORTED)."""
    running.run(["true"])
    helper = _testing.current_helper_pid()
    assert helper is not None
    idle = attach_workers(helper)
    for w in idle:
        os.kill(w, signal.SIGSTOP)  # each takes requests and reads none
    got: list[object] = []

    def run() -> None:
        try:
            got.append(running.run(["sh", "-c", "exit 4"]))
        except Exception as e:
            got.append(e)

    t = threading.Thread(target=run)
    t.start()
    try:
        time.sleep(0.5)  # forwarded to a stopped worker by now
        assert got == []
    finally:
        for w in idle:
            os.kill(w, signal.SIGKILL)
        t.join(30)
    assert len(got) == 1, "no answer"
    assert isinstance(got[0], subprocess.CompletedProcess), got[0]
    assert got[0].returncode == 4
    assert _testing.current_helper_pid() == helper


def test_no_leaks_over_1000_runs(running: lxcpy.Container) -> None:
    running.run(["true"])
    running.run(["echo", "x"], capture_output=True)
    helper = _testing.current_helper_pid()
    assert helper is not None
    gc.collect()
    fds, request_fds = open_fds(), helper_fds(helper)
    workers = sorted(attach_workers(helper))
    for i in range(1000):
        if i % 50 == 0:
            running.popen(["true"])  # dropped without waiting
            continue
        r = running.run(["echo", str(i)], capture_output=True)
        assert r.stdout == f"{i}\n".encode()
    deadline = time.monotonic() + 10
    while _testing.reaper_pending() and time.monotonic() < deadline:
        time.sleep(0.02)
    settle(helper)
    gc.collect()
    assert _testing.current_helper_pid() == helper
    # None was killed: a caller that hangs up once answered is not one
    # that gave up while its worker was in liblxc (it was, now and then).
    assert sorted(attach_workers(helper)) == workers
    assert open_fds() == fds
    assert helper_fds(helper) == request_fds
    assert unreaped(helper) == []
    assert helper_zombies(helper) == 0


def test_attach_func_still_forks_the_caller(running: lxcpy.Container) -> None:
    p = running.attach(lambda: 3)
    assert parent_of(p.pid) == os.getpid()
    assert p.wait() == 3


# -- malformed attach requests ---------------------------------------------------


def good_request(running: lxcpy.Container) -> tuple[bytes, list[int], list[int]]:
    """A well-formed ATTACH request for /bin/true, its fds, and the fds
    to close afterwards."""
    err_r, err_w = os.pipe()
    log = os.memfd_create("log", os.MFD_CLOEXEC)
    o = _attach.resolve(_attach.options(), 0)
    packed = pack_attach(
        running.name.encode(),
        _ffi.enc_path(running.lxcpath),
        o,
        [-1, -1, -1],
        [-1, -1, -1],
        err_w,
        [b"/bin/true"],
        log,
    )
    assert packed is not None
    msg, fds = packed
    assert fds == [log, err_w]
    return msg, fds, [err_r, err_w, log]


def test_refuses_malformed_attach_requests(running: lxcpy.Container) -> None:
    helper = _testing.helper_pid()
    msg, fds, close = good_request(running)
    r, w = os.pipe()
    try:
        # Wrong fds: missing, one too many, of the wrong kind.
        assert err_of(raw(msg, fds[:1])) == -EINVAL
        assert err_of(raw(msg, [*fds, r])) == -EINVAL
        assert err_of(raw(msg, [r, fds[1]])) == -EINVAL  # a pipe as the log
        assert err_of(raw(msg, [fds[0], fds[0]])) == -EINVAL  # a memfd as the error pipe
        # Bad values, field by field (every check of the table:
        # test_helper_protocol.py). Packed again unchanged, it is the same.
        assert repacked(msg, fds) == (msg, fds)
        for change in [
            {"move_to_cgroup": 2},
            {"namespaces": 1 << 3},
            {"personality": -2},
            {"uid": 2**32},
            {"groups": [-1]},
            {"argv": []},
            {"argv": [b""]},
            {"name": b"a/b"},
            {"lxcpath": b"relative"},
            {"cwd": b""},
            {"extra_env": [b"NO_VALUE"]},
            {"keep_env": [b"A=b"]},
            {"liblxc_stdout": fds[0]},  # liblxc's stdout must be a pipe, not the log
        ]:
            bad, bad_fds = repacked(msg, fds, **change)
            assert err_of(raw(bad, bad_fds)) == -EINVAL, change
        # Truncated, or a header that lies.
        assert err_of(raw(msg[:-1], fds)) == -EINVAL
        assert err_of(raw(with_header(msg, nfds=2), fds)) == -EINVAL
        assert err_of(raw(with_header(msg, len=len(msg) + 1), fds)) == -EINVAL
        # The good one works (two replies: STARTED with a pidfd, then DONE).
        sock, reply, pidfd, _h = _testing.open_request(msg, fds)
        try:
            assert reply[0] == 0 and reply[1] == _ffi.REPLY_STARTED and pidfd >= 0
            os.close(pidfd)
            rc, done, _ = _ffi.recv_reply(sock, False)
            assert rc == 1 and done is not None
            assert done[1] == _ffi.REPLY_DONE and done[2] == 0
        finally:
            _helper.close_request(sock)
    finally:
        for fd in (r, w, *close):
            os.close(fd)
    assert _testing.helper_pid() == helper


def test_a_started_that_comes_while_a_request_is_given_up_is_killed(
    running: lxcpy.Container,
) -> None:
    # Deadlines swept across an attach, and each give-up slowed down where
    # it closes the request's socket (a preemption there): a STARTED sent
    # in that window must not leave its program running.
    def slow_close(frame: Any, event: str, arg: object) -> None:
        back = frame.f_back
        if (
            event == "call"
            and frame.f_code.co_name == "close_request"
            and back is not None
            and back.f_code.co_name == "_give_up"
        ):
            time.sleep(0.02)

    t = time.monotonic()
    for _ in range(5):
        running.run(["true"])
    took = (time.monotonic() - t) / 5
    timeouts = 0
    sys.setprofile(slow_close)
    try:
        for i in range(60):
            try:
                running.run(["sleep", "1000"], timeout=took * (0.2 + i * 0.025))
            except subprocess.TimeoutExpired:
                timeouts += 1
    finally:
        sys.setprofile(None)
    assert timeouts == 60
    ps = running.run(["ps"], capture_output=True, text=True).stdout
    assert "sleep 1000" not in ps, ps

"""Faults found by a hostile review of run()/popen(): communicate() with a
program that writes more than it reads, ids past 2**31, huge
environments, attaching to a dying container, fds left behind by failed
attaches, and Processes inherited through os.fork()."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import threading
import time

import pytest
from helpers import attach_workers, helper_fds

import lxcpy

# 32 bytes out per byte in: busybox hexdump, in the container and on the host.
_HEXDUMP = ["hexdump", "-v", "-e", '1/1 "%02x.............................\\n"']


def test_communicate_when_the_program_writes_more_than_it_reads(
    running: lxcpy.Container,
) -> None:
    data = os.urandom(1 << 20)
    want = None
    busybox = shutil.which("busybox")
    if busybox is not None:
        # The same program on the host, through subprocess.
        t0 = time.monotonic()
        with subprocess.Popen(
            [busybox, *_HEXDUMP], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        ) as sp:
            want, _ = sp.communicate(data, timeout=60)
        host = time.monotonic() - t0
        assert len(want) == 32 * len(data)
    p = running.popen(_HEXDUMP, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    result: list[bytes] = []
    failure: list[BaseException] = []

    def talk() -> None:
        try:
            out, _ = p.communicate(data, timeout=60)
            result.append(out)
        except BaseException as e:
            failure.append(e)

    t0 = time.monotonic()
    t = threading.Thread(target=talk)
    t.start()
    t.join(30)
    took = time.monotonic() - t0
    if t.is_alive():
        # Blocked in a write the timeout cannot interrupt: unblock it.
        p.kill()
        t.join(30)
        pytest.fail("communicate() blocked writing to the program's stdin")
    assert not failure, failure
    assert p.returncode == 0
    assert len(result[0]) == 32 * len(data)
    if want is not None:
        assert result[0] == want
        assert took < 10 * host + 5, (took, host)


def test_ids_past_2_to_the_31(running: lxcpy.Container) -> None:
    r = running.run(
        ["sh", "-c", "id -u; id -g; id -G"],
        user=2**31,
        group=2**32 - 2,
        groups=[2**31 + 5, 7],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r
    uid, gid, groups = r.stdout.split("\n")[:3]
    assert (int(uid), int(gid)) == (2**31, 2**32 - 2)
    assert sorted(int(g) for g in groups.split()) == [7, 2**31 + 5, 2**32 - 2]
    # (uid_t)-1 is no id; negative ones are none either.
    for bad in (
        {"user": 2**32 - 1},
        {"user": -1},
        {"group": 2**32 - 1},
        {"group": -5},
        {"groups": [2**32 - 1]},
        {"groups": [-1]},
        {"user": 2**40},
    ):
        with pytest.raises(ValueError):
            running.run(["true"], **bad)  # type: ignore[arg-type]


def test_ids_from_the_containers_files_are_checked(running: lxcpy.Container) -> None:
    running.run(
        [
            "sh",
            "-c",
            "echo 'big:x:4294967295:4294967295::/:/bin/sh' >> /etc/passwd;"
            "echo 'neg:x:-3:' >> /etc/group; echo 'huge:x:99999999999:' >> /etc/group",
        ],
        check=True,
    )
    with pytest.raises(ValueError, match="passwd"):
        running.run(["true"], user="big")
    for name in ("neg", "huge"):
        with pytest.raises(ValueError, match="group"):
            running.run(["true"], group=name)
        with pytest.raises(ValueError, match="group"):
            running.run(["true"], groups=[name])


def _timed(f: object) -> float:
    t0 = time.monotonic()
    f()  # type: ignore[operator]
    return time.monotonic() - t0


def test_a_huge_env_costs_what_it_costs_subprocess(running: lxcpy.Container) -> None:
    env = {f"V{i}": str(i) for i in range(40_000)}
    env["PATH"] = "/bin:/usr/bin"
    env["V7"] = "last"
    want = subprocess.run(["env"], env=env, capture_output=True, text=True, check=True)
    host = _timed(lambda: subprocess.run(["env"], env=env, capture_output=True, check=True))
    got: list[subprocess.CompletedProcess[str]] = []
    took = _timed(
        lambda: got.append(
            running.run(["env"], env=env, capture_output=True, text=True, check=True)
        )
    )
    seen = dict(line.split("=", 1) for line in got[0].stdout.splitlines())
    assert {k: seen.get(k) for k in env} == env
    assert len(want.stdout.splitlines()) >= len(env)
    assert seen["container"] == "lxc"
    assert took < 10 * host + 1.0, (took, host)


def test_env_overrides_like_putenv(running: lxcpy.Container) -> None:
    # The container's own variables and the caller's are overridden by
    # env=, in every mode, and clear_env keeps only what it should.
    os.environ["LXCPY_FAULTS_X"] = "caller"
    try:
        r = running.run(
            ["env"],
            env={"LXCPY_FAULTS_X": "mine", "container": "no"},
            capture_output=True,
            text=True,
            check=True,
        )
        lines = r.stdout.splitlines()
        assert lines.count("LXCPY_FAULTS_X=mine") == 1
        assert "container=no" in lines and "container=lxc" not in lines
        assert not [ln for ln in lines if ln.startswith("LXCPY_FAULTS_X=caller")]
        r = running.run(
            ["env"],
            env={"A": "1"},
            clear_env=True,
            keep_env=["LXCPY_FAULTS_X"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert sorted(r.stdout.splitlines()) == sorted(
            [
                "A=1",
                "LXCPY_FAULTS_X=caller",
                "container=lxc",
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            ]
        )
    finally:
        del os.environ["LXCPY_FAULTS_X"]


def _race_stop(c: lxcpy.Container, rounds: int) -> dict[str, int]:
    """Eight threads run(["true"]) in loops while the container stops,
    rounds times; what they raised, by type."""
    errors: dict[str, int] = {}
    unexpected: list[BaseException] = []
    for _ in range(rounds):
        if not c.running:
            c.start()
        stop = threading.Event()

        def work(stop: threading.Event = stop) -> None:
            while not stop.is_set():
                try:
                    c.run(["true"])
                except lxcpy.NotRunningError as e:
                    errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
                except BaseException as e:  # collected for the assert
                    unexpected.append(e)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        c.stop()
        time.sleep(0.2)
        stop.set()
        for t in threads:
            t.join(60)
    assert not unexpected, unexpected[:3]
    return errors


@pytest.mark.threaded_attach
def test_attaching_to_a_dying_container_is_not_running(running: lxcpy.Container) -> None:
    errors = _race_stop(running, 4)
    assert errors.get("NotRunningError")


def _wait_forked(pid: int, timeout: float = 30) -> int:
    """The wait status of a child of os.fork(), killed (and the test failed)
    should it hang (a lock held at the fork, say)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    pytest.fail("the forked child hung")


@pytest.mark.parametrize("child_does", ["wait", "poll", "drop"])
def test_a_forked_child_leaves_the_parents_statuses_alone(
    running: lxcpy.Container, child_does: str
) -> None:
    import gc

    from lxcpy import _testing

    procs = [running.popen(["sh", "-c", f"sleep 1; exit {code}"]) for code in (7, 8, 9)]
    helper = _testing.current_helper_pid()
    pid = os.fork()
    if pid == 0:  # the child: os._exit() whatever happens
        code = 99
        try:
            if child_does == "wait":
                # As subprocess: not its children, status 0 at once.
                t0 = time.monotonic()
                codes = [p.wait(timeout=5) for p in procs]
                code = 0 if codes == [0, 0, 0] and time.monotonic() - t0 < 0.9 else 1
            elif child_does == "poll":
                deadline = time.monotonic() + 2
                seen = set()
                while time.monotonic() < deadline:
                    seen.update(p.poll() for p in procs)
                    time.sleep(0.05)
                code = 0 if seen == {0} else 2
            else:
                del procs[:]
                gc.collect()
                time.sleep(2)  # while they exit, and their status comes
                code = 0
        finally:
            os._exit(code)
    status = _wait_forked(pid)
    assert os.waitstatus_to_exitcode(status) == 0
    assert [p.wait(timeout=30) for p in procs] == [7, 8, 9]
    assert _testing.current_helper_pid() == helper
    # And the parent can go on (its helper alive and answering).
    assert running.run(["sh", "-c", "exit 5"]).returncode == 5
    assert _testing.current_helper_pid() == helper
    if helper is not None:
        assert _testing.helper_pid() == helper


def test_a_forked_child_can_run_its_own(running: lxcpy.Container) -> None:
    # The child's own processes are its own: waited for normally.
    p = running.popen(["sh", "-c", "sleep 0.5; exit 3"])
    pid = os.fork()
    if pid == 0:
        code = 99
        try:
            r = running.run(["sh", "-c", "exit 4"])
            code = r.returncode
        finally:
            os._exit(code)
    status = _wait_forked(pid)
    assert os.waitstatus_to_exitcode(status) == 4
    assert p.wait(timeout=30) == 3


def test_a_forked_child_reaps_its_own_orphans(running: lxcpy.Container) -> None:
    # The parent's reaper thread is busy at the fork (a dropped Process
    # still running): the child has no such thread, and must start its own
    # for the Processes it drops.
    from helpers import zombies

    from lxcpy import _testing

    running.popen(["sleep", "3"])  # dropped at once: the reaper's
    assert _testing.reaper_pending() == 1
    pid = os.fork()
    if pid == 0:
        code = 99
        try:
            assert _testing.reaper_pending() == 0  # the parent's orphan is not ours
            running.popen(["true"])  # ours, dropped
            deadline = time.monotonic() + 10
            while (_testing.reaper_pending() or zombies()) and time.monotonic() < deadline:
                time.sleep(0.05)
            code = 0 if not _testing.reaper_pending() and not zombies() else 3
        except BaseException:
            code = 4
        finally:
            os._exit(code)
    status = _wait_forked(pid)
    assert os.waitstatus_to_exitcode(status) == 0
    deadline = time.monotonic() + 15
    while _testing.reaper_pending() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _testing.reaper_pending() == 0


def _fd_count(pid: int | str) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _fd_links(pid: int | str) -> list[str]:
    """What pid has open (for the message of a failed assert)."""
    out = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                flags = f.read().split("\n")[1]
            out.append(f"{fd} {link} {flags} me={os.getpid()}")
    return out


def _context_fds(pid: int) -> list[str]:
    """pid's open pidfds, procfs directories and namespace files: what
    liblxc's attach context opens (and leaks when an attach fails)."""
    out = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
            ns = link.partition(":")[0] in ("mnt", "pid", "net", "uts", "ipc", "user", "cgroup")
            if "pidfd" in link or ns or (link.startswith("/proc/") and link.count("/") <= 2):
                out.append(link)
    return out


def _settled(count: object, want: int, timeout: float = 10) -> int:
    """count() once it is at most want, or its last value after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        n = count()  # type: ignore[operator]
        if n <= want or time.monotonic() > deadline:
            return int(n)
        time.sleep(0.1)


@pytest.mark.threaded_attach
def test_runs_racing_stop_leak_no_fd(running: lxcpy.Container) -> None:
    import gc

    from lxcpy import _testing

    running.run(["true"])
    helper = _testing.current_helper_pid()
    gc.collect()
    mine = _fd_count("self")
    theirs = helper_fds(helper) if helper is not None else 0
    c = lxcpy.Container(running.name, running.lxcpath)
    try:
        errors = _race_stop(c, 6)
    finally:
        c.close()
    assert errors.get("NotRunningError")
    running.start()
    running.run(["true"])  # a request: the helper looks at what it keeps
    _settled(_testing.reaper_pending, 0)
    gc.collect()
    assert _settled(lambda: _fd_count("self"), mine) == mine, "\n".join(_fd_links("self"))
    if helper is not None:
        assert _testing.current_helper_pid() == helper
        # The helper (its sockets to its attach workers aside: the pool
        # grew for the 6 threads) and each attach worker, which made the
        # failed liblxc calls: none of what liblxc's attach context opens.
        assert _settled(lambda: helper_fds(helper), theirs) == theirs, "\n".join(_fd_links(helper))
        for w in attach_workers(helper):
            left = _settled(lambda w=w: len(_context_fds(w)), 0)  # type: ignore[misc]
            assert left == 0, "\n".join(_fd_links(w))

"""Ctrl-C and lost helpers during blocking lifecycle calls: every blocking
call answers KeyboardInterrupt within about a second, and a create() or
start() that raises (KeyboardInterrupt included) leaves nothing of itself
behind: no template or starter process, no container directory, no
running container, no fd. Also: concurrent create()/start() of one
container have exactly one winner."""

from __future__ import annotations

import math
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import NEUTRAL_CWD, NO_NET, open_fds, proc_stat, zombies

import lxcpy
from lxcpy import _helper, _testing, _undo, _worker

# How long after the signal a call may take to raise KeyboardInterrupt.
PROMPT = 2.5


def alive(pid: int) -> bool:
    st = proc_stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def all_gone(pids: list[int], seconds: float = 5) -> bool:
    deadline = time.monotonic() + seconds
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not any(alive(p) for p in pids)


def read_pids(path: Path) -> list[int]:
    try:
        return [int(w) for w in path.read_text().split()]
    except (OSError, ValueError):
        return []


def monitors(lxcpath: str, name: str) -> list[int]:
    """Live liblxc monitor processes of lxcpath/name."""
    want = f"[lxc monitor] {lxcpath} {name}".encode()
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if cmd.rstrip(b"\0").startswith(want) and alive(int(entry.name)):
            out.append(int(entry.name))
    return out


def warm_helper() -> None:
    """Spawn the helper now (if in use), so its fds are counted before."""
    if _helper.enabled():
        _testing.helper_pid()


def interrupt(call: Callable[[], object], after: float) -> float:
    """Run call() with a SIGINT delivered ``after`` seconds in; assert it
    raised KeyboardInterrupt and return how long after the signal it did.
    The signal goes to another thread (as a Ctrl-C may): no system call of
    the calling thread is interrupted, only Python's flag is set."""
    fired: list[float] = []

    def fire() -> None:
        fired.append(time.monotonic())
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)

    timer = threading.Timer(after, fire)
    try:
        with pytest.raises(KeyboardInterrupt):
            timer.start()  # a short ``after`` may fire in here
            call()
        raised = time.monotonic()
    finally:
        timer.cancel()
        timer.join()
    return raised - fired[0]


@pytest.fixture
def hanging_template(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A template (an absolute path: liblxc runs it as is) that writes its
    pid and its sleep's pid to a file and hangs. Both are killed at the
    end whatever happened (they would keep an unfixed create() waiting)."""
    pids = tmp_path / "template.pids"
    script = tmp_path / "hang-template"
    script.write_text(f"#!/bin/sh\necho $$ >> {pids}\nsleep 1000 &\necho $! >> {pids}\nwait\n")
    script.chmod(0o755)
    try:
        yield str(script), pids
    finally:
        for pid in read_pids(pids):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


class Watchdog:
    """Kills the hanging template's processes after ``seconds``, so that a
    call that ignores Ctrl-C (the bug) ends and the test fails instead of
    hanging."""

    def __init__(self, pids: Path, seconds: float) -> None:
        self._pids = pids
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(seconds,), daemon=True)
        self._thread.start()

    def _run(self, seconds: float) -> None:
        if self._done.wait(seconds):
            return
        for pid in read_pids(self._pids):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


# -- wait(), shutdown(), reboot() -------------------------------------------------


def test_wait_forever_answers_ctrl_c(running: lxcpy.Container) -> None:
    # wait(state) with no timeout used liblxc's "forever" (-1) in C.
    watchdog = threading.Timer(10, running.stop)
    watchdog.start()
    try:
        took = interrupt(lambda: running.wait(lxcpy.State.STOPPED), after=0.5)
    finally:
        watchdog.cancel()
        watchdog.join()
    assert took < PROMPT
    assert running.state is lxcpy.State.RUNNING


def test_wait_infinite_timeout_answers_ctrl_c(running: lxcpy.Container) -> None:
    watchdog = threading.Timer(10, running.stop)
    watchdog.start()
    try:
        took = interrupt(lambda: running.wait("STOPPED", timeout=math.inf), after=0.5)
    finally:
        watchdog.cancel()
        watchdog.join()
    assert took < PROMPT


def test_shutdown_answers_ctrl_c(container: lxcpy.Container) -> None:
    # An init that ignores the halt signal: liblxc's shutdown would sit in
    # C for the whole timeout.
    container.config["lxc.signal.halt"] = "SIGCONT"
    container.start()
    took = interrupt(lambda: container.shutdown(timeout=12), after=0.5)
    assert took < PROMPT
    assert container.running
    container.stop()


def test_shutdown_sends_the_halt_signal_once_and_waits(container: lxcpy.Container) -> None:
    # A sliced shutdown must not signal init once per slice: this init
    # counts the halt signals it gets and exits at the second.
    container.config["lxc.signal.halt"] = "SIGUSR1"
    container.start(
        cmd=[
            "/bin/sh",
            "-c",
            "n=0; trap 'n=$((n+1)); [ $n -ge 2 ] && exit 0' USR1; : > /trap-set; "
            "while :; do sleep 0.2; done",
        ]
    )
    # Not before the trap is set: the default action of SIGUSR1 would end
    # init at the first signal (seen once on a loaded machine).
    deadline = time.monotonic() + 30
    while container.run(["test", "-e", "/trap-set"]).returncode != 0:
        assert time.monotonic() < deadline, "init never set its trap"
        time.sleep(0.05)
    with pytest.raises(lxcpy.StopTimeoutError):
        container.shutdown(timeout=3.5)
    assert container.running
    container.shutdown(timeout=10)
    assert container.state is lxcpy.State.STOPPED


def test_reboot_answers_ctrl_c(container: lxcpy.Container) -> None:
    container.config["lxc.signal.reboot"] = "SIGCONT"
    container.start()
    took = interrupt(lambda: container.reboot(timeout=12), after=0.5)
    assert took < PROMPT
    assert container.running
    container.stop()


def test_reboot_timeout(container: lxcpy.Container) -> None:
    container.config["lxc.signal.reboot"] = "SIGCONT"
    container.start()
    pid = container.init_pid
    t0 = time.monotonic()
    with pytest.raises(lxcpy.RebootError):
        container.reboot(timeout=1.5)
    assert 1.4 < time.monotonic() - t0 < 5
    assert container.init_pid == pid
    container.stop()


# -- create() ---------------------------------------------------------------------


@pytest.mark.parametrize("after", [0.01, 0.05, 0.4, 1.5])
def test_ctrl_c_during_create_leaves_nothing(
    lxcpath: str, hanging_template: tuple[str, Path], after: float
) -> None:
    template, pids = hanging_template
    warm_helper()
    fds, zombies_before = open_fds(), zombies()
    watchdog = Watchdog(pids, 15)
    try:
        with lxcpy.Container("hang", lxcpath) as c:
            took = interrupt(lambda: c.create(template, config=NO_NET), after)
            assert took < PROMPT
            assert not c.defined
    finally:
        watchdog.stop()
    assert all_gone(read_pids(pids)), "the template is still running"
    assert not os.path.lexists(os.path.join(lxcpath, "hang"))
    assert lxcpy.list_containers(lxcpath) == []
    time.sleep(0.5)
    assert not os.path.lexists(os.path.join(lxcpath, "hang")), "something came back"
    assert open_fds() == fds
    assert zombies() == zombies_before


def test_ctrl_c_right_at_the_fork_leaves_nothing(
    lxcpath: str, hanging_template: tuple[str, Path]
) -> None:
    # Interrupts within the first milliseconds: between the fork and the
    # wait (in-process), or before the worker's STARTED is read (helper).
    # (fds: tests/test_faults.py::test_ctrl_c_in_the_first_milliseconds.)
    template, pids = hanging_template
    watchdog = Watchdog(pids, 60)
    try:
        for i in range(30):
            with lxcpy.Container("hang", lxcpath) as c:
                interrupt(lambda c=c: c.create(template, config=NO_NET), 0.001 + i * 0.001)  # type: ignore[misc]
            assert all_gone(read_pids(pids)), i
            time.sleep(0.1)
            assert not os.path.lexists(os.path.join(lxcpath, "hang")), i
    finally:
        watchdog.stop()


def test_ctrl_c_during_ephemeral_create(lxcpath: str, hanging_template: tuple[str, Path]) -> None:
    template, pids = hanging_template
    watchdog = Watchdog(pids, 15)
    try:
        took = interrupt(
            lambda: lxcpy.ephemeral(template, config=NO_NET, lxcpath=lxcpath).__enter__(), 1.0
        )
    finally:
        watchdog.stop()
    assert took < PROMPT
    assert all_gone(read_pids(pids))
    time.sleep(1)
    assert os.listdir(lxcpath) == []


def test_create_fails_when_the_helper_dies(
    helper_on: None, lxcpath: str, hanging_template: tuple[str, Path]
) -> None:
    template, pids = hanging_template
    with lxcpy.Container("warm", lxcpath) as c:
        c.create(config=NO_NET)  # a helper is running from here on
        c.destroy()

    def kill_helper() -> None:
        deadline = time.monotonic() + 10
        while not read_pids(pids) and time.monotonic() < deadline:
            time.sleep(0.02)
        pid = _testing.current_helper_pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_helper)
    watchdog = Watchdog(pids, 15)
    try:
        with lxcpy.Container("hang", lxcpath) as c:
            killer.start()
            t0 = time.monotonic()
            with pytest.raises(lxcpy.CreateError):
                c.create(template, config=NO_NET)
            assert time.monotonic() - t0 < 8
            assert not c.defined
    finally:
        killer.join()
        watchdog.stop()
    assert all_gone(read_pids(pids)), "the template outlived the helper"
    # The call that saw the helper die reaped it: it is no zombie until
    # this process next asks for a helper (in process, maybe never; it was,
    # and the next test counting zombies failed).
    assert zombies() == 0
    time.sleep(0.5)
    assert lxcpy.list_containers(lxcpath) == []
    assert not os.path.lexists(os.path.join(lxcpath, "hang"))


def test_concurrent_creates_have_one_winner(lxcpath: str) -> None:
    code = textwrap.dedent(
        """
        import sys
        import lxcpy
        c = lxcpy.Container(sys.argv[1], sys.argv[2])
        sys.stdin.read(1)
        try:
            c.create("busybox", config={"lxc.net.0.type": "empty"})
            print("won")
        except lxcpy.AlreadyDefinedError:
            print("lost")
        """
    )
    env = dict(os.environ)
    for rnd in range(20):
        name = f"race{rnd}"
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", code, name, lxcpath],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=NEUTRAL_CWD,
                env=env,
            )
            for _ in range(2)
        ]
        time.sleep(0.3)  # both imported lxcpy and opened their handle
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("x")
            p.stdin.flush()
        outs = [p.communicate(timeout=120) for p in procs]
        results = sorted(out.strip() for out, _err in outs)
        assert results == ["lost", "won"], (rnd, outs)
        with lxcpy.Container(name, lxcpath) as c:
            assert c.defined
            with c.started():
                assert c.run(["true"]).returncode == 0
            c.destroy()


# -- start() ----------------------------------------------------------------------


def slow_start(container: lxcpy.Container, tmp_path: Path, seconds: float) -> None:
    """Make start() take a while: a pre-start hook (run by liblxc's monitor)
    that sleeps."""
    hook = tmp_path / "slow-hook"
    hook.write_text(f"#!/bin/sh\nsleep {seconds}\n")
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)
    container.config["lxc.hook.pre-start"] = str(hook)


def assert_stays_stopped(c: lxcpy.Container, settle: float = 0.0) -> None:
    """STOPPED (within ``settle`` s: the time a stop left to lxcpy's thread
    may take, on a slow machine) and still STOPPED a while later."""
    deadline = time.monotonic() + settle
    while c.state is not lxcpy.State.STOPPED and time.monotonic() < deadline:
        time.sleep(0.1)
    assert c.state is lxcpy.State.STOPPED
    time.sleep(2.5)  # what an unfixed start left going would be RUNNING by now
    assert c.state is lxcpy.State.STOPPED
    assert monitors(c.lxcpath, c.name) == []


@pytest.mark.parametrize("after", [0.01, 0.05, 0.3, 0.8])
def test_ctrl_c_during_start_leaves_it_stopped(
    container: lxcpy.Container, tmp_path: Path, after: float
) -> None:
    slow_start(container, tmp_path, 0.6)
    warm_helper()
    fds = open_fds()
    returned = False

    def start() -> None:
        nonlocal returned
        container.start()
        returned = True
        for _ in range(100):  # the signal lands here if start() was quicker
            time.sleep(0.05)

    took = interrupt(start, after)
    assert took < PROMPT
    if returned:  # too late to interrupt start() itself
        container.stop()
    # Where starting takes longer than start() waits for the stop (liblxc's
    # monitor serves no request until then: AppArmor under emulation, ...),
    # lxcpy's thread stops the container as soon as it can.
    assert_stays_stopped(container, settle=60)
    assert open_fds() == fds


def test_ctrl_c_during_a_slow_start_hook_is_bounded(
    container: lxcpy.Container, tmp_path: Path
) -> None:
    # liblxc's monitor answers no command (stop, state) while a pre-start
    # hook runs: start() waits about a second for STOPPED, then leaves the
    # stop to a thread of its own, and the container never runs on.
    slow_start(container, tmp_path, 4)
    took = interrupt(container.start, 0.3)
    assert took < PROMPT
    assert_stays_stopped(container, settle=60)


def test_ctrl_c_during_a_slow_ephemeral_start_is_prompt(
    base: lxcpy.Container, lxcpath: str, tmp_path: Path
) -> None:
    # ephemeral() must not wait out liblxc's busy monitor to destroy what
    # it made: the stop and the destroy go to lxcpy's thread (the VM's
    # emulated starts made that 12-20 s; a 4 s hook does it here).
    hook = tmp_path / "slow-hook"
    hook.write_text("#!/bin/sh\nsleep 4\n")
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)

    def enter() -> None:
        with lxcpy.ephemeral(
            base=base, lxcpath=lxcpath, name="eph", config={"lxc.hook.pre-start": str(hook)}
        ):
            time.sleep(30)

    took = interrupt(enter, 0.5)
    assert took < PROMPT
    deadline = time.monotonic() + 60
    while os.path.lexists(os.path.join(lxcpath, "eph")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert lxcpy.list_containers(lxcpath) == []
    assert not os.path.lexists(os.path.join(lxcpath, "eph"))
    assert monitors(lxcpath, "eph") == []


EXIT_SCRIPT = """
import os, signal, sys, threading, time
import lxcpy
c = lxcpy.Container(sys.argv[1], sys.argv[2])
threading.Timer(0.3, lambda: signal.pthread_kill(threading.main_thread().ident,
                                                 signal.SIGINT)).start()
try:
    c.start()
except KeyboardInterrupt:
    print("interrupted", flush=True)
# the usual end of a Ctrl-C: the program exits at once
"""


def test_the_interpreter_exit_waits_for_the_stop_of_an_interrupted_start(
    container: lxcpy.Container, tmp_path: Path
) -> None:
    # A start() interrupted while the monitor is busy (a 12 s hook) raises
    # at once, and its stop is still to do when the program exits: the
    # exit waits for it, so the container does not come up RUNNING after
    # the program is gone.
    slow_start(container, tmp_path, 12)
    container.config.save()
    t0 = time.monotonic()
    r = subprocess.run(
        [sys.executable, "-c", EXIT_SCRIPT, container.name, container.lxcpath],
        cwd=NEUTRAL_CWD,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert r.returncode == 0 and r.stdout.strip() == "interrupted", r.stderr
    assert time.monotonic() - t0 >= 11, "the exit did not wait for the stop"
    assert_stays_stopped(container)


def test_start_fails_when_the_helper_dies(
    helper_on: None, container: lxcpy.Container, tmp_path: Path
) -> None:
    container.start()  # a helper is running from here on
    container.stop()
    slow_start(container, tmp_path, 2)
    pid = _testing.current_helper_pid()
    assert pid is not None
    killer = threading.Timer(0.7, os.kill, (pid, signal.SIGKILL))
    killer.start()
    try:
        with pytest.raises(lxcpy.StartError):
            container.start()
    finally:
        killer.join()
    assert_stays_stopped(container)


def test_concurrent_starts_loser_gets_already_running(container: lxcpy.Container) -> None:
    def start(c: lxcpy.Container, barrier: threading.Barrier, results: list[object]) -> None:
        barrier.wait()
        try:
            c.start()
            results.append("ok")
        except lxcpy.LxcError as e:
            results.append(e)

    for _ in range(5):
        results: list[object] = []
        handles = [container, lxcpy.Container(container.name, container.lxcpath)]
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=start, args=(c, barrier, results)) for c in handles]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        handles[1].close()
        assert container.running
        container.stop()
        assert results.count("ok") == 1, results
        losers = [r for r in results if r != "ok"]
        assert len(losers) == 1 and type(losers[0]) is lxcpy.AlreadyRunningError, results


@pytest.mark.parametrize("offset", [0.005, 0.015, 0.03])
def test_ctrl_c_during_clone_leaves_no_copy(
    base: lxcpy.Container, lxcpath: str, offset: float
) -> None:
    """A KeyboardInterrupt that comes while liblxc copies is raised once it
    returns: the copy it made is destroyed (ephemeral(base=...) left it)."""

    returned: list[bool] = []

    def clone() -> None:
        base.clone("cl", lxcpath=lxcpath, snapshot=True).close()
        returned.append(True)
        time.sleep(5)

    interrupt(clone, offset)
    # Interrupted inside clone(), or after it returned the copy.
    assert os.path.lexists(os.path.join(lxcpath, "cl")) == bool(returned)


def test_ctrl_c_after_a_lost_start_race_leaves_the_winner_running(
    container: lxcpy.Container,
) -> None:
    """A start() that lost to a concurrent one raises AlreadyRunningError,
    and a Ctrl-C that lands after that, in the method's epilogue, must not
    undo the winner's start (it did: the undo stopped the container).
    Deterministic: a profile function starts the container through
    another object right after this call checked it was stopped, then
    raises KeyboardInterrupt where the operation's log capture is
    released."""
    other = lxcpy.Container(container.name, container.lxcpath)
    steps: list[str] = []

    def profile(frame: Any, event: str, arg: Any) -> None:
        name = frame.f_code.co_name
        if event == "return" and name == "_need_stopped" and not steps:
            steps.append("won")
            other.start()  # not profiled: this runs inside the profile function
        elif event == "call" and name == "release" and steps == ["won"]:
            steps.append("interrupted")
            raise KeyboardInterrupt

    try:
        sys.setprofile(profile)
        try:
            with pytest.raises((KeyboardInterrupt, lxcpy.AlreadyRunningError)):
                container.start()
        finally:
            sys.setprofile(None)
        assert steps == ["won", "interrupted"], steps
        _undo.wait_all()
        time.sleep(0.5)
        assert other.running, "the interrupted loser stopped the winner's container"
    finally:
        if other.running:
            other.stop()
        other.close()


def test_an_interrupted_create_closed_meanwhile_raises_the_interrupt(lxcpath: str) -> None:
    """create() interrupted once its handle reloaded the new config, while
    another thread closes the object: the KeyboardInterrupt goes up and
    nothing is left (the clean-up replaced the handle outside the guard: a
    closed object's new handle was freed at once, then read, and a
    ValueError took the interrupt's place)."""
    c = lxcpy.Container("ic", lxcpath)
    fired: list[bool] = []

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code.co_name == "_reload" and not fired:
            fired.append(True)
            c.close()  # as another thread would, while create() is in flight
            raise KeyboardInterrupt

    sys.setprofile(profile)
    try:
        with pytest.raises(KeyboardInterrupt):
            c.create(config=NO_NET)
    finally:
        sys.setprofile(None)
    assert fired
    assert not os.path.lexists(os.path.join(lxcpath, "ic"))
    assert c.closed


class _FailingRequest:
    """A request at the routing seam (lxcpy._worker.Pending) whose poll()
    gets a Ctrl-C and then fails otherwise (a lost helper, an OSError)."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
        self.cancelled = self.closed = False

    def fileno(self) -> int:
        return -1

    def poll(self) -> int | None:
        signal.raise_signal(signal.SIGINT)  # held back by wait(): only noted
        raise self.exc

    def cancel(self) -> None:
        self.cancelled = True

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize("lost", [False, True], ids=["oserror", "helper-lost"])
def test_a_ctrl_c_held_back_is_raised_when_the_wait_fails_otherwise(lost: bool) -> None:
    """The Ctrl-C that came wins over the failure it came with (before, the
    OSError or the lost helper went up and the Ctrl-C was dropped); the
    request is cancelled (unless its helper is gone) and closed."""
    exc: BaseException = _helper.HelperLost("gone") if lost else OSError(5, "I/O error")
    req = _FailingRequest(exc)
    with pytest.raises(KeyboardInterrupt) as info:
        _worker.wait(lambda: req)
    assert info.value.__cause__ is exc
    assert req.closed
    assert req.cancelled is not lost


def test_a_child_forked_during_a_hold_gets_no_hold_and_the_default_handler() -> None:
    """Another thread forks while the main thread holds a Ctrl-C back (one
    came): the child, which never leaves that hold, has none (a new helper
    spawned there would give up at once) and Python's own SIGINT handler."""
    from lxcpy import _sigint

    status: list[int] = []

    def fork() -> None:
        pid = os.fork()
        if pid == 0:
            ok = not _sigint.pending() and (
                signal.getsignal(signal.SIGINT) is signal.default_int_handler
            )
            os._exit(0 if ok else 1)
        status.append(os.waitpid(pid, 0)[1])

    with _sigint.held() as held:
        signal.raise_signal(signal.SIGINT)
        assert held.pending and _sigint.pending()
        t = threading.Thread(target=fork)
        t.start()
        t.join()
    assert status == [0]

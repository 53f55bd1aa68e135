"""Requests never wait on each other: a container whose monitor does not
answer (SIGSTOPped) holds up nobody else, ``run(timeout=)`` bounds the
whole call, attaches run side by side, a lost helper is replaced before
the next request, and a forked child never reads a reply meant for its
parent. (The speed-ups are measured in benchmarks/bench_concurrency.py,
not here.)"""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
from helpers import attach_workers, children_of, in_threads, open_fds, proc_stat, zombies

import lxcpy
from lxcpy import _testing

HELPER = os.environ.get("LXCPY_HELPER", "1") != "0"


def monitor_of(c: lxcpy.Container) -> int:
    """The container's `[lxc monitor]`: the parent of its init."""
    pid = c.init_pid
    assert pid is not None
    st = proc_stat(pid)
    assert st is not None
    with open(f"/proc/{st[1]}/cmdline", "rb") as f:
        cmd = f.read()
    assert cmd.startswith(b"[lxc monitor]"), cmd
    return st[1]


def gone(pid: int, seconds: float) -> bool:
    """pid is gone, or a zombie."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        st = proc_stat(pid)
        if st is None or st[0] == "Z":
            return True
        time.sleep(0.01)
    return False


def in_container(init: int) -> list[int]:
    """The attached processes in init's container: those in its pid
    namespace whose parent is not (init's own children come and go)."""
    ns = os.readlink(f"/proc/{init}/ns/pid")
    inside = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/ns/pid") == ns:
                    inside.append(int(entry))
            except OSError:
                continue
    out = []
    for pid in inside:
        st = proc_stat(pid)
        if pid != init and st is not None and st[1] not in inside:
            out.append(pid)
    return sorted(out)


def settled(what: object, want: object, seconds: float = 5.0) -> bool:
    """Whether what() == want within seconds."""
    assert callable(what)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if what() == want:
            return True
        time.sleep(0.02)
    return what() == want


@pytest.fixture
def pair(base: lxcpy.Container, lxcpath: str) -> Iterator[tuple[lxcpy.Container, lxcpy.Container]]:
    """Two running clones, a and b."""
    a = base.clone("a", lxcpath=lxcpath, snapshot=True)
    b = base.clone("b", lxcpath=lxcpath, snapshot=True)
    try:
        a.start()
        b.start()
        for c in (a, b):  # what lxcpy asks the monitor once is known now
            assert c.run(["true"]).returncode == 0
        yield a, b
    finally:
        for c in (a, b):
            c.close()


@pytest.fixture
def a_init(pair: tuple[lxcpy.Container, lxcpy.Container]) -> int:
    """The pid of a's init (asked of its monitor before it stops)."""
    pid = pair[0].init_pid
    assert pid is not None
    return pid


@pytest.fixture
def stuck(pair: tuple[lxcpy.Container, lxcpy.Container], a_init: int) -> Iterator[int]:
    """Container a with its monitor stopped (SIGSTOP, by pid), resumed
    afterwards whatever happens: the monitor's pid."""
    a, _ = pair
    mon = monitor_of(a)
    os.kill(mon, signal.SIGSTOP)
    try:
        yield mon
    finally:
        os.kill(mon, signal.SIGCONT)


def test_other_containers_go_on_while_a_monitor_is_stopped(
    pair: tuple[lxcpy.Container, lxcpy.Container],
    stuck: int,
    base: lxcpy.Container,
    lxcpath: str,
) -> None:
    a, b = pair
    results: list[object] = []

    def on_a() -> None:
        try:
            results.append(a.run(["true"]).returncode)
        except BaseException as e:  # reported below
            results.append(e)

    t = threading.Thread(target=on_a, daemon=True)
    t.start()
    time.sleep(0.5)  # a's attach is waiting for its monitor now
    done = threading.Event()
    codes: list[int] = []
    took: list[float] = []

    def on_b() -> None:
        for _ in range(5):
            t0 = time.monotonic()
            codes.append(b.run(["sh", "-c", "exit 3"]).returncode)
            took.append(time.monotonic() - t0)
        # A create and a start are not held up either.
        c = lxcpy.Container("c", lxcpath)
        c.create("busybox", config={"lxc.net.0.type": "empty"})
        try:
            c.start()
            codes.append(c.run(["true"]).returncode)
            c.stop()
        finally:
            c.destroy()
            c.close()
        done.set()

    worker = threading.Thread(target=on_b, daemon=True)
    worker.start()
    worker.join(120)
    assert done.is_set(), "b (or a new container's create or start) waited on a's monitor"
    assert codes == [3] * 5 + [0]
    assert max(took) < 2.0, took
    assert t.is_alive() and not results  # a still waits, untouched
    os.kill(stuck, signal.SIGCONT)
    t.join(30)
    assert results == [0]


def test_run_timeout_bounds_a_stuck_attach(
    pair: tuple[lxcpy.Container, lxcpy.Container], a_init: int, stuck: int
) -> None:
    a, b = pair
    init = a_init
    fds = open_fds()
    t0 = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired) as e:
        a.run(["sh", "-c", "exit 6"], timeout=2)
    took = time.monotonic() - t0
    assert e.value.timeout == 2
    assert took < 2 + 1.0, took
    assert b.run(["true"]).returncode == 0
    if HELPER:
        # The attach worker stuck in liblxc is killed and reaped at once.
        helper = _testing.current_helper_pid()
        assert helper is not None
        assert settled(lambda: [k for w in attach_workers(helper) for k in children_of(w)], [])
        assert settled(lambda: [w for w in attach_workers(helper) if proc_stat(w) is None], [])
        assert settled(open_fds, fds)
    # Once resumed, a is fine, and nothing of the abandoned run is left:
    # no process in the container, no fd, no zombie.
    os.kill(stuck, signal.SIGCONT)
    assert a.run(["sh", "-c", "exit 6"], timeout=30).returncode == 6
    assert settled(lambda: in_container(init), [])
    assert settled(open_fds, fds)
    assert settled(zombies, 0)


@pytest.mark.parametrize("known", [True, False], ids=["init-known", "asking-monitor"])
def test_ctrl_c_in_a_run_on_a_stuck_container(
    pair: tuple[lxcpy.Container, lxcpy.Container],
    a_init: int,
    stuck: int,
    lxcpath: str,
    known: bool,
) -> None:
    """Ctrl-C gets through a run() whose container's monitor does not
    answer, within about a second, and leaves nothing running."""
    a, b = pair
    if not known:
        a = lxcpy.Container("a", lxcpath)  # a new handle: the init is asked of the monitor
    fds = open_fds()
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    t0 = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            a.run(["sh", "-c", "exit 6"])
        took = time.monotonic() - t0
    finally:
        timer.cancel()
    assert took < 0.5 + 1.5, took
    assert b.run(["true"]).returncode == 0
    os.kill(stuck, signal.SIGCONT)
    assert a.run(["sh", "-c", "exit 6"], timeout=30).returncode == 6
    assert settled(lambda: in_container(a_init), [])
    if known:
        assert settled(open_fds, fds)
    assert settled(zombies, 0)


def test_a_signal_handler_raising_in_a_run_on_a_stuck_container(
    pair: tuple[lxcpy.Container, lxcpy.Container], a_init: int, stuck: int
) -> None:
    """A handler of the caller's own (not Ctrl-C's) that raises while run()
    waits for a monitor that does not answer: its exception comes through,
    and what the attach started is cleaned up once liblxc returns (in
    process, liblxc's handle and fds were freed under it)."""
    a, b = pair
    fds = open_fds()

    class Alarm(Exception):
        pass

    def ring(signum: int, frame: object) -> None:
        raise Alarm

    old = signal.signal(signal.SIGALRM, ring)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        t0 = time.monotonic()
        with pytest.raises(Alarm):
            a.run(["sh", "-c", "exit 6"])
        assert time.monotonic() - t0 < 0.5 + 1.5
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert b.run(["true"]).returncode == 0
    os.kill(stuck, signal.SIGCONT)
    assert a.run(["sh", "-c", "exit 6"], timeout=30).returncode == 6
    assert settled(lambda: in_container(a_init), [])
    assert settled(open_fds, fds)
    assert settled(zombies, 0)


def test_repr_never_asks_a_stuck_monitor(
    pair: tuple[lxcpy.Container, lxcpy.Container], stuck: int
) -> None:
    """A repr (a traceback, a debugger) of a container whose monitor does
    not answer comes at once."""
    a, _ = pair
    got: list[str] = []
    t = threading.Thread(target=lambda: got.append(repr(a)), daemon=True)
    t.start()
    t.join(5)
    assert got == [f"<lxcpy.Container 'a' in {a.lxcpath!r}>"]


def test_run_timeout_while_asking_a_stuck_monitor(
    pair: tuple[lxcpy.Container, lxcpy.Container], a_init: int, stuck: int, lxcpath: str
) -> None:
    _, b = pair
    init = a_init
    fds = open_fds()
    fresh = lxcpy.Container("a", lxcpath)  # knows nothing of a's init yet
    try:
        t0 = time.monotonic()
        with pytest.raises(subprocess.TimeoutExpired):
            fresh.run(["true"], timeout=2)
        assert time.monotonic() - t0 < 2 + 1.0
        assert b.run(["true"]).returncode == 0
        # The question to the monitor is left waiting (in a thread of
        # this process); once the monitor answers, nothing is left.
        os.kill(stuck, signal.SIGCONT)
        assert fresh.run(["sh", "-c", "exit 4"], timeout=30).returncode == 4
    finally:
        fresh.close()
    assert settled(lambda: in_container(init), [])
    assert settled(open_fds, fds)
    assert zombies() == 0


def test_a_stuck_worker_still_sends_earlier_statuses(
    helper_on: None, pair: tuple[lxcpy.Container, lxcpy.Container]
) -> None:
    """The worker that attached p (and waits for it) is then stuck in an
    attach to a: p's exit status still comes at once."""
    a, b = pair
    b.run(["true"])
    p = b.popen(["sh", "-c", "sleep 3; exit 7"])
    st = proc_stat(p.pid)
    assert st is not None
    worker = st[1]
    mon = monitor_of(a)

    def wchan() -> str:
        with open(f"/proc/{worker}/wchan") as f:
            return f.read()

    def idle() -> bool:
        """The worker's main thread waits in poll() (for a request): by its
        system call (kernels differ in what wchan names)."""
        with open(f"/proc/{worker}/syscall") as f:
            nr = f.read().split()[0]
        return nr in ("7", "271")  # x86_64 poll, ppoll

    # p's worker is idle again (waiting for a request), and the next
    # request goes to the idle worker of the lowest slot: p's.
    assert settled(idle, True, 10)
    time.sleep(0.1)
    os.kill(mon, signal.SIGSTOP)
    t = None
    try:
        out: list[object] = []
        t = threading.Thread(target=lambda: out.append(a.run(["true"]).returncode), daemon=True)
        t.start()
        # It waits for a's monitor's answer now.
        assert settled(lambda: "unix_stream" in wchan(), True)
        assert p.wait(10) == 7
        assert t.is_alive() and not out
    finally:
        os.kill(mon, signal.SIGCONT)
    if t is not None:
        t.join(30)
    p.__exit__(None, None, None)


def test_concurrent_runs_on_one_container(running: lxcpy.Container) -> None:
    codes: list[tuple[int, int]] = []

    def work(k: int) -> None:
        for i in range(15):
            r = running.run(["sh", "-c", f"echo {k}-{i}; exit {(k + i) % 5}"], capture_output=True)
            assert r.stdout == f"{k}-{i}\n".encode()
            codes.append((k * 100 + i, r.returncode))

    assert in_threads(work, 4) == []
    assert sorted(codes) == sorted((k * 100 + i, (k + i) % 5) for k in range(4) for i in range(15))
    assert zombies() == 0


def test_run_right_after_helper_kill(helper_on: None, running: lxcpy.Container) -> None:
    failures = []
    for i in range(40):
        helper = _testing.helper_pid()
        os.kill(helper, signal.SIGKILL)
        assert gone(helper, 5)
        try:
            assert running.run(["sh", "-c", "exit 2"]).returncode == 2
        except lxcpy.LxcError as e:
            failures.append((i, e))
        assert _testing.current_helper_pid() != helper
    assert failures == []
    assert zombies() == 0


def _seqpacket_fds() -> list[int]:
    out = []
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                continue
            s = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue
        try:
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE) == socket.SOCK_SEQPACKET:
                out.append(fd)
        finally:
            s.close()
    return out


def test_a_forked_child_never_reads_the_parents_replies(running: lxcpy.Container) -> None:
    """Children forked while requests are in flight (a popen()ed process
    waited for, runs in other threads) hold none of the parent's reply
    sockets; the parent gets every reply."""
    running.run(["true"])
    p = running.popen(["sh", "-c", "sleep 1; exit 3"])
    stop = threading.Event()
    codes: list[int] = []

    def runs() -> None:
        i = 0
        while not stop.is_set():
            codes.append(running.run(["sh", "-c", f"exit {i % 7}"]).returncode - i % 7)
            i += 1

    threads = [threading.Thread(target=runs) for _ in range(2)]
    for t in threads:
        t.start()
    bad = []
    try:
        for _ in range(20):
            pid = os.fork()
            if pid == 0:
                # In the child: no reply socket of the parent's is open, and
                # the parent's process is not ours to wait for.
                try:
                    if _seqpacket_fds():
                        os._exit(1)
                    os._exit(0 if p.poll() == 0 else 3)
                finally:
                    os._exit(2)
            _, status = os.waitpid(pid, 0)
            if os.waitstatus_to_exitcode(status) != 0:
                bad.append(os.waitstatus_to_exitcode(status))
            time.sleep(0.02)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert bad == []
    assert p.wait(10) == 3
    assert codes and set(codes) == {0}

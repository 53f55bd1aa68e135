"""One fault scenario of tests/test_faults.py, in a process of its own.

Run as ``python fault_driver.py '<json spec>'`` (cwd ``/``): a segfault or a
hang then fails one test instead of killing pytest. It prints one line
``RESULT <json>``: what the faulted call did (``completed``, or the name of
what it raised), how long after the fault it took effect, what state the
container was left in, and what was left behind (tests/helpers.Leftovers:
fds, zombies, cgroup dirs, containers, monitors) once the scenario undid
what the call was documented to leave. Containers live in the spec's
lxcpath, which the driver empties whatever happened.
"""

from __future__ import annotations

import atexit
import faulthandler
import gc
import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from helpers import NO_NET, Leftovers, _reap_lxcpath, cgroup_dirs, leftovers_after

import lxcpy
from lxcpy import _testing, _undo

HELPER = os.environ.get("LXCPY_HELPER", "1") != "0"


def payload_procs(name: str) -> list[str]:
    """Command lines of host processes in the container's payload cgroup
    other than its init (pid 1 inside)."""
    out = []
    for d in cgroup_dirs([name]):
        if "lxc.payload." not in d:
            continue
        try:
            pids = Path(d, "cgroup.procs").read_text().split()
        except OSError:
            continue
        for pid in pids:
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").strip()
            except OSError:
                continue
            if cmd and not cmd.startswith(b"/sbin/init") and cmd != b"init":
                out.append(cmd.decode("utf-8", "replace"))
    return sorted(set(out))


def settle(check: Callable[[], bool], seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def undo(lxcpath: str) -> str | None:
    """Stop and destroy what is in lxcpath through the public API; the
    error it met, if any."""
    error = None
    for name in lxcpy.list_containers(lxcpath):
        with lxcpy.Container(name, lxcpath) as c:
            try:
                if c.state is lxcpy.State.FROZEN:
                    c.unfreeze()
                if c.running:
                    c.stop()
                if c.defined:
                    c.destroy(snapshots=True)
            except Exception as e:
                error = error or f"{type(e).__name__}: {e}"
                # Last resort (a container running without its config...):
                # kill its init, so that nothing outlives the test.
                pid = c.init_pid
                if pid is not None:
                    os.kill(pid, signal.SIGKILL)
                    settle(lambda c=c: not c.running, 10)  # type: ignore[misc]
    return error


class Interrupted(Exception):
    pass


def with_alarm(offset: float, call: Callable[[], Any], grace: float = 2.5) -> dict[str, Any]:
    """Run call with a Ctrl-C ``offset`` seconds in: a kernel timer
    (SIGALRM: it fires on time whoever holds the GIL) whose handler raises
    SIGINT, which Python's default handler (or lxcpy's, while lxcpy holds
    one back) turns into KeyboardInterrupt, as a Ctrl-C on the terminal.
    Returns outcome and latency (from when the timer fired to when the
    exception reached the caller)."""

    def on_alarm(signum: int, frame: Any) -> None:
        signal.raise_signal(signal.SIGINT)

    old = signal.signal(signal.SIGALRM, on_alarm)
    t0 = time.monotonic()
    fired = t0 + offset
    res: dict[str, Any] = {}
    try:
        try:
            signal.setitimer(signal.ITIMER_REAL, max(offset, 1e-4))
            call()
            res["outcome"] = "completed"
            res["took"] = time.monotonic() - t0
            # The alarm is still to come: take it here.
            time.sleep(max(0.0, fired - time.monotonic()) + grace)
            res["alarm_lost"] = True
        except KeyboardInterrupt:
            if "outcome" not in res:
                res["outcome"] = "KeyboardInterrupt"
                res["latency"] = time.monotonic() - fired
        except BaseException as e:
            res["outcome"] = type(e).__name__
            res["error"] = str(e)
            res["latency"] = time.monotonic() - fired
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    return res


def _capture(call: Callable[[], Any]) -> dict[str, Any]:
    t0 = time.monotonic()
    try:
        call()
        return {"outcome": "completed", "took": time.monotonic() - t0}
    except BaseException as e:
        return {"outcome": type(e).__name__, "error": str(e)[:500], "took": time.monotonic() - t0}


def scenario_sigint(
    spec: dict[str, Any], lxcpath: str, name: str, base: lxcpy.Container
) -> dict[str, Any]:
    op = spec["op"]
    c: lxcpy.Container | None = None
    if op == "create":
        new = c = lxcpy.Container(name, lxcpath)
        call: Callable[[], Any] = lambda: new.create("busybox", config=NO_NET)  # noqa: E731
    elif op == "ephemeral":

        def call() -> None:
            with lxcpy.ephemeral(base=base, lxcpath=lxcpath, name=name):
                time.sleep(30)

    else:
        c = base.clone(name, lxcpath=lxcpath, snapshot=True)
        if op != "start":
            c.start()
        call = {
            "start": lambda: c.start(),
            "run": lambda: c.run(["sleep", "5"]),
            "wait": lambda: c.wait("STOPPED"),
            "shutdown": lambda: c.shutdown(timeout=20),
        }[op]
    res = with_alarm(spec["offset"], call)
    # What the documentation says the call leaves.
    probe = lxcpy.Container(name, lxcpath)
    try:
        interrupted = res["outcome"] == "KeyboardInterrupt"
        if op == "create":
            want_defined = not interrupted
            ok = settle(lambda: probe.defined == want_defined)
            res["state_ok"] = ok and (
                want_defined or not os.path.lexists(os.path.join(lxcpath, name))
            )
            res["state"] = (
                f"defined={probe.defined} dir={os.path.lexists(os.path.join(lxcpath, name))}"
            )
        elif op == "start":
            want_running = not interrupted
            res["state_ok"] = settle(lambda: probe.running == want_running)
            res["state"] = probe.state.value
        elif op in ("run", "wait"):
            res["state_ok"] = probe.state is lxcpy.State.RUNNING
            res["state"] = probe.state.value
            if op == "run":
                settle(lambda: not any(p.startswith("sleep") for p in payload_procs(name)), 1.5)
                res["procs_left"] = [p for p in payload_procs(name) if p.startswith("sleep")]
                res["state_ok"] = res["state_ok"] and not res["procs_left"]
        elif op == "shutdown":
            res["state"] = probe.state.value
            res["state_ok"] = interrupted or probe.state is lxcpy.State.STOPPED
        elif op == "ephemeral":
            # An interrupted start leaves the stop and the destroy to
            # lxcpy's thread while liblxc's monitor is busy (12-20 s under
            # the VM's emulation); the exit waits for it, so do we.
            _undo.wait_all()
            res["state_ok"] = settle(lambda: not probe.defined)
            res["state"] = f"defined={probe.defined}"
    finally:
        probe.close()
    if c is not None:
        c.close()
    return res


def scenario_kill_helper(
    spec: dict[str, Any], lxcpath: str, name: str, base: lxcpy.Container
) -> dict[str, Any]:
    op = spec["op"]
    hpid = _testing.helper_pid()
    if op == "create":
        c = lxcpy.Container(name, lxcpath)
        call: Callable[[], Any] = lambda: c.create("busybox", config=NO_NET)  # noqa: E731
    else:
        c = base.clone(name, lxcpath=lxcpath, snapshot=True)
        if op == "run":
            c.start()
            call = lambda: c.run(["sleep", "2"])  # noqa: E731
        else:
            call = c.start

    def killer() -> None:
        time.sleep(spec["offset"])
        os.kill(hpid, signal.SIGKILL)

    t = threading.Thread(target=killer)
    t.start()
    res = _capture(call)
    t.join()
    failed = res["outcome"] != "completed"
    if op == "create":
        res["state_ok"] = settle(lambda: c.defined != failed)
        res["state"] = f"defined={c.defined}"
    elif op == "start":
        res["state_ok"] = settle(lambda: c.running != failed)
        res["state"] = c.state.value
    else:
        res["state_ok"] = c.running
        res["state"] = c.state.value
    # The next call gets a new helper and works.
    res["next"] = _capture(
        lambda: c.run(["true"], check=True) if c.running else _testing.helper_pid()
    )
    res["new_helper"] = _testing.current_helper_pid() not in (None, hpid)
    c.close()
    return res


def scenario_close_thread(
    spec: dict[str, Any], lxcpath: str, name: str, base: lxcpy.Container
) -> dict[str, Any]:
    op = spec["op"]
    if op == "create":
        c = lxcpy.Container(name, lxcpath)
        call: Callable[[], Any] = lambda: c.create("busybox", config=NO_NET)  # noqa: E731
    else:
        c = base.clone(name, lxcpath=lxcpath, snapshot=True)
        if op != "start":
            c.start()
        call = {
            "start": lambda: c.start(),
            "run": lambda: c.run(["sleep", "1"]),
            "wait": lambda: c.wait("STOPPED"),
            "shutdown": lambda: c.shutdown(timeout=20),
            "freeze": lambda: c.freeze(),
        }[op]
    closed_at: list[float] = []

    def closer() -> None:
        time.sleep(spec["offset"])
        closed_at.append(time.monotonic())
        c.close()

    t = threading.Thread(target=closer)
    t.start()
    res = _capture(call)
    t.join()
    res["after_close"] = time.monotonic() - closed_at[0] if closed_at else None
    return res


_CHILD_CALL = {"drop", "wait", "poll", "exit"}


def scenario_fork(
    spec: dict[str, Any], lxcpath: str, name: str, base: lxcpy.Container
) -> dict[str, Any]:
    what = spec["op"]
    c = base.clone(name, lxcpath=lxcpath, snapshot=True)
    c.start()
    procs = [c.popen(["sh", "-c", "sleep 1; exit 3"]) for _ in range(2)]
    # faulthandler's watchdog thread would not come along, and the child
    # would wait for it for ever when re-arming or at exit: stop it over
    # the fork, then arm one in each process.
    faulthandler.cancel_dump_traceback_later()
    pid = os.fork()
    if pid != 0:
        faulthandler.dump_traceback_later(spec.get("hang_after", 25), exit=True)
    if pid == 0:
        faulthandler.dump_traceback_later(10, exit=True)
        code = 0
        try:
            if what == "drop":
                procs.clear()
                gc.collect()
                time.sleep(0.3)
            elif what in ("wait", "poll"):
                for p in procs:
                    try:
                        if what == "wait":
                            p.wait(timeout=5)
                        else:
                            p.poll()
                    except (ChildProcessError, subprocess.TimeoutExpired):
                        pass
            elif what == "exit":
                # What exiting runs (finalizers, atexit: lxcpy's too), without
                # leaving this function into the driver's own clean-up.
                procs.clear()
                gc.collect()
                atexit._run_exitfuncs()
        except BaseException:
            traceback.print_exc()
            code = 1
        os._exit(code)
    res: dict[str, Any] = {}
    deadline = time.monotonic() + 12
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            res["child_status"] = os.waitstatus_to_exitcode(status)
            break
        if time.monotonic() > deadline:
            state = Path(f"/proc/{pid}/wchan").read_text()
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            res["child_status"] = f"hung (in {state}), killed"
            break
        time.sleep(0.05)
    codes = []
    for p in procs:
        r = _capture(lambda p=p: codes.append(p.wait(timeout=10)))  # type: ignore[misc]
        if r["outcome"] != "completed":
            codes.append(r["outcome"])
    res["codes"] = codes
    res["outcome"] = "completed"
    del procs
    c.close()
    return res


def scenario_sigint_handles(
    spec: dict[str, Any], lxcpath: str, name: str, base: lxcpy.Container
) -> dict[str, Any]:
    """Ctrl-C at many random points of opening handles (``Container()``)
    or of an overlay clone: whatever the point, the handle liblxc made is
    freed (its log memfd closed) and a copy the clone made is gone."""
    import random

    rng = random.Random(spec.get("seed", 0))
    counts = {"KeyboardInterrupt": 0, "completed": 0}
    rounds, span = (150, 0.004) if spec["op"] == "open" else (25, 0.06)
    if spec["op"] == "open":
        lxcpy.Container(name, lxcpath).close()  # an undefined name: nothing on disk
    else:
        # Offsets across the whole clone, however long it takes here (a
        # fixed span let all 25 clones finish first once: none interrupted).
        t0 = time.monotonic()
        with base.clone(name, lxcpath=lxcpath, snapshot=True) as first:
            took = time.monotonic() - t0
            first.destroy()
        span = 1.2 * took
    copies_left = completed_on_return = 0
    for _ in range(rounds):
        made: list[lxcpy.Container] = []

        def call(made: list[lxcpy.Container] = made) -> None:
            while True:
                if spec["op"] == "open":
                    lxcpy.Container(name, lxcpath).close()
                else:
                    made.append(base.clone(name, lxcpath=lxcpath, snapshot=True))
                    return

        r = with_alarm(rng.uniform(0.0, span), call, grace=0.1)
        counts[r["outcome"]] = counts.get(r["outcome"], 0) + 1
        if r["outcome"] not in ("KeyboardInterrupt", "completed"):
            return {"outcome": r["outcome"], "error": r.get("error"), "counts": counts}
        if made:  # the clone returned: the copy is the caller's, to destroy
            made[0].destroy()
            made[0].close()
        elif spec["op"] == "clone" and os.path.lexists(os.path.join(lxcpath, name)):
            # A Ctrl-C on clone()'s way back, after the copy was complete
            # (in the method guard's epilogue), loses the return value, as
            # it would one statement later: the copy is whole, not
            # half-made. A half-made one is the defect.
            with lxcpy.Container(name, lxcpath) as left:
                if left.defined:
                    completed_on_return += 1
                else:
                    copies_left += 1
            undo(lxcpath)
    probe = lxcpy.Container(name, lxcpath)
    try:
        return {
            "outcome": "KeyboardInterrupt",
            "counts": counts,
            "state_ok": not probe.defined and not copies_left,
            "state": f"defined={probe.defined}, half-made copies left: {copies_left}, "
            f"whole ones (Ctrl-C on the way back): {completed_on_return}",
        }
    finally:
        probe.close()


def scenario_sigint_sweep(
    spec: dict[str, Any], lxcpath: str, name: str, base: lxcpy.Container
) -> dict[str, Any]:
    """Ctrl-C at many random points of the first milliseconds of a create()
    or start(), where it may fall between a system call that makes an fd
    or a directory and the statement that records it. After each: nothing
    of the call left (directory, running container); after all: the usual
    leftovers (fds...)."""
    import random

    rng = random.Random(spec.get("seed", 0))
    counts: dict[str, int] = {}
    bad: list[str] = []
    home = os.path.join(lxcpath, name)
    c = (
        lxcpy.Container(name, lxcpath)
        if spec["op"] == "create"
        else base.clone(name, lxcpath=lxcpath, snapshot=True)
    )
    try:
        for _ in range(spec.get("rounds", 60)):
            offset = rng.uniform(0.0, spec.get("span", 0.003))
            if spec["op"] == "create":
                r = with_alarm(offset, lambda: c.create("busybox", config=NO_NET), grace=0.1)
            else:
                r = with_alarm(offset, c.start, grace=0.1)
            counts[r["outcome"]] = counts.get(r["outcome"], 0) + 1
            if r["outcome"] not in ("KeyboardInterrupt", "completed"):
                bad.append(f"{r['outcome']}: {r.get('error')}")
                break
            _undo.wait_all()
            if r["outcome"] == "completed":
                if spec["op"] == "create":
                    c.destroy()
                else:
                    c.stop()
            elif spec["op"] == "create" and os.path.lexists(home):
                bad.append(f"an interrupted create left {home}")
                undo(lxcpath)
            elif spec["op"] == "start" and not settle(lambda: not c.running):
                bad.append("an interrupted start left the container running")
                c.stop()
    finally:
        c.close()
    return {
        "outcome": "KeyboardInterrupt",
        "counts": counts,
        "state_ok": not bad,
        "state": "; ".join(bad[:5]) or "nothing of any call left",
    }


def interrupt_at(
    k: int,
    anchor: Callable[..., Any],
    call: Callable[[], Any],
    until: tuple[Callable[..., Any], ...] = (),
) -> dict[str, Any]:
    """Run ``call`` with a Ctrl-C at the k-th point, after ``anchor`` (a
    function) first returned, where CPython may run a signal handler: a
    Python function's entry or a C function's return. A profile function
    delivers it there as CPython would: to the SIGINT handler in place
    (raising KeyboardInterrupt in the profiled code for Python's default
    one), or at a later point while SIGINT is blocked. Counting stops when
    the frame ``call`` entered first returns, or (after the anchor) when
    one of the ``until`` functions is called. ``injected``: whether the
    k-th point was reached; ``where``: what ran there."""
    anchor_code = anchor.__code__
    until_codes = {f.__code__ for f in until}
    state: dict[str, Any] = {"after": False, "seen": 0, "outer": None}

    def profile(frame: Any, event: str, arg: Any) -> None:
        if state["outer"] is None and event == "call":
            state["outer"] = frame
        if event == "return" and frame is state["outer"]:
            sys.setprofile(None)
            return
        if state["after"] and event == "call" and frame.f_code in until_codes:
            sys.setprofile(None)
            return
        if not state["after"]:
            if event == "return" and frame.f_code is anchor_code:
                state["after"] = True
            return
        if event not in ("call", "c_return"):
            return
        if state["seen"] < k:
            state["seen"] += 1
            return
        # The k-th point, or a later one if SIGINT is blocked here (it
        # would be delivered once unblocked): deliver it as the kernel
        # would, to the handler in place (lxcpy's own while it holds a
        # Ctrl-C back, which only notes it).
        if signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, ()):
            return
        sys.setprofile(None)
        state["where"] = f"{event} {arg.__name__ if event == 'c_return' else frame.f_code.co_name}"
        state["where"] += f" in {frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.f_lineno}"
        handler = signal.getsignal(signal.SIGINT)
        if handler is signal.default_int_handler or not callable(handler):
            raise KeyboardInterrupt
        handler(signal.SIGINT, frame)
        state["delivered"] = True

    res: dict[str, Any] = {"k": k}
    sys.setprofile(profile)
    try:
        call()
        res["outcome"] = "completed"
    except KeyboardInterrupt:
        res["outcome"] = "KeyboardInterrupt"
    except BaseException as e:
        res["outcome"] = type(e).__name__
        res["error"] = str(e)[:500]
    finally:
        sys.setprofile(None)
    res["injected"] = "where" in state
    res["where"] = state.get("where")
    return res


def scenario_sigint_each_step(
    spec: dict[str, Any], lxcpath: str, name: str, base: lxcpy.Container
) -> dict[str, Any]:
    """A Ctrl-C at each point where one can take effect (every function
    entry and C call return) from the moment liblxc's start or create is
    done (``"from": "done"``), or the request for it was sent (``"from":
    "sent"``: to the helper, or forked in-process), to the moment start(),
    create() or ephemeral().__enter__ returns: each either completes (the
    container RUNNING, or defined) or raises KeyboardInterrupt and leaves
    nothing of the call (stopped; no directory; for ephemeral, no
    container). A request left running by an interrupted call shows at
    the next try, which finds the container made or running."""
    from lxcpy import _helper, _worker

    op = spec["op"]
    home = os.path.join(lxcpath, name)
    bad: list[str] = []
    counts: dict[str, int] = {}
    c = lxcpy.Container(name, lxcpath) if op == "create" else None
    if op == "start":
        c = base.clone(name, lxcpath=lxcpath, snapshot=True)
    anchor: Callable[..., Any] = _worker.create if op == "create" else _worker.start
    until: tuple[Callable[..., Any], ...] = ()
    if spec.get("from") == "sent":
        # Up to the wait's first look at the request: the points after
        # it are one held-back Ctrl-C each (lxcpy._worker.wait), and
        # their number grows with the wait (hundreds under the VM's
        # emulation, past the driver's time limit).
        anchor = _worker._HelperRequest.send if _helper.enabled() else _worker._Child.__init__
        until = (_worker._HelperRequest.poll, _worker._Child.poll)
    points = 0
    try:
        for k in range(spec.get("max_points", 400)):
            if op == "create":
                assert c is not None
                # No template: the steps after liblxc's create are the same, and
                # each of the ~60 tries takes milliseconds (seconds in the VM).
                call: Callable[[], Any] = lambda: c.create(config=NO_NET)  # noqa: E731
            elif op == "start":
                assert c is not None
                call = c.start
            else:
                eph = lxcpy.ephemeral(base=base, lxcpath=lxcpath, name=name)
                call = eph.__enter__
            r = interrupt_at(k, anchor, call, until)
            counts[r["outcome"]] = counts.get(r["outcome"], 0) + 1
            if r["outcome"] not in ("KeyboardInterrupt", "completed"):
                bad.append(f"point {k}: {r['outcome']}: {r.get('error')}")
                break
            _undo.wait_all()
            if r["outcome"] == "completed":
                if op == "create":
                    assert c is not None
                    if not c.defined:
                        bad.append(f"point {k}: create() returned, the container not defined")
                    c.destroy()
                elif op == "start":
                    assert c is not None
                    if not c.running:
                        bad.append(f"point {k}: start() returned, the container not running")
                    c.stop()
                else:
                    eph.__exit__(None, None, None)
            elif op == "create" and os.path.lexists(home):
                bad.append(f"point {k}: an interrupted create left {home}")
                undo(lxcpath)
            elif op == "start" and not settle(lambda: not c.running):  # type: ignore[union-attr]
                bad.append(f"point {k}: an interrupted start left the container running")
                c.stop()  # type: ignore[union-attr]
            elif op == "ephemeral" and os.path.lexists(home):
                bad.append(f"point {k}: an interrupted ephemeral() left {home}")
                undo(lxcpath)
            if not r["injected"]:
                points = k
                break
        else:
            bad.append("more points than max_points: the scan did not reach the end")
    finally:
        if c is not None:
            c.close()
    return {
        "outcome": "KeyboardInterrupt",
        "counts": counts,
        "points": points,
        "state_ok": not bad and points > 0,
        "state": "; ".join(bad[:5]) or f"nothing of any call left, {points} points",
    }


SCENARIOS = {
    "sigint": scenario_sigint,
    "sigint_sweep": scenario_sigint_sweep,
    "sigint_each_step": scenario_sigint_each_step,
    "sigint_handles": scenario_sigint_handles,
    "kill_helper": scenario_kill_helper,
    "close_thread": scenario_close_thread,
    "fork": scenario_fork,
}


def race_one(spec: dict[str, Any]) -> dict[str, Any]:
    """One of two processes doing the same thing to one name at once."""
    c = lxcpy.Container(spec["name"], spec["lxcpath"])
    call = {
        "create": lambda: c.create("busybox", config=NO_NET),
        "start": lambda: c.start(),
        "destroy": lambda: c.destroy(),
    }[spec["op"]]
    while time.time() < spec["go"]:
        time.sleep(0.001)
    res = _capture(call)
    c.close()
    return res


def main() -> None:
    spec = json.loads(sys.argv[1])
    # A hang: every thread's stack on stderr, and out, before the test's timeout.
    faulthandler.dump_traceback_later(spec.get("hang_after", 25), exit=True)
    if spec["scenario"] == "race_one":
        print("RESULT " + json.dumps(race_one(spec)), flush=True)
        return
    lxcpath = spec["lxcpath"]
    name = spec["name"]
    base = lxcpy.Container(spec["base_name"], spec["base_path"])
    if HELPER:
        _testing.helper_pid()  # spawned before the baseline
    before = Leftovers.take(lxcpath, [name])
    res: dict[str, Any]
    try:
        res = SCENARIOS[spec["scenario"]](spec, lxcpath, name, base)
    except BaseException as e:
        res = {
            "outcome": "driver-error",
            "error": f"{type(e).__name__}: {e}",
            "traceback": traceback.format_exc(),
        }
    # An interrupted start() may leave its stop to lxcpy's thread (while
    # liblxc's monitor is busy starting); the exit waits for it, so do we.
    _undo.wait_all()
    res["undo_error"] = undo(lxcpath)
    gc.collect()
    res["leftovers"] = leftovers_after(before, lxcpath, [name], settle=3.0)
    base.close()
    _reap_lxcpath(lxcpath)
    print("RESULT " + json.dumps(res), flush=True)


if __name__ == "__main__":
    main()

"""A hypothesis state machine over three containers and a model of each.

Rules: create (an overlay clone of a busybox base), start, stop, freeze,
unfreeze, run (one that succeeds, one that fails), snapshot, clone, rename,
destroy, close and reopen the handle, and two operations at once from two
threads on one container. After each step: only the documented exception
was raised (NotDefinedError, AlreadyRunningError, NotRunningError,
ValueError after close...), and the model agrees with ``lxc-info -s``, run
as a separate program (the independent check).

Bounded for CI (the ``ci`` profile: derandomized, a few examples of a few
steps); ``LXCPY_HYPOTHESIS_PROFILE=long`` runs many more. Each example has
its own lxcpath, emptied in teardown whatever happened.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from helpers import NO_NET, _reap_lxcpath, have_command, make_lxcpath

import lxcpy

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.stateful import (  # noqa: E402
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

settings.register_profile(
    "ci",
    max_examples=40,
    stateful_step_count=30,
    deadline=None,
    derandomize=True,
    report_multiple_bugs=False,
    suppress_health_check=list(hypothesis.HealthCheck),
)
settings.register_profile(
    "long",
    max_examples=100,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
PROFILE = os.environ.get("LXCPY_HYPOTHESIS_PROFILE", "ci")

pytestmark = pytest.mark.skipif(not have_command("lxc-info"), reason="needs lxc-info")

SLOTS = 3
slot = st.integers(0, SLOTS - 1)


def _fresh_name() -> str:
    return f"sm{os.urandom(4).hex()}"


@dataclasses.dataclass
class Model:
    name: str
    defined: bool = False
    state: str = "STOPPED"  # STOPPED, RUNNING, FROZEN
    snapshots: int = 0
    handle: lxcpy.Container | None = None
    closed: bool = False  # the model's idea of the handle
    overlay: bool = False  # an overlay snapshot clone (liblxc renames none)

    @property
    def running(self) -> bool:
        return self.state != "STOPPED"


def lxc_info_state(lxcpath: str, name: str) -> str | None:
    """The state ``lxc-info`` reports, None for a container it does not know."""
    r = subprocess.run(
        ["lxc-info", "-P", lxcpath, "-n", name, "-s", "-H"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if r.returncode != 0:
        return None
    return r.stdout.strip()


def outcome(call: Callable[[], Any]) -> BaseException | None:
    try:
        call()
    except Exception as e:
        return e
    return None


def expect(call: Callable[[], Any], error: type[BaseException] | None) -> BaseException | None:
    """Run call; it must raise ``error`` (or nothing if None)."""
    e = outcome(call)
    if error is None:
        assert e is None, f"unexpected {type(e).__name__}: {e}"
    else:
        assert isinstance(e, error), f"expected {error.__name__}, got {e!r}"
    return e


_BASE: lxcpy.Container | None = None


class LifecycleMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        assert _BASE is not None
        self.base = _BASE
        self.lxcpath = make_lxcpath("lxcpy-sm-")
        self.slots = [Model(_fresh_name()) for _ in range(SLOTS)]
        for m in self.slots:
            m.handle = lxcpy.Container(m.name, self.lxcpath)

    def teardown(self) -> None:
        for m in self.slots:
            if m.handle is not None:
                m.handle.close()
        _reap_lxcpath(self.lxcpath)
        shutil.rmtree(self.lxcpath, ignore_errors=True)

    # -- helpers --------------------------------------------------------------

    def _handle_error(self, m: Model, need: str) -> type[BaseException] | None:
        """The error an operation needing ``need`` (defined, running,
        stopped, active) raises now, from the model."""
        if m.closed:
            return ValueError
        if not m.defined:
            return lxcpy.NotDefinedError
        if need == "running" and not m.running:
            return lxcpy.NotRunningError
        if need == "stopped" and m.running:
            return lxcpy.AlreadyRunningError
        return None

    # -- rules ------------------------------------------------------------------

    @rule(i=slot, overlay=st.booleans())
    def create(self, i: int, overlay: bool) -> None:
        m = self.slots[i]
        err = lxcpy.AlreadyDefinedError if m.defined else None

        def call() -> None:
            c = self.base.clone(m.name, lxcpath=self.lxcpath, snapshot=overlay)
            if m.handle is not None:
                m.handle.close()
            m.handle, m.closed = c, False

        if expect(call, err) is None:
            m.defined, m.state, m.snapshots, m.overlay = True, "STOPPED", 0, overlay

    @rule(i=slot)
    def start(self, i: int) -> None:
        m = self.slots[i]
        if expect(lambda: m.handle.start(), self._handle_error(m, "stopped")) is None:  # type: ignore[union-attr]
            m.state = "RUNNING"

    @precondition(lambda self: True)
    @rule(i=slot)
    def stop(self, i: int) -> None:
        m = self.slots[i]
        if m.state == "FROZEN":
            return  # a frozen container is thawed first (see unfreeze)
        if expect(lambda: m.handle.stop(), self._handle_error(m, "running")) is None:  # type: ignore[union-attr]
            m.state = "STOPPED"

    @rule(i=slot)
    def freeze(self, i: int) -> None:
        m = self.slots[i]
        if expect(lambda: m.handle.freeze(), self._handle_error(m, "running")) is None:  # type: ignore[union-attr]
            m.state = "FROZEN"

    @rule(i=slot)
    def unfreeze(self, i: int) -> None:
        m = self.slots[i]
        if expect(lambda: m.handle.unfreeze(), self._handle_error(m, "running")) is None:  # type: ignore[union-attr]
            m.state = "RUNNING"

    @rule(i=slot, fails=st.booleans())
    def run(self, i: int, fails: bool) -> None:
        m = self.slots[i]
        if m.state == "FROZEN":
            return  # it would wait for the thaw
        err = self._handle_error(m, "running")
        if err is lxcpy.NotDefinedError:
            err = (
                lxcpy.NotRunningError
            )  # run() says "not running" for both (lxcpy._attach_ready.check)
        if fails:
            e = expect(
                lambda: m.handle.run(["sh", "-c", "exit 3"], check=True),  # type: ignore[union-attr]
                err or subprocess.CalledProcessError,
            )
            if err is None:
                assert isinstance(e, subprocess.CalledProcessError) and e.returncode == 3
        else:
            results: list[int] = []
            expect(lambda: results.append(m.handle.run(["true"]).returncode), err)  # type: ignore[union-attr]
            assert results in ([], [0])

    @rule(i=slot)
    def snapshot(self, i: int) -> None:
        m = self.slots[i]
        if expect(lambda: m.handle.snapshot(), self._handle_error(m, "stopped")) is None:  # type: ignore[union-attr]
            m.snapshots += 1
            assert len(m.handle.snapshots()) == m.snapshots  # type: ignore[union-attr]

    @rule(i=slot, j=slot)
    def clone(self, i: int, j: int) -> None:
        src, dst = self.slots[i], self.slots[j]
        if i == j:
            return
        err = self._handle_error(src, "defined")
        if err is None and dst.defined:
            err = lxcpy.AlreadyDefinedError
        elif err is None and src.running:
            err = lxcpy.CloneError  # liblxc clones only stopped containers
        made: list[lxcpy.Container] = []
        expect(lambda: made.append(src.handle.clone(dst.name, snapshot=True)), err)  # type: ignore[union-attr]
        if made:
            if dst.handle is not None:
                dst.handle.close()
            dst.handle, dst.closed = made[0], False
            dst.defined, dst.state, dst.snapshots, dst.overlay = True, "STOPPED", 0, True

    @rule(i=slot)
    def rename(self, i: int) -> None:
        m = self.slots[i]
        new = _fresh_name()
        err = self._handle_error(m, "stopped")
        if err is None and self._has_clones(m):
            return  # clones on its storage would lose it: not modelled
        if err is None and (m.snapshots or m.overlay):
            # liblxc renames no container that has snapshots, nor an overlay
            # clone ("can only be used for snapshots")
            err = lxcpy.RenameError
        if expect(lambda: m.handle.rename(new), err) is None:  # type: ignore[union-attr]
            m.name = new
            assert m.handle is not None and m.handle.name == new

    @rule(i=slot)
    def destroy(self, i: int) -> None:
        m = self.slots[i]
        err = self._handle_error(m, "stopped")
        if err is None and self._has_clones(m):
            return  # a container with clones on its storage: not modelled
        if expect(lambda: m.handle.destroy(snapshots=True), err) is None:  # type: ignore[union-attr]
            m.defined, m.state, m.snapshots = False, "STOPPED", 0

    def _has_clones(self, m: Model) -> bool:
        return any(o.defined and o is not m and self._is_clone_of(o, m) for o in self.slots)

    def _is_clone_of(self, other: Model, m: Model) -> bool:
        with lxcpy.Container(other.name, self.lxcpath) as c:
            rootfs = c.config.get("lxc.rootfs.path", "")
        return f"/{m.name}/" in rootfs

    @rule(i=slot)
    def close(self, i: int) -> None:
        m = self.slots[i]
        assert m.handle is not None
        m.handle.close()
        m.handle.close()  # idempotent
        m.closed = True
        expect(lambda: m.handle.state, ValueError)  # type: ignore[union-attr]

    @rule(i=slot)
    def reopen(self, i: int) -> None:
        m = self.slots[i]
        if m.handle is not None:
            m.handle.close()
        m.handle, m.closed = lxcpy.Container(m.name, self.lxcpath), False
        assert m.handle.defined == m.defined

    @rule(
        i=slot,
        ops=st.sampled_from(
            [
                ("start", "start"),
                ("stop", "stop"),
                ("run", "run"),
                ("start", "stop"),
                ("run", "stop"),
            ]
        ),
    )
    def two_threads(self, i: int, ops: tuple[str, str]) -> None:
        """Two operations at once on one handle, from two threads: each
        succeeds or raises what it documents, and the end state is one
        that some order of the two gives."""
        m = self.slots[i]
        if m.closed or not m.defined or m.state == "FROZEN":
            return
        c = m.handle
        assert c is not None
        allowed: dict[str, tuple[type[BaseException], ...]] = {
            "start": (lxcpy.AlreadyRunningError, lxcpy.StartError),
            "stop": (lxcpy.NotRunningError, lxcpy.StopError),
            "run": (lxcpy.NotRunningError, lxcpy.AttachError),
        }
        calls: dict[str, Callable[[], Any]] = {
            "start": c.start,
            "stop": c.stop,
            "run": lambda: c.run(["true"]),
        }
        results: list[BaseException | None] = [None, None]
        barrier = threading.Barrier(2)

        def work(k: int) -> None:
            barrier.wait()
            results[k] = outcome(calls[ops[k]])

        threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not any(t.is_alive() for t in threads), f"{ops} hung"
        for op, e in zip(ops, results, strict=True):
            assert e is None or isinstance(e, allowed[op]), f"{op} raised {e!r}"
        # Possible end states: what any order of the two leaves.
        starts = "start" in ops
        stops = "stop" in ops
        if starts and stops:
            ends = {"RUNNING", "STOPPED"}
        elif starts:
            ends = {"RUNNING"}
        elif stops:
            ends = {"STOPPED"}
        else:
            ends = {m.state}
        now = c.state.value
        assert now in ends, f"{ops} from {m.state}: now {now}, expected one of {ends}"
        if ops == ("start", "start") and not m.running:
            assert sum(e is None for e in results) >= 1, f"neither start worked: {results}"
        if ops == ("stop", "stop") and m.running:
            assert sum(e is None for e in results) >= 1, f"neither stop worked: {results}"
        m.state = now

    # -- the independent check ---------------------------------------------------

    @invariant()
    def agrees_with_lxc_info(self) -> None:
        for m in self.slots:
            seen = lxc_info_state(self.lxcpath, m.name)
            if not m.defined:
                assert seen is None, f"{m.name}: lxc-info says {seen}, the model: not defined"
            else:
                assert seen == m.state, f"{m.name}: lxc-info says {seen}, the model: {m.state}"
            assert m.handle is not None and m.handle.closed == m.closed
            if not m.closed:
                assert m.handle.defined == m.defined
                assert m.handle.state.value == m.state


@pytest.fixture(scope="module")
def sm_base() -> Iterator[lxcpy.Container]:
    path = make_lxcpath("lxcpy-sm-base-")
    c = lxcpy.Container("smbase", path)
    try:
        c.create("busybox", config=NO_NET)
        yield c
    finally:
        c.close()
        _reap_lxcpath(path)


def test_lifecycle_state_machine(sm_base: lxcpy.Container) -> None:
    global _BASE
    _BASE = sm_base
    try:
        run_state_machine_as_test(LifecycleMachine, settings=settings.get_profile(PROFILE))
    finally:
        _BASE = None

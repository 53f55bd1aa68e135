"""Fixtures: real containers in temporary lxcpaths, always cleaned up.

A session-scoped busybox ``base`` is created once; each test that wants a
container gets an overlay snapshot clone of it (~30 ms) in its own
temporary lxcpath, stopped and destroyed after the test whatever happened.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest
from helpers import (  # noqa: F401 - re-exported for the tests
    NO_NET,
    _reap_lxcpath,
    cgroup_v2_only,
    have_command,
    make_lxcpath,
    open_fds,
    run_example,
    zombies,
)

import lxcpy


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C is what a good part of the suite is about: a run started in
    the background by a shell without job control (`cmd &` in a script,
    as CI may be) inherits SIGINT ignored, and Python then installs no
    handler for it, so no KeyboardInterrupt would ever come. Restore
    Python's own; programs this process starts get SIGINT's default."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def session_lxcpath() -> Iterator[str]:
    path = make_lxcpath("lxcpy-session-")
    try:
        yield path
    finally:
        _reap_lxcpath(path)


@pytest.fixture(scope="session")
def base(session_lxcpath: str) -> Iterator[lxcpy.Container]:
    """A stopped busybox container, created once per session."""
    c = lxcpy.Container("base", session_lxcpath)
    c.create("busybox", config=NO_NET)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def lxcpath() -> Iterator[str]:
    """A fresh lxcpath for one test, emptied and removed afterwards."""
    path = make_lxcpath()
    try:
        yield path
    finally:
        _reap_lxcpath(path)


@pytest.fixture
def container(base: lxcpy.Container, lxcpath: str) -> Iterator[lxcpy.Container]:
    """A stopped overlay clone of the busybox base, in this test's lxcpath."""
    c = base.clone("ct", lxcpath=lxcpath, snapshot=True)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def running(container: lxcpy.Container) -> lxcpy.Container:
    """The clone, started."""
    container.start()
    return container


@pytest.fixture
def helper_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the test with lxcpy's helper process switched on."""
    monkeypatch.setenv("LXCPY_HELPER", "1")

"""Lifecycle context managers: started() and ephemeral(), including cleanup
on exceptions and on KeyboardInterrupt."""

from __future__ import annotations

import os
import signal

import pytest
from helpers import NO_NET

import lxcpy


def test_started_restores_stopped(container: lxcpy.Container) -> None:
    with container.started() as c:
        assert c is container
        assert c.state is lxcpy.State.RUNNING
    assert container.state is lxcpy.State.STOPPED


def test_started_leaves_running_running(running: lxcpy.Container) -> None:
    pid = running.init_pid
    with running.started():
        assert running.init_pid == pid
    assert running.running and running.init_pid == pid


def test_started_restores_frozen(running: lxcpy.Container) -> None:
    running.freeze()
    with running.started():
        assert running.state is lxcpy.State.RUNNING
    assert running.state is lxcpy.State.FROZEN
    running.unfreeze()


def test_started_restores_on_exception(container: lxcpy.Container) -> None:
    with pytest.raises(RuntimeError, match="boom"), container.started():
        raise RuntimeError("boom")
    assert container.state is lxcpy.State.STOPPED


def test_started_restores_on_keyboard_interrupt(container: lxcpy.Container) -> None:
    with pytest.raises(KeyboardInterrupt), container.started():
        os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, delivered here
        pytest.fail("KeyboardInterrupt was not raised")
    assert container.state is lxcpy.State.STOPPED


def test_started_on_undefined(lxcpath: str) -> None:
    with lxcpy.Container("nope", lxcpath) as c:
        with pytest.raises(lxcpy.NotDefinedError), c.started():
            pass
        assert os.listdir(lxcpath) == []


def test_ephemeral_cleans_up_on_exception(base: lxcpy.Container, lxcpath: str) -> None:
    with pytest.raises(ValueError, match="inside"), lxcpy.ephemeral(base=base, lxcpath=lxcpath):
        assert lxcpy.list_containers(lxcpath)
        raise ValueError("inside")
    assert lxcpy.list_containers(lxcpath) == []
    assert os.listdir(lxcpath) == []


def test_ephemeral_cleans_up_on_keyboard_interrupt(base: lxcpy.Container, lxcpath: str) -> None:
    with pytest.raises(KeyboardInterrupt), lxcpy.ephemeral(base=base, lxcpath=lxcpath) as c:
        assert c.running
        raise KeyboardInterrupt
    assert lxcpy.list_containers(lxcpath) == []


def test_ephemeral_cleans_up_when_start_fails(lxcpath: str) -> None:
    bad = {"lxc.net.0.type": "veth", "lxc.net.0.link": "lxcpynobr1"}
    with (
        pytest.raises(lxcpy.StartError, match="lxcpynobr1"),
        lxcpy.ephemeral("busybox", config=bad, lxcpath=lxcpath),
    ):
        pytest.fail("the block must not run")
    assert lxcpy.list_containers(lxcpath) == []


def test_ephemeral_names_and_input(base: lxcpy.Container, lxcpath: str) -> None:
    with lxcpy.ephemeral(base=base, lxcpath=lxcpath, name="eph") as c:
        assert c.name == "eph"
    with pytest.raises(TypeError):
        lxcpy.ephemeral()
    with pytest.raises(TypeError):
        lxcpy.ephemeral("busybox", base=base)
    with pytest.raises(ValueError):
        lxcpy.ephemeral("busybox", name="../x", config=NO_NET)
    assert os.listdir(lxcpath) == []

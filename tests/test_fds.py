"""init_pidfd(), devpts_fd(), seccomp_notify_fd(), may_control() and
config.running()."""

from __future__ import annotations

import os
import select
import signal

import pytest

import lxcpy


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_init_pidfd(running: lxcpy.Container) -> None:
    before = _fds()
    fd = running.init_pidfd()
    try:
        with open(f"/proc/self/fdinfo/{fd}") as f:
            info = f.read()
        assert f"Pid:\t{running.init_pid}" in info
        # A pidfd turns readable when the process exits.
        assert select.select([fd], [], [], 0)[0] == []
        if hasattr(signal, "pidfd_send_signal"):
            signal.pidfd_send_signal(fd, 0)
        running.stop()
        assert select.select([fd], [], [], 5)[0] == [fd]
    finally:
        os.close(fd)
    assert _fds() == before


def test_devpts_fd(running: lxcpy.Container) -> None:
    if not lxcpy.has_api_extension("devpts_fd"):
        pytest.skip("this liblxc lacks the devpts_fd API extension")
    fd = running.devpts_fd()
    try:
        # the container's /dev/pts mount: it has a ptmx
        assert os.path.exists(f"/proc/self/fd/{fd}/ptmx")
    finally:
        os.close(fd)


def test_seccomp_notify_fd_without_policy(running: lxcpy.Container) -> None:
    """No seccomp 'notify' rules configured: a clear error, not a bad fd."""
    with pytest.raises(lxcpy.LxcError) as e:
        running.seccomp_notify_fd()
    assert "seccomp" in str(e.value)
    if not lxcpy.has_api_extension("seccomp_notify_fd_active"):
        assert isinstance(e.value, NotImplementedError)


def test_may_control(container: lxcpy.Container, lxcpath: str) -> None:
    assert container.may_control() is True
    with lxcpy.Container("ghost", lxcpath) as c:
        assert c.may_control() is True  # root may control any container
    assert "ghost" not in os.listdir(lxcpath)


def test_fds_not_running(container: lxcpy.Container) -> None:
    for call in (container.init_pidfd, container.devpts_fd, container.seccomp_notify_fd):
        with pytest.raises(lxcpy.NotRunningError):
            call()


def test_fds_not_defined(lxcpath: str) -> None:
    with lxcpy.Container("ghost", lxcpath) as c:
        for call in (c.init_pidfd, c.devpts_fd, c.seccomp_notify_fd):
            with pytest.raises(lxcpy.NotDefinedError):
                call()
    assert os.listdir(lxcpath) == []


def test_fds_no_leak(running: lxcpy.Container) -> None:
    before = _fds()
    for _ in range(10):
        os.close(running.init_pidfd())
        if lxcpy.has_api_extension("devpts_fd"):
            os.close(running.devpts_fd())
        with pytest.raises(lxcpy.LxcError):
            running.seccomp_notify_fd()
    assert _fds() == before


def test_config_running(running: lxcpy.Container) -> None:
    assert running.config.running("lxc.uts.name") == running.config["lxc.uts.name"]
    assert running.config.running("lxc.net.0.type") == "empty"
    with pytest.raises(KeyError):
        running.config.running("lxc.console.logfile")
    with pytest.raises(lxcpy.ConfigError):
        running.config.running("lxc.no.such.key")
    with pytest.raises(ValueError):
        running.config.running("lxc.uts.name\n")
    with pytest.raises(TypeError):
        running.config.running(1)  # type: ignore[arg-type]


def test_config_running_not_running(container: lxcpy.Container) -> None:
    with pytest.raises(lxcpy.NotRunningError):
        container.config.running("lxc.uts.name")

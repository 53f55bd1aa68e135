"""start() leaves the caller in its own cgroups, and no lxc.monitor.*
cgroup directory is left once the container stops (liblxc 5.0.2's API
start moves the calling process into lxc.monitor.<name>)."""

from __future__ import annotations

import glob
import time

import pytest

import lxcpy


def _own_cgroups() -> str:
    with open("/proc/self/cgroup") as f:
        return f.read()


def _monitor_dirs(name: str) -> list[str]:
    pattern = f"lxc.monitor.{name}*"
    return sorted(
        glob.glob(f"/sys/fs/cgroup/*/{pattern}")
        + glob.glob(f"/sys/fs/cgroup/{pattern}")
        + glob.glob(f"/sys/fs/cgroup/*/*/{pattern}")
    )


def _monitor_dirs_gone(name: str, seconds: float = 5) -> bool:
    """Whether liblxc's monitor cgroup dirs of name are gone (liblxc's
    monitor removes them on its way out, a moment after stop returns)."""
    deadline = time.monotonic() + seconds
    while _monitor_dirs(name) and time.monotonic() < deadline:
        time.sleep(0.05)
    return _monitor_dirs(name) == []


def test_start_leaves_caller_cgroups_and_no_monitor_dirs(
    base: lxcpy.Container, lxcpath: str
) -> None:
    name = "moncg"
    c = base.clone(name, lxcpath=lxcpath, snapshot=True)
    try:
        before = _own_cgroups()
        for _ in range(5):
            c.start()
            assert _own_cgroups() == before
            assert _monitor_dirs(name), "liblxc creates the monitor cgroup while running"
            c.stop()
            assert _own_cgroups() == before
        assert _monitor_dirs_gone(name)
    finally:
        c.close()


def test_failed_start_leaves_no_monitor_dirs(base: lxcpy.Container, lxcpath: str) -> None:
    """After a failed start, liblxc's monitor may try to remove its cgroup
    while the process that called start() is still inside; lxcpy's starter
    steps out and removes it."""
    name = "monfail"
    c = base.clone(name, lxcpath=lxcpath, snapshot=True)
    try:
        c.config["lxc.net.0.type"] = "veth"
        c.config["lxc.net.0.link"] = "lxcpynobr2"
        c.config.save()
        before = _own_cgroups()
        for _ in range(3):
            with pytest.raises(lxcpy.StartError):
                c.start()
            assert _own_cgroups() == before
        assert _monitor_dirs_gone(name)
    finally:
        c.close()

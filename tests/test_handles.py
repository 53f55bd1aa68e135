"""Handle lifetime: close, with, garbage collection, use after close, and
resource counts over thousands of handle cycles."""

from __future__ import annotations

import gc
import os
import weakref

import pytest
from helpers import open_fds

import lxcpy


def test_close_is_idempotent_and_leaves_container(container: lxcpy.Container) -> None:
    name, path = container.name, container.lxcpath
    container.close()
    container.close()
    assert container.closed
    with lxcpy.Container(name, path) as again:
        assert again.defined


def test_use_after_close_raises_value_error(container: lxcpy.Container) -> None:
    container.close()
    calls = [
        lambda: container.defined,
        lambda: container.running,
        lambda: container.state,
        lambda: container.init_pid,
        lambda: container.config_file,
        lambda: container.config,
        container.start,
        container.stop,
        container.shutdown,
        container.reboot,
        container.freeze,
        container.unfreeze,
        lambda: container.wait(lxcpy.State.RUNNING, 0),
        container.destroy,
        lambda: container.rename("x"),
        lambda: container.clone("x"),
        lambda: container.create("busybox"),
        lambda: container.started().__enter__(),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="closed"):
            call()
    assert "closed" in repr(container)
    # The name and path stay readable, like a closed file's name.
    assert container.name == "ct"


def test_config_after_close(container: lxcpy.Container) -> None:
    cfg = container.config
    container.close()
    with pytest.raises(ValueError, match="closed"):
        _ = cfg["lxc.uts.name"]


def test_with_closes(container: lxcpy.Container) -> None:
    with lxcpy.Container(container.name, container.lxcpath) as c:
        assert c.defined
    assert c.closed
    assert container.defined  # closing one handle leaves the others


def test_gc_releases_handle(container: lxcpy.Container) -> None:
    gc.collect()
    fds = open_fds()
    c = lxcpy.Container(container.name, container.lxcpath)
    assert open_fds() > fds  # the handle's log memfd and liblxc's fd on it
    ref = weakref.ref(c)
    del c
    gc.collect()
    assert ref() is None
    assert open_fds() == fds


def test_closing_never_stops_the_container(running: lxcpy.Container) -> None:
    other = lxcpy.Container(running.name, running.lxcpath)
    other.close()
    del other
    gc.collect()
    assert running.running


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_thousands_of_handles_leak_nothing(container: lxcpy.Container) -> None:
    name, path = container.name, container.lxcpath

    def cycle(n: int) -> None:
        for i in range(n):
            c = lxcpy.Container(name, path)
            assert c.defined
            _ = c.config["lxc.uts.name"]
            if i % 2:
                c.close()
            else:
                del c  # garbage collection releases it
        gc.collect()

    cycle(500)  # warm up allocator and caches
    fds, rss = open_fds(), _rss_kib()
    cycle(3000)
    assert open_fds() == fds
    assert _rss_kib() - rss < 8 * 1024, "RSS grew by more than 8 MiB over 3,000 handles"


def test_thousands_of_undefined_handles_leak_nothing(lxcpath: str) -> None:
    def cycle(n: int) -> None:
        for _ in range(n):
            with lxcpy.Container("none", lxcpath) as c:
                assert not c.defined

    cycle(300)
    fds, rss = open_fds(), _rss_kib()
    cycle(3000)
    assert open_fds() == fds
    assert _rss_kib() - rss < 8 * 1024
    assert os.listdir(lxcpath) == []

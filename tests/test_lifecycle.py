"""The container lifecycle, with real containers."""

from __future__ import annotations

import os
import threading
import time

import pytest
from helpers import NO_NET

import lxcpy


def test_properties_of_undefined(lxcpath: str) -> None:
    with lxcpy.Container("nothing", lxcpath) as c:
        assert c.name == "nothing"
        assert c.lxcpath == lxcpath
        assert c.config_file == os.path.join(lxcpath, "nothing", "config")
        assert c.defined is False
        assert c.running is False
        assert c.state is lxcpy.State.STOPPED
        assert c.init_pid is None
    assert os.listdir(lxcpath) == []


def test_lxcpath_pathlike_and_relative(lxcpath: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    with lxcpy.Container("x", Path(lxcpath)) as c:
        assert c.lxcpath == lxcpath
    monkeypatch.chdir(lxcpath)
    with lxcpy.Container("x", ".") as c:
        assert c.lxcpath == lxcpath


def test_create_start_stop_destroy(lxcpath: str) -> None:
    c = lxcpy.Container("web", lxcpath)
    c.create("busybox", config=NO_NET)
    assert c.defined
    assert os.path.isfile(c.config_file)
    assert c.config["lxc.net.0.type"] == "empty"
    c.start()
    assert c.running
    assert c.state is lxcpy.State.RUNNING
    pid = c.init_pid
    assert pid is not None and os.path.exists(f"/proc/{pid}")
    c.stop()
    assert c.state is lxcpy.State.STOPPED
    assert c.init_pid is None
    c.destroy()
    assert not c.defined
    assert not os.path.exists(os.path.join(lxcpath, "web"))
    c.close()


def test_create_config_applied_on_defaults(lxcpath: str) -> None:
    with lxcpy.Container("cfg", lxcpath) as c:
        c.config["lxc.uts.name"] = "set-before"
        c.create("busybox", config={**NO_NET, "lxc.tty.max": "2"})
        with open(c.config_file) as f:
            text = f.read()
        assert "lxc.net.0.type = empty" in text
        assert "lxc.tty.max = 2" in text
        # The container's config keeps no trace of lxcpy's log capture.
        assert "lxc.log.file" not in text
        c.destroy()


def test_create_without_template(lxcpath: str) -> None:
    with lxcpy.Container("bare", lxcpath) as c:
        c.create(config=NO_NET)
        assert c.defined
        c.destroy()


def _saved_rootfs(c: lxcpy.Container) -> str:
    """lxc.rootfs.path as the config file has it (with its storage type;
    liblxc's get_config_item gives the path without it)."""
    with open(c.config_file) as f:
        for line in f:
            key, _, value = line.partition("=")
            if key.strip() == "lxc.rootfs.path":
                return value.strip()
    raise AssertionError("no lxc.rootfs.path in the config file")


def test_create_backend_dir(lxcpath: str) -> None:
    with lxcpy.Container("d", lxcpath) as c:
        c.create("busybox", backend="dir", config=NO_NET)
        assert c.config["lxc.rootfs.path"] == os.path.join(lxcpath, "d", "rootfs")
        snap = c.clone("d2", snapshot=True)
        assert _saved_rootfs(snap).startswith("overlay:")
        snap.destroy()
        snap.close()
        c.destroy()


def test_start_with_cmd(container: lxcpy.Container) -> None:
    # python3-lxc segfaults here; lxcpy runs cmd as the container's init.
    container.start(cmd=["/bin/sleep", "1000"])
    pid = container.init_pid
    assert pid is not None
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        assert f.read().split(b"\0")[:2] == [b"/bin/sleep", b"1000"]
    container.stop()


def test_start_use_init(container: lxcpy.Container) -> None:
    container.start(cmd=["/bin/sleep", "1000"], use_init=True)
    pid = container.init_pid
    assert pid is not None
    # With use_init, lxc-init is pid 1 and runs the command as its child.
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        assert b"init" in f.read()
    container.stop()


def test_start_takes_the_callers_limits_at_call_time(container: lxcpy.Container) -> None:
    # The container's init starts with the resource limits the caller has
    # when it calls start(), helper or not (no lxc.prlimit configured).
    import resource

    container.start()  # any helper is running from here on
    container.stop()
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (777, nofile[1]))
        container.start()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, nofile)
    pid = container.init_pid
    assert pid is not None
    limits = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    container.stop()
    assert limits[0] == 777


def test_shutdown(running: lxcpy.Container) -> None:
    running.shutdown(timeout=20)
    assert running.state is lxcpy.State.STOPPED


def test_shutdown_timeout_and_force(container: lxcpy.Container) -> None:
    # sleep as init ignores the halt signal (SIGUSR1 is not fatal to it? it is:
    # so block it by running init as a shell that traps it).
    container.start(cmd=["/bin/sh", "-c", "trap '' USR1 TERM PWR; while :; do sleep 1; done"])
    with pytest.raises(lxcpy.StopTimeoutError) as ei:
        container.shutdown(timeout=1)
    assert isinstance(ei.value, TimeoutError)
    assert isinstance(ei.value, lxcpy.StopError)
    assert container.running
    container.shutdown(timeout=1, force=True)
    assert container.state is lxcpy.State.STOPPED


def test_reboot(running: lxcpy.Container) -> None:
    before = running.init_pid
    running.reboot(timeout=30)
    assert running.wait(lxcpy.State.RUNNING, timeout=10)
    assert running.init_pid is not None
    assert running.init_pid != before


def test_freeze_unfreeze(running: lxcpy.Container) -> None:
    running.freeze()
    assert running.state is lxcpy.State.FROZEN
    running.unfreeze()
    assert running.state is lxcpy.State.RUNNING


def test_wait(running: lxcpy.Container) -> None:
    assert running.wait(lxcpy.State.RUNNING, timeout=0) is True
    assert running.wait("running") is True
    t0 = time.monotonic()
    assert running.wait(lxcpy.State.STOPPED, timeout=1) is False
    assert time.monotonic() - t0 < 3
    stopper = threading.Timer(0.3, running.stop)
    stopper.start()
    assert running.wait(lxcpy.State.STOPPED, timeout=10) is True
    stopper.join()  # stop() may still be in its call when STOPPED is seen


def test_wait_bad_state(running: lxcpy.Container) -> None:
    with pytest.raises(ValueError):
        running.wait("sleeping")
    with pytest.raises(TypeError):
        running.wait(lxcpy.State.RUNNING, timeout="1")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        running.wait(lxcpy.State.RUNNING, timeout=-1)


def test_rename(base: lxcpy.Container, lxcpath: str) -> None:
    c = base.clone("orig", lxcpath=lxcpath)  # a full copy: liblxc renames by copying
    try:
        c.rename("renamed")
        assert c.name == "renamed"
        assert c.defined
        assert lxcpy.list_containers(lxcpath) == ["renamed"]
        assert c.config["lxc.uts.name"] == "renamed"
        with c.started():
            assert c.running
    finally:
        c.close()


def test_rename_overlay_clone_fails_with_reason(container: lxcpy.Container) -> None:
    with pytest.raises(lxcpy.RenameError) as ei:
        container.rename("renamed")
    assert "overlay" in str(ei.value)
    assert ei.value.details
    assert container.name == "ct"
    assert container.defined


def test_clone_copy_and_snapshot(base: lxcpy.Container, lxcpath: str) -> None:
    copy = base.clone("copy", lxcpath=lxcpath)
    snap = base.clone("snap", lxcpath=lxcpath, snapshot=True)
    try:
        assert copy.lxcpath == lxcpath
        assert copy.defined and snap.defined
        assert copy.config["lxc.uts.name"] == "copy"
        assert _saved_rootfs(snap).startswith("overlay:")
        assert not _saved_rootfs(copy).startswith("overlay:")
        # The handle clone() returns is the one Container() would open.
        for c in (copy, snap):
            with lxcpy.Container(c.name, c.lxcpath) as fresh:
                assert dict(fresh.config.items()) == dict(c.config.items())
        assert os.path.isfile(os.path.join(lxcpath, "copy", "rootfs", "bin", "busybox"))
        with snap.started():
            assert snap.running
    finally:
        snap.close()
        copy.close()


def test_clone_into_other_lxcpath(container: lxcpy.Container, lxcpath: str) -> None:
    from helpers import _reap_lxcpath, make_lxcpath

    other = make_lxcpath()
    try:
        c = container.clone("elsewhere", lxcpath=other, snapshot=True, keep_name=True)
        assert c.lxcpath == other
        assert os.path.isdir(os.path.join(other, "elsewhere"))
        assert not os.path.exists(os.path.join(lxcpath, "elsewhere"))
        assert lxcpy.list_containers(other) == ["elsewhere"]
        c.destroy()
        c.close()
    finally:
        _reap_lxcpath(other)


def test_ephemeral_from_template(lxcpath: str) -> None:
    with lxcpy.ephemeral("busybox", config=NO_NET, lxcpath=lxcpath) as c:
        assert c.state is lxcpy.State.RUNNING
        name = c.name
        assert lxcpy.list_containers(lxcpath) == [name]
    assert lxcpy.list_containers(lxcpath) == []
    assert c.closed


def test_ephemeral_from_base(base: lxcpy.Container, lxcpath: str) -> None:
    with lxcpy.ephemeral(base=base, lxcpath=lxcpath, config={"lxc.tty.max": "1"}) as c:
        assert c.running
        assert c.config["lxc.tty.max"] == "1"
    assert lxcpy.list_containers(lxcpath) == []


def test_threads_progress_during_blocking_calls(container: lxcpy.Container) -> None:
    """The GIL is released in liblxc calls: a Python thread keeps counting
    while start/stop/clone block."""
    ticks = 0
    stop = threading.Event()

    def count() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0.001)

    t = threading.Thread(target=count)
    t.start()
    try:
        container.start()
        before = ticks
        assert container.wait(lxcpy.State.STOPPED, timeout=1) is False  # ~1 s blocked in C
        assert ticks - before > 50
        container.stop()
    finally:
        stop.set()
        t.join()

"""add_device_node/remove_device_node and mount/umount into running containers."""

from __future__ import annotations

import os
import stat
import subprocess
import tempfile
from collections.abc import Iterator

import pytest

import lxcpy

DEV = "/dev/loop-control"  # a char device the busybox container lacks


@pytest.fixture
def dev() -> str:
    if not os.path.exists(DEV) or not stat.S_ISCHR(os.stat(DEV).st_mode):
        pytest.skip(f"the host has no {DEV}")
    return DEV


def _inside(c: lxcpy.Container, path: str) -> str:
    return f"/proc/{c.init_pid}/root{path}"


def test_add_remove_device_node(running: lxcpy.Container, dev: str) -> None:
    assert not os.path.exists(_inside(running, dev))
    running.add_device_node(dev)
    st = os.stat(_inside(running, dev))
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.stat(dev).st_rdev
    rule = f"c {os.major(st.st_rdev)}:{os.minor(st.st_rdev)} rwm"
    v1_devices = lxcpy.cgroup_layout().version("devices") == 1
    if v1_devices:
        rules = running.cgroup["devices.list"].splitlines()
        assert rule in rules or "a *:* rwm" in rules
    running.remove_device_node(dev)
    assert not os.path.exists(_inside(running, dev))
    if v1_devices:
        assert rule not in running.cgroup["devices.list"].splitlines()


def test_device_node_bad_input(running: lxcpy.Container, tmp_path: os.PathLike[str]) -> None:
    regular = os.path.join(tmp_path, "file")
    open(regular, "w").close()
    with pytest.raises(FileNotFoundError):
        running.add_device_node("/dev/no-such-device")
    with pytest.raises(ValueError):
        running.add_device_node(regular)  # not a device
    with pytest.raises(ValueError):
        running.add_device_node("dev/null")  # relative
    with pytest.raises(ValueError):
        running.add_device_node("/dev/null\0")
    with pytest.raises(TypeError):
        running.add_device_node(3)  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError):
        running.remove_device_node("/dev/no-such-device")


def test_device_node_not_running(container: lxcpy.Container, dev: str) -> None:
    with pytest.raises(lxcpy.NotRunningError):
        container.add_device_node(dev)
    with pytest.raises(lxcpy.NotRunningError):
        container.remove_device_node(dev)


def test_device_node_not_defined(lxcpath: str, dev: str) -> None:
    with lxcpy.Container("ghost", lxcpath) as c, pytest.raises(lxcpy.NotDefinedError):
        c.add_device_node(dev)
    assert os.listdir(lxcpath) == []


# -- mount / umount ----------------------------------------------------------


@pytest.fixture
def shared_dir() -> Iterator[str]:
    """A host directory that is a shared tmpfs mount, as liblxc's shmounts
    need (mounts made below it propagate into the container)."""
    d = tempfile.mkdtemp(prefix="lxcpy-shmounts-")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "lxcpy-shmounts", d], check=True)
    try:
        subprocess.run(["mount", "--make-shared", d], check=True)
        yield d
    finally:
        subprocess.run(["umount", "-l", d], check=False)
        os.rmdir(d)


@pytest.fixture
def mountct(base: lxcpy.Container, lxcpath: str, shared_dir: str) -> Iterator[lxcpy.Container]:
    c = base.clone("mnt", lxcpath=lxcpath, snapshot=True)
    try:
        c.config.append("lxc.mount.auto", f"shmounts:{shared_dir}:/dev/.lxc-mounts")
        c.config.save()
        c.start()
        yield c
    finally:
        if c.running:
            c.stop()
        c.close()


def _need_mount_injection() -> None:
    if not lxcpy.has_api_extension("mount_injection"):
        pytest.skip("this liblxc lacks the mount_injection API extension")


def test_mount_umount_directory(mountct: lxcpy.Container, tmp_path: os.PathLike[str]) -> None:
    _need_mount_injection()
    src = os.path.join(tmp_path, "src")
    os.mkdir(src)
    with open(os.path.join(src, "hello"), "w") as f:
        f.write("from the host\n")
    mountct.mount(src, "/mnt/injected", flags=os.MS_BIND if hasattr(os, "MS_BIND") else 4096)
    with open(_inside(mountct, "/mnt/injected/hello")) as f:
        assert f.read() == "from the host\n"
    mountct.umount("/mnt/injected")
    assert not os.path.exists(_inside(mountct, "/mnt/injected/hello"))


def test_mount_file(mountct: lxcpy.Container, tmp_path: os.PathLike[str]) -> None:
    if not lxcpy.has_api_extension("mount_injection_file"):
        pytest.skip("this liblxc lacks the mount_injection_file API extension")
    src = os.path.join(tmp_path, "one-file")
    with open(src, "w") as f:
        f.write("file\n")
    mountct.mount(src, "/etc/injected-file", flags=4096)  # MS_BIND
    with open(_inside(mountct, "/etc/injected-file")) as f:
        assert f.read() == "file\n"
    mountct.umount("/etc/injected-file")


def test_mount_tmpfs_by_type(mountct: lxcpy.Container) -> None:
    _need_mount_injection()
    mountct.mount(None, "/mnt/scratch", "tmpfs", data="size=64k")
    with open(_inside(mountct, "/mnt/scratch/x"), "w") as f:
        f.write("x")
    mountct.umount("/mnt/scratch")
    assert not os.path.exists(_inside(mountct, "/mnt/scratch/x"))


def test_mount_failures(mountct: lxcpy.Container, tmp_path: os.PathLike[str]) -> None:
    _need_mount_injection()
    with pytest.raises(lxcpy.MountError) as e:
        mountct.mount(None, "/mnt/bad", "no-such-fstype")
    assert e.value.operation == "mount" and e.value.details
    with pytest.raises(lxcpy.MountError):
        mountct.umount("/mnt/never-mounted")


def test_mount_needs_shmounts(running: lxcpy.Container, tmp_path: os.PathLike[str]) -> None:
    with pytest.raises(lxcpy.MountError) as e:
        running.mount(str(tmp_path), "/mnt/x", flags=4096)
    assert "shmounts" in str(e.value)


def test_mount_bad_input(running: lxcpy.Container, tmp_path: os.PathLike[str]) -> None:
    for args, kwargs, exc in [
        ((str(tmp_path), "relative"), {}, ValueError),
        ((str(tmp_path), "/mnt\0"), {}, ValueError),
        ((None, "/mnt/x"), {}, ValueError),
        ((str(tmp_path), "/mnt/x"), {"flags": "4096"}, TypeError),
        ((str(tmp_path), "/mnt/x"), {"flags": -1}, ValueError),
        ((str(tmp_path), "/mnt/x"), {"fstype": ""}, ValueError),
        ((str(tmp_path), "/mnt/x"), {"data": "a\0b"}, ValueError),
        (("/no/such/source", "/mnt/x"), {}, FileNotFoundError),
        ((3, "/mnt/x"), {}, TypeError),
    ]:
        with pytest.raises(exc):
            running.mount(*args, **kwargs)
    with pytest.raises(ValueError):
        running.umount("relative")
    with pytest.raises(TypeError):
        running.umount("/mnt", flags=None)  # type: ignore[arg-type]


def test_mount_not_running(container: lxcpy.Container, tmp_path: os.PathLike[str]) -> None:
    with pytest.raises(lxcpy.NotRunningError):
        container.mount(str(tmp_path), "/mnt/x")
    with pytest.raises(lxcpy.NotRunningError):
        container.umount("/mnt/x")


def test_mount_not_defined(lxcpath: str, tmp_path: os.PathLike[str]) -> None:
    with lxcpy.Container("ghost", lxcpath) as c:
        with pytest.raises(lxcpy.NotDefinedError):
            c.mount(str(tmp_path), "/mnt/x")
        with pytest.raises(lxcpy.NotDefinedError):
            c.umount("/mnt/x")
    assert os.listdir(lxcpath) == []

"""c.cgroup and c.stats() on real containers."""

from __future__ import annotations

import os

import pytest

import lxcpy


def _memory_limit_key() -> str:
    v = lxcpy.cgroup_layout().version("memory")
    if v is None:
        pytest.skip("this host has no memory cgroup controller")
    return "memory.limit_in_bytes" if v == 1 else "memory.max"


def test_layout_detected_from_proc() -> None:
    layout = lxcpy.cgroup_layout()
    with open("/proc/self/cgroup") as f:
        v1_lines = [ln for ln in f.read().splitlines() if ln.split(":")[1]]
    if v1_lines:
        assert layout.v1, "v1 hierarchies in /proc/self/cgroup but none detected"
        assert layout.v1.isdisjoint(layout.v2)
    else:
        assert not layout.v1
    for ctrl in layout.v1:
        assert layout.version(ctrl) == 1
    assert layout.version("no-such-controller") is None


def test_layout_v2_only_host(tmp_path: os.PathLike[str]) -> None:
    """The v2 detection path, fed a pure-v2 host's /proc files."""
    root = os.path.join(tmp_path, "cg")
    os.mkdir(root)
    with open(os.path.join(root, "cgroup.controllers"), "w") as f:
        f.write("cpuset cpu io memory pids\n")
    cg = os.path.join(tmp_path, "cgroup")
    with open(cg, "w") as f:
        f.write("0::/user.slice\n")
    mounts = os.path.join(tmp_path, "mounts")
    with open(mounts, "w") as f:
        f.write(f"cgroup2 {root} cgroup2 rw,nosuid 0 0\n")
    layout = lxcpy.cgroup_layout(cg, mounts)
    assert layout.v1 == frozenset()
    assert layout.version("memory") == 2 and layout.version("io") == 2
    assert layout.unified_mount == root


def test_layout_v1_mount_points(tmp_path: os.PathLike[str]) -> None:
    """Where each v1 hierarchy is mounted comes from the mounts (a path with
    a space, escaped as /proc/self/mounts does), never assumed."""
    cg = os.path.join(tmp_path, "cgroup")
    with open(cg, "w") as f:
        f.write("3:freezer:/lxc.payload.x\n2:cpu,cpuacct:/\n1:name=systemd:/\n0::/\n")
    mounts = os.path.join(tmp_path, "mounts")
    with open(mounts, "w") as f:
        f.write("cgroup /cg/my\\040freezer cgroup rw,freezer 0 0\n")
        f.write("cgroup /cg/cpu cgroup rw,cpu,cpuacct 0 0\n")
        f.write("cgroup /cg/systemd cgroup rw,name=systemd 0 0\n")
    layout = lxcpy.cgroup_layout(cg, mounts)
    assert layout.v1 == {"freezer", "cpu", "cpuacct"}
    assert dict(layout.v1_mounts) == {
        "freezer": "/cg/my freezer",
        "cpu": "/cg/cpu",
        "cpuacct": "/cg/cpu",
    }
    assert layout.unified_mount is None
    hash(layout)  # a frozen value, as before


def test_freeze_files_are_where_the_host_mounts_them(running: lxcpy.Container) -> None:
    from lxcpy import _cgroupfs

    files = _cgroupfs.freeze_files(running.init_pid or 0)
    host = _cgroupfs.host_layout()
    assert files, "the running container's init has a freezer file"
    for path, mark in files:
        assert os.path.exists(path)
        if mark is None:
            assert path.startswith(host.v1_mounts["freezer"] + "/")
        else:
            assert host.unified_mount is not None
            assert path.startswith(host.unified_mount + "/")


def test_cgroup_get_set(running: lxcpy.Container) -> None:
    key = _memory_limit_key()
    running.cgroup[key] = str(64 << 20)
    assert int(running.cgroup[key]) == 64 << 20
    running.cgroup[key] = 96 << 20  # ints are accepted
    assert int(running.cgroup[key]) == 96 << 20
    assert running.stats().memory_limit == 96 << 20


def test_cgroup_unknown_key_and_bad_value(running: lxcpy.Container) -> None:
    with pytest.raises(lxcpy.CgroupError) as e:
        running.cgroup["memory.no_such_file"]
    assert "memory.no_such_file" in str(e.value) and "'ct'" in str(e.value)
    assert running.cgroup.get("memory.no_such_file", "dflt") == "dflt"
    with pytest.raises(lxcpy.CgroupError):
        running.cgroup[_memory_limit_key()] = "not-a-number"


@pytest.mark.parametrize(
    "key, exc",
    [
        (1, TypeError),
        (None, TypeError),
        ("", ValueError),
        ("memory", ValueError),
        ("../memory.limit_in_bytes", ValueError),
        ("memory/../x.y", ValueError),
        ("memory.limit\0", ValueError),
    ],
)
def test_cgroup_bad_keys_refused(running: lxcpy.Container, key: object, exc: type) -> None:
    with pytest.raises(exc):
        running.cgroup[key]  # type: ignore[index]
    with pytest.raises(exc):
        running.cgroup[key] = "1"  # type: ignore[index]


def test_cgroup_bad_values_refused(running: lxcpy.Container) -> None:
    key = _memory_limit_key()
    before = running.cgroup[key]
    for value, exc in [
        ("1\n2", ValueError),
        ("1\0", ValueError),
        (1.5, TypeError),
        (True, TypeError),
    ]:
        with pytest.raises(exc):
            running.cgroup[key] = value  # type: ignore[assignment]
    assert running.cgroup[key] == before


def test_cgroup_not_running(container: lxcpy.Container) -> None:
    with pytest.raises(lxcpy.NotRunningError):
        container.cgroup["pids.current"]
    with pytest.raises(lxcpy.NotRunningError):
        container.cgroup["pids.max"] = "10"
    with pytest.raises(lxcpy.NotRunningError):
        container.stats()


def test_cgroup_not_defined(lxcpath: str) -> None:
    with lxcpy.Container("ghost", lxcpath) as c:
        with pytest.raises(lxcpy.NotDefinedError):
            c.cgroup["pids.current"]
        with pytest.raises(lxcpy.NotDefinedError):
            c.stats()
    assert os.listdir(lxcpath) == []


def test_stats(running: lxcpy.Container) -> None:
    s = running.stats()
    layout = lxcpy.cgroup_layout()
    assert isinstance(s, lxcpy.Stats)
    with pytest.raises(AttributeError):
        s.pids = 3  # type: ignore[misc]
    if layout.version("memory"):
        assert s.memory_usage is not None and s.memory_usage > 0
    if layout.version("pids"):
        # busybox init, its rcS and getty/sh: at least init
        assert s.pids is not None and s.pids >= 1
    if layout.version("cpuacct") or layout.version("cpu"):
        assert s.cpu_time_ns is not None and s.cpu_time_ns > 0
        assert s.cpu_time == pytest.approx(s.cpu_time_ns / 1e9)
    if layout.version("blkio") or layout.version("io"):
        assert s.blkio_read_bytes is not None and s.blkio_read_bytes >= 0
        assert s.blkio_write_bytes is not None and s.blkio_write_bytes >= 0
    # lxc.net.0.type = empty: only the loopback, as seen inside.
    assert set(s.interfaces) == {"lo"}
    assert s.interfaces["lo"].rx_bytes >= 0


def test_stats_pids_match_cgroup(running: lxcpy.Container) -> None:
    if not lxcpy.cgroup_layout().version("pids"):
        pytest.skip("this host has no pids controller")
    s = running.stats()
    assert s.pids is not None and s.pids >= 1
    assert abs(s.pids - int(running.cgroup["pids.current"])) <= 2  # rcS may come and go

"""A user-namespaced container: root inside is an unprivileged uid outside.

liblxc 5.0.2 creates it from the busybox template and chowns the rootfs to
the mapped range itself. Where newuidmap (package uidmap) is installed,
liblxc insists that root owns the range in /etc/subuid and /etc/subgid
(e.g. ``root:100000:65536``); the test checks that at run time.
Everything is verified from the host side, through /proc.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

import lxcpy

FIRST, COUNT = 100000, 65536
IDMAP = [f"u 0 {FIRST} {COUNT}", f"g 0 {FIRST} {COUNT}"]


def _root_owns_range(path: str) -> bool:
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return False
    for line in lines:
        parts = line.split(":")
        if len(parts) == 3 and parts[0] in ("root", "0"):
            start, n = int(parts[1]), int(parts[2])
            if start <= FIRST and start + n >= FIRST + COUNT:
                return True
    return False


def _userns_problem() -> str | None:
    if shutil.which("newuidmap") is None and shutil.which("newgidmap") is None:
        return None  # liblxc, as root, writes the maps itself
    for path in ("/etc/subuid", "/etc/subgid"):
        if not _root_owns_range(path):
            return (
                f"newuidmap is installed and {path} gives root no range covering "
                f"{FIRST}-{FIRST + COUNT - 1} (add 'root:{FIRST}:{COUNT}')"
            )
    return None


@pytest.fixture
def userns_ct(lxcpath: str) -> Iterator[lxcpy.Container]:
    problem = _userns_problem()
    if problem:
        pytest.skip(problem)
    # The container's root (host uid FIRST) must be able to reach its rootfs.
    os.chmod(lxcpath, 0o711)
    c = lxcpy.Container("userns", lxcpath)
    c.config["lxc.net.0.type"] = "empty"
    c.config["lxc.idmap"] = IDMAP[0]
    c.config.append("lxc.idmap", IDMAP[1])
    c.create("busybox")
    try:
        yield c
    finally:
        c.close()


def _ids(pid: int) -> tuple[int, int]:
    with open(f"/proc/{pid}/status") as f:
        fields = dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
    return int(fields["Uid"].split()[0]), int(fields["Gid"].split()[0])


def test_userns_root_is_not_host_root(userns_ct: lxcpy.Container) -> None:
    c = userns_ct
    assert c.config.get_list("lxc.idmap") == IDMAP
    rootfs = c.config["lxc.rootfs.path"].split(":", 1)[-1]
    assert os.stat(rootfs).st_uid == FIRST  # shifted by liblxc at create
    with c.started():
        pid = c.init_pid
        assert pid is not None
        # init is uid 0 inside its namespace ...
        with open(f"/proc/{pid}/uid_map") as f:
            assert f.read().split() == ["0", str(FIRST), str(COUNT)]
        # ... and uid/gid 100000 on the host, not 0
        assert _ids(pid) == (FIRST, FIRST)
        assert os.readlink(f"/proc/{pid}/ns/user") != os.readlink("/proc/self/ns/user")
        # the rest of the API works on it
        assert c.config.running("lxc.idmap").split("\n")[0] == IDMAP[0]
        assert c.interfaces() == ["lo"]
        s = c.stats()
        assert s.pids is None or s.pids >= 1
        fd = c.init_pidfd()
        os.close(fd)
    assert not c.running


def test_userns_bad_idmap_refused(lxcpath: str) -> None:
    with lxcpy.Container("badmap", lxcpath) as c:
        with pytest.raises(lxcpy.ConfigError):
            c.config["lxc.idmap"] = "x 0 100000"
        with pytest.raises(ValueError):
            c.config["lxc.idmap"] = "u 0 100000 65536\nlxc.init.cmd = /bin/evil"
    assert os.listdir(lxcpath) == []

"""Snapshots of a directory-backed container (liblxc copies it with rsync)."""

from __future__ import annotations

import datetime
import os
import shutil
from collections.abc import Iterator

import pytest

import lxcpy

pytestmark = pytest.mark.skipif(
    shutil.which("rsync") is None,
    reason="rsync is not installed (liblxc needs it for dir snapshots)",
)


@pytest.fixture
def dirct(lxcpath: str) -> Iterator[lxcpy.Container]:
    c = lxcpy.Container("snappy", lxcpath)
    c.create("busybox", config={"lxc.net.0.type": "empty"})
    try:
        yield c
    finally:
        c.close()


def _rootfs(c: lxcpy.Container) -> str:
    return c.config["lxc.rootfs.path"].split(":", 1)[-1]


def _mark(c: lxcpy.Container, text: str) -> None:
    with open(os.path.join(_rootfs(c), "marker"), "w") as f:
        f.write(text)


def _marker(c: lxcpy.Container) -> str | None:
    try:
        with open(os.path.join(_rootfs(c), "marker")) as f:
            return f.read()
    except FileNotFoundError:
        return None


def test_snapshot_list_restore_destroy(dirct: lxcpy.Container, lxcpath: str) -> None:
    assert dirct.snapshots() == []
    _mark(dirct, "zero")
    t0 = datetime.datetime.now().replace(microsecond=0)
    assert dirct.snapshot() == "snap0"
    _mark(dirct, "one")
    assert dirct.snapshot("second\nwith two lines") == "snap1"
    _mark(dirct, "after")

    snaps = dirct.snapshots()
    assert [s.name for s in snaps] == ["snap0", "snap1"]
    assert snaps[0].comment is None
    assert snaps[1].comment == "second\nwith two lines"
    assert snaps[0].lxcpath == os.path.join(lxcpath, "snappy", "snaps")
    assert snaps[0].timestamp is not None
    assert abs((snaps[0].timestamp - t0).total_seconds()) < 120
    with pytest.raises(AttributeError):
        snaps[0].name = "x"  # type: ignore[misc]

    with dirct.restore_snapshot("snap0", "copy0") as copy:
        assert copy.defined and copy.name == "copy0"
        assert _marker(copy) == "zero"
        with copy.started():
            assert copy.running
    assert _marker(dirct) == "after"

    restored = dirct.restore_snapshot("snap1")  # over the container itself
    restored.close()
    assert _marker(dirct) == "one"
    assert dirct.defined

    dirct.destroy_snapshot("snap0")
    assert [s.name for s in dirct.snapshots()] == ["snap1"]
    dirct.destroy_snapshots()
    assert dirct.snapshots() == []
    dirct.destroy_snapshots()  # none left: not an error


def test_destroy_with_snapshots(dirct: lxcpy.Container, lxcpath: str) -> None:
    dirct.snapshot()
    dirct.snapshot()
    dirct.destroy(snapshots=True)
    assert not dirct.defined
    assert not os.path.exists(os.path.join(lxcpath, "snappy"))


def test_destroy_with_snapshots_but_none(dirct: lxcpy.Container, lxcpath: str) -> None:
    dirct.destroy(snapshots=True)
    assert not os.path.exists(os.path.join(lxcpath, "snappy"))


def test_snapshot_failures(dirct: lxcpy.Container, lxcpath: str) -> None:
    with pytest.raises(lxcpy.SnapshotError) as e:
        dirct.restore_snapshot("snap7")
    assert "snap7" in str(e.value)
    with pytest.raises(lxcpy.SnapshotError):
        dirct.destroy_snapshot("snap7")
    dirct.snapshot()
    other = lxcpy.Container("other", lxcpath)
    other.create("busybox", config={"lxc.net.0.type": "empty"})
    other.close()
    with pytest.raises(lxcpy.AlreadyDefinedError):
        dirct.restore_snapshot("snap0", "other")
    with dirct.started():
        with pytest.raises(lxcpy.AlreadyRunningError):
            dirct.snapshot()
        with pytest.raises(lxcpy.AlreadyRunningError):
            dirct.restore_snapshot("snap0")
    assert [s.name for s in dirct.snapshots()] == ["snap0"]


def test_snapshot_bad_input(dirct: lxcpy.Container, lxcpath: str) -> None:
    before = sorted(os.listdir(lxcpath))
    for bad, exc in [
        ("", ValueError),
        ("..", ValueError),
        ("a/b", ValueError),
        ("a\0", ValueError),
        (0, TypeError),
    ]:
        with pytest.raises(exc):
            dirct.restore_snapshot(bad)  # type: ignore[arg-type]
        with pytest.raises(exc):
            dirct.destroy_snapshot(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        dirct.snapshot("nul\0")
    with pytest.raises(TypeError):
        dirct.snapshot(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        dirct.restore_snapshot("snap0", "bad/name")
    assert sorted(os.listdir(lxcpath)) == before
    assert not os.path.exists(os.path.join(lxcpath, "snappy", "snaps"))


def test_snapshot_not_defined(lxcpath: str) -> None:
    with lxcpy.Container("ghost", lxcpath) as c:
        for call in (
            c.snapshot,
            c.snapshots,
            c.destroy_snapshots,
            lambda: c.restore_snapshot("snap0"),
            lambda: c.destroy_snapshot("snap0"),
        ):
            with pytest.raises(lxcpy.NotDefinedError):
                call()
    assert os.listdir(lxcpath) == []

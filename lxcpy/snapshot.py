"""Snapshots of a stopped container: take, list, restore, destroy."""

from __future__ import annotations

import datetime
import os
import re
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lxcpy import _ffi, _validate
from lxcpy.errors import SnapshotError, from_os_error

if TYPE_CHECKING:
    from lxcpy.container import Container

__all__ = ["Snapshot"]

_SNAP = re.compile(r"^snap(\d+)$")


@dataclass(frozen=True)
class Snapshot:
    """One snapshot, copied out of liblxc's list.

    ``comment`` is the comment's text (None without one), ``timestamp``
    when it was taken (local time, as liblxc writes it; None if unknown),
    ``lxcpath`` the directory that holds the snapshot containers.
    """

    name: str
    comment: str | None
    timestamp: datetime.datetime | None
    lxcpath: str


def _timestamp(text: str | None) -> datetime.datetime | None:
    if not text:
        return None
    try:
        return datetime.datetime.strptime(text.strip(), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None


def _comment(path: str | None) -> str | None:
    if not path:
        return None
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return None


def _order(s: Snapshot) -> tuple[int, str]:
    m = _SNAP.match(s.name)
    return (int(m.group(1)) if m else 1 << 30, s.name)


def snapshots(c: Container) -> list[Snapshot]:
    c._need_defined("snapshots")
    with c._op("snapshots", SnapshotError) as o:
        raw = _ffi.snapshot_list(c._handle())
        if raw is None:
            o.fail("liblxc could not list the snapshots")
    found = [
        Snapshot(name, _comment(comment), _timestamp(ts), lxcpath)
        for name, comment, ts, lxcpath in raw
    ]
    return sorted(found, key=_order)


def snapshot(c: Container, comment: str | None) -> str:
    if comment is not None:
        _validate.text(comment, "comment")
    c._need_stopped("snapshot")
    with c._op("snapshot", SnapshotError) as o:
        if comment is None:
            n = _ffi.snapshot(c._handle(), None)
        else:
            try:
                f = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below
                    "w", encoding="utf-8", prefix="lxcpy-comment-"
                )
            except OSError as e:
                raise _comment_failure(c, e) from None
            with f:
                try:
                    f.write(comment)
                    f.flush()
                except OSError as e:
                    raise _comment_failure(c, e) from None
                n = _ffi.snapshot(c._handle(), _ffi.enc_path(f.name))
        if n < 0:
            o.fail("liblxc could not take a snapshot")
    return f"snap{n}"


def _comment_failure(c: Container, e: OSError) -> SnapshotError:
    return from_os_error(
        SnapshotError,
        "could not write the comment to a temporary file",
        e,
        filename=e.filename,
        container=c.name,
        operation="snapshot",
    )


def _need_snapshot(c: Container, name: str, operation: str) -> None:
    if name not in {s.name for s in snapshots(c)}:
        raise SnapshotError(f"no snapshot named {name!r}", container=c.name, operation=operation)


def restore_snapshot(c: Container, name: str, new_name: str | None) -> Container:
    from lxcpy.container import Container

    snap = _validate.name(name, "snapshot name")
    new = None if new_name is None else _validate.container_name(new_name, "new name")
    c._need_stopped("restore_snapshot")
    _need_snapshot(c, snap, "restore_snapshot")
    if new is not None and new != c.name and os.path.lexists(os.path.join(c.lxcpath, new)):
        from lxcpy.errors import AlreadyDefinedError

        raise AlreadyDefinedError(
            f"{new!r} already exists in {c.lxcpath}", container=c.name, operation="restore_snapshot"
        )
    with c._op("restore_snapshot", SnapshotError) as o:
        if not _ffi.snapshot_restore(c._handle(), snap, new):
            o.fail(f"liblxc could not restore {snap!r}" + (f" as {new!r}" if new else ""))
    if new is None or new == c.name:
        c._reload()
    return Container(new or c.name, c.lxcpath)


def destroy_snapshot(c: Container, name: str) -> None:
    snap = _validate.name(name, "snapshot name")
    c._need_defined("destroy_snapshot")
    _need_snapshot(c, snap, "destroy_snapshot")
    with c._op("destroy_snapshot", SnapshotError) as o:
        if not _ffi.snapshot_destroy(c._handle(), snap):
            o.fail(f"liblxc could not destroy the snapshot {snap!r}")


def destroy_snapshots(c: Container) -> None:
    c._need_defined("destroy_snapshots")
    if not snapshots(c):
        return  # liblxc fails when there is no snapshot directory
    with c._op("destroy_snapshots", SnapshotError) as o:
        if not _ffi.snapshot_destroy_all(c._handle()):
            o.fail("liblxc could not destroy the snapshots")

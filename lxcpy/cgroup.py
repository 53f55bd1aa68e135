"""Live cgroup values of a running container, and its resource statistics.

Keys and statistics follow the host's layout (``cgroup_layout()``, detected
by lxcpy._cgroupfs, never assumed): v1 names where a legacy hierarchy
carries the controller, v2 names where the unified one does. Values go
through liblxc's get/set_cgroup_item, which knows where the container's
cgroups are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from lxcpy import _ffi, _validate
from lxcpy._cgroupfs import CgroupLayout, host_layout
from lxcpy._cgroupfs import layout as cgroup_layout
from lxcpy._handles import guard_methods
from lxcpy.errors import CgroupError

if TYPE_CHECKING:
    from lxcpy.container import Container

__all__ = ["Cgroup", "CgroupLayout", "InterfaceStats", "Stats", "cgroup_layout"]

# controller.file, e.g. memory.limit_in_bytes, cpu.max, io.stat
_KEY = re.compile(r"^[a-z][a-z0-9_]*\.[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
# v1 counters report "unlimited" as PAGE_COUNTER_MAX rounded to pages.
_V1_UNLIMITED = 1 << 62


def _key(value: object) -> str:
    k = _validate.text(value, "cgroup key")
    if not _KEY.match(k):
        raise ValueError(f"invalid cgroup key (want 'controller.file'): {k!r}")
    return k


class Cgroup:
    """``c.cgroup[key]`` reads and ``c.cgroup[key] = value`` writes a live
    cgroup file of the running container, named as the host has it
    (``memory.limit_in_bytes`` on v1, ``memory.max`` on v2).

    Values are str, without the trailing newline. A key the container's
    cgroups do not have, or a value the kernel refuses, raises
    ``CgroupError`` with liblxc's reason; a stopped container raises
    ``NotRunningError``.
    """

    __slots__ = ("_container",)

    def __init__(self, container: Container) -> None:
        self._container = container

    def __getitem__(self, key: str) -> str:
        k = _key(key)
        c = self._container
        c._need_running("cgroup")
        with c._op("cgroup", CgroupError) as o:
            value = _ffi.get_cgroup_item(c._handle(), k)
            if value is None:
                o.fail(f"liblxc could not read the cgroup value {k!r}", key=k)
        return value.rstrip("\n")

    def __setitem__(self, key: str, value: str | int) -> None:
        k = _key(key)
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise TypeError(f"cgroup value must be str or int, not {type(value).__name__}")
        v = _validate.text(str(value), f"value of {k}")
        if "\n" in v or "\r" in v:
            raise ValueError(f"value of {k} must not contain a newline: {v!r}")
        c = self._container
        c._need_running("cgroup")
        with c._op("cgroup", CgroupError) as o:
            if not _ffi.set_cgroup_item(c._handle(), k, v):
                o.fail(f"liblxc could not set the cgroup value {k} = {v!r}", key=k)

    def get(self, key: str, default: str | None = None) -> str | None:
        """The value, or ``default`` where the container has no such file."""
        try:
            return self[key]
        except CgroupError:
            return default

    @staticmethod
    def layout() -> CgroupLayout:
        return cgroup_layout()

    def __repr__(self) -> str:
        return f"<lxcpy.Cgroup of {self._container.name!r}>"


# Calls through the view count as calls on its Container (lxcpy._handles).
guard_methods(Cgroup, lambda cg: cg._container._slot)


@dataclass(frozen=True)
class InterfaceStats:
    """Byte counters of one network interface, seen inside the container."""

    rx_bytes: int
    tx_bytes: int


@dataclass(frozen=True)
class Stats:
    """A snapshot of a running container's resource use. A field is None
    where the host lacks the controller (or the kernel the counter)."""

    memory_usage: int | None  # bytes
    memory_limit: int | None  # bytes; None when unlimited or unknown
    cpu_time_ns: int | None  # CPU time used by all its tasks, nanoseconds
    pids: int | None  # tasks in the container's cgroup
    blkio_read_bytes: int | None
    blkio_write_bytes: int | None
    interfaces: Mapping[str, InterfaceStats] = field(default_factory=dict)
    cgroup_version: int | None = None  # of the memory controller: 1, 2 or None

    @property
    def cpu_time(self) -> float | None:
        """CPU time in seconds."""
        return None if self.cpu_time_ns is None else self.cpu_time_ns / 1e9


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        return None


def _v1_blkio(text: str | None) -> tuple[int | None, int | None]:
    """Sum 'MAJ:MIN Read N' / 'MAJ:MIN Write N' lines of io_service_bytes."""
    if text is None:
        return None, None
    read = write = 0
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in ("Read", "Write"):
            n = _int(parts[2]) or 0
            if parts[1] == "Read":
                read += n
            else:
                write += n
    return read, write


def _v2_io(text: str | None) -> tuple[int | None, int | None]:
    """Sum rbytes= and wbytes= over the devices of io.stat."""
    if text is None:
        return None, None
    read = write = 0
    for line in text.splitlines():
        for item in line.split()[1:]:
            name, _, value = item.partition("=")
            if name == "rbytes":
                read += _int(value) or 0
            elif name == "wbytes":
                write += _int(value) or 0
    return read, write


def _v2_cpu_usec(text: str | None) -> int | None:
    if text is None:
        return None
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name == "usage_usec":
            n = _int(value)
            return None if n is None else n * 1000
    return None


def net_dev(pid: int) -> dict[str, InterfaceStats]:
    """Per-interface rx/tx bytes from /proc/<pid>/net/dev: the counters of
    that process's network namespace."""
    out: dict[str, InterfaceStats] = {}
    try:
        with open(f"/proc/{pid}/net/dev", encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()[2:]
    except OSError:
        return out
    for line in lines:
        name, sep, rest = line.partition(":")
        if not sep:
            continue
        cols = rest.split()
        if len(cols) >= 9:
            out[name.strip()] = InterfaceStats(rx_bytes=int(cols[0]), tx_bytes=int(cols[8]))
    return out


def stats(container: Container) -> Stats:
    """Read the running container's statistics (see ``Stats``)."""
    c = container
    c._need_running("stats")
    layout = host_layout()
    h = c._handle()

    def get(key: str) -> str | None:
        return _ffi.get_cgroup_item(h, key)

    with c._op("stats", CgroupError):
        mem_v = layout.version("memory")
        usage = limit = None
        if mem_v == 1:
            usage = _int(get("memory.usage_in_bytes"))
            limit = _int(get("memory.limit_in_bytes"))
            if limit is not None and limit >= _V1_UNLIMITED:
                limit = None
        elif mem_v == 2:
            usage = _int(get("memory.current"))
            limit = _int(get("memory.max"))  # "max" (unlimited) parses to None

        cpu = None
        if layout.version("cpuacct") == 1:
            cpu = _int(get("cpuacct.usage"))
        elif layout.version("cpu") == 2 or layout.unified_mount is not None:
            # cpu.stat exists in every v2 cgroup, with or without the controller.
            cpu = _v2_cpu_usec(get("cpu.stat"))

        pids_v = layout.version("pids")
        pids = _int(get("pids.current")) if pids_v is not None else None

        read = write = None
        if layout.version("blkio") == 1:
            read, write = _v1_blkio(get("blkio.throttle.io_service_bytes"))
            if not read and not write:
                r2, w2 = _v1_blkio(get("blkio.io_service_bytes"))
                read, write = r2 if r2 is not None else read, w2 if w2 is not None else write
        elif layout.version("io") == 2:
            read, write = _v2_io(get("io.stat"))

        pid = _ffi.init_pid(h)
        interfaces = net_dev(pid) if pid > 0 else {}
    return Stats(
        memory_usage=usage,
        memory_limit=limit,
        cpu_time_ns=cpu,
        pids=pids,
        blkio_read_bytes=read,
        blkio_write_bytes=write,
        interfaces=MappingProxyType(interfaces),
        cgroup_version=mem_v,
    )

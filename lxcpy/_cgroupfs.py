"""The host's cgroup file systems: the one place in Python that knows v1
from v2.

Which hierarchy carries which controller and where each is mounted
(``layout``, public as ``lxcpy.cgroup_layout``), the cgroups of a process
(``process_cgroups``) and the files that tell whether a process's cgroup
is frozen (``freeze_files``). Used by the statistics (lxcpy.cgroup), the
attach check (lxcpy._attach_ready) and freeze() (lxcpy.container). Where a
container's own cgroups are is liblxc's business (get/set_cgroup_item);
the C shim moves a start's child out of the monitor cgroup by itself
(csrc/common/core.c), since it does so after fork.

The layout is detected, never assumed: a controller is "v1" when a legacy
hierarchy carries it (``/proc/self/cgroup`` and the mounts agree), "v2"
when the unified hierarchy's root offers it (``cgroup.controllers``).
Hybrid hosts (v1 controllers plus an empty cgroup2 mount) therefore read
v1 names, pure v2 hosts the v2 ones.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["CgroupLayout", "FreezeFile", "freeze_files", "host_layout", "layout", "process_cgroups"]

# (path, what a frozen one contains; None: frozen unless it reads THAWED)
FreezeFile = tuple[str, "str | None"]


@dataclass(frozen=True)
class CgroupLayout:
    """Which controllers the host runs on cgroup v1 and which on v2, and
    where the hierarchies are mounted."""

    v1: frozenset[str]
    v2: frozenset[str]
    unified_mount: str | None
    # controller -> mount point of the v1 hierarchy carrying it
    v1_mounts: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({}), compare=False
    )

    def version(self, controller: str) -> int | None:
        """1 or 2 for the hierarchy carrying ``controller``, None if neither."""
        if controller in self.v1:
            return 1
        if controller in self.v2:
            return 2
        return None


def _unescape(path: str) -> str:
    # /proc/self/mounts escapes space, tab, newline and backslash as \ooo.
    if "\\" not in path:
        return path
    out, i = [], 0
    while i < len(path):
        if path[i] == "\\" and path[i + 1 : i + 4].isdigit():
            out.append(chr(int(path[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(path[i])
            i += 1
    return "".join(out)


def layout(
    proc_cgroup: str = "/proc/self/cgroup", mounts: str = "/proc/self/mounts"
) -> CgroupLayout:
    """Detect the host's cgroup layout from /proc/self/cgroup and the mounts."""
    v1_mounts: dict[str, str] = {}
    unified: str | None = None
    with open(mounts, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.split()
            if len(parts) < 4:
                continue
            where, fstype, options = _unescape(parts[1]), parts[2], parts[3].split(",")
            if fstype == "cgroup":
                for o in options:
                    if not o.startswith("name="):
                        v1_mounts.setdefault(o, where)
            elif fstype == "cgroup2" and unified is None:
                unified = where
    v1: set[str] = set()
    with open(proc_cgroup, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.rstrip("\n").split(":", 2)
            if len(parts) == 3 and parts[1]:
                v1.update(c for c in parts[1].split(",") if not c.startswith("name="))
    v2: set[str] = set()
    if unified is not None:
        try:
            with open(os.path.join(unified, "cgroup.controllers"), encoding="utf-8") as f:
                v2 = set(f.read().split())
        except OSError:
            pass
    carried = frozenset(v1 & v1_mounts.keys())
    return CgroupLayout(
        carried,
        frozenset(v2 - v1),
        unified,
        MappingProxyType({c: v1_mounts[c] for c in sorted(carried)}),
    )


@functools.lru_cache(maxsize=1)
def host_layout() -> CgroupLayout:
    """This host's layout, detected once per process (the hot path of the
    attach check reads it)."""
    return layout()


def process_cgroups(pid: int | str) -> list[tuple[frozenset[str], str]]:
    """(controllers, path) of each hierarchy pid is in; the unified one has
    no controllers. Empty if the process is gone."""
    try:
        with open(f"/proc/{pid}/cgroup", encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) == 3:
            names = frozenset(c for c in parts[1].split(",") if c)
            out.append((names, parts[2]))
    return out


def freeze_files(pid: int) -> tuple[FreezeFile, ...]:
    """(v1 freezer.state, None) and (v2 cgroup.events, "frozen 1") of
    pid's cgroups, those that exist."""
    host = host_layout()
    out: list[FreezeFile] = []
    for controllers, path in process_cgroups(pid):
        if "freezer" in controllers:
            root = host.v1_mounts.get("freezer")
            if root is not None:
                out.append((f"{root}{path}/freezer.state", None))
        elif not controllers and host.unified_mount is not None:
            events = f"{host.unified_mount}{path}/cgroup.events"
            if os.path.exists(events):
                out.append((events, "frozen 1"))
    return tuple(out)

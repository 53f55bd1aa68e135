"""lxcpy: Python binding for liblxc, the LXC containers library.

import lxcpy
with lxcpy.Container("web", "/tmp/containers") as c:
    c.create("busybox", config={"lxc.net.0.type": "empty"})
    with c.started():
        print(c.state, c.init_pid)
    c.destroy()
"""

from __future__ import annotations

from lxcpy._ephemeral import ephemeral
from lxcpy._system import (
    config_item_supported,
    default_lxcpath,
    global_config_item,
    has_api_extension,
    list_containers,
    lxc_version,
)
from lxcpy.cgroup import Cgroup, CgroupLayout, InterfaceStats, Stats, cgroup_layout
from lxcpy.checkpoint import CriuUnsupportedError
from lxcpy.config import Config
from lxcpy.console import Console
from lxcpy.container import Container
from lxcpy.errors import (
    AlreadyDefinedError,
    AlreadyRunningError,
    AttachError,
    CgroupError,
    CheckpointError,
    CloneError,
    ConfigError,
    ConsoleError,
    CreateError,
    DestroyError,
    DeviceError,
    ExitStatusLostError,
    FreezeError,
    HelperError,
    LxcError,
    MountError,
    NetworkError,
    NotDefinedError,
    NotRunningError,
    RebootError,
    RenameError,
    SnapshotError,
    StartError,
    StopError,
    StopTimeoutError,
    UnsupportedError,
)
from lxcpy.namespace import Namespace
from lxcpy.process import Process
from lxcpy.snapshot import Snapshot
from lxcpy.state import State

__version__ = "0.1.0"

__all__ = [
    "AlreadyDefinedError",
    "AlreadyRunningError",
    "AttachError",
    "Cgroup",
    "CgroupError",
    "CgroupLayout",
    "CheckpointError",
    "CloneError",
    "Config",
    "ConfigError",
    "Console",
    "ConsoleError",
    "Container",
    "CreateError",
    "CriuUnsupportedError",
    "DestroyError",
    "DeviceError",
    "ExitStatusLostError",
    "FreezeError",
    "HelperError",
    "InterfaceStats",
    "LxcError",
    "MountError",
    "Namespace",
    "NetworkError",
    "NotDefinedError",
    "NotRunningError",
    "Process",
    "RebootError",
    "RenameError",
    "Snapshot",
    "SnapshotError",
    "StartError",
    "State",
    "Stats",
    "StopError",
    "StopTimeoutError",
    "UnsupportedError",
    "__version__",
    "cgroup_layout",
    "config_item_supported",
    "default_lxcpath",
    "ephemeral",
    "global_config_item",
    "has_api_extension",
    "list_containers",
    "lxc_version",
]

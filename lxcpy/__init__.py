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
from lxcpy.config import Config
from lxcpy.container import Container
from lxcpy.errors import (
    AlreadyDefinedError,
    AlreadyRunningError,
    AttachError,
    CgroupError,
    CheckpointError,
    CloneError,
    ConfigError,
    CreateError,
    DestroyError,
    FreezeError,
    LxcError,
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
from lxcpy.state import State

__version__ = "0.1.0"

__all__ = [
    "AlreadyDefinedError",
    "AlreadyRunningError",
    "AttachError",
    "CgroupError",
    "CheckpointError",
    "CloneError",
    "Config",
    "ConfigError",
    "Container",
    "CreateError",
    "DestroyError",
    "FreezeError",
    "LxcError",
    "Namespace",
    "NotDefinedError",
    "NotRunningError",
    "Process",
    "RebootError",
    "RenameError",
    "SnapshotError",
    "StartError",
    "State",
    "StopError",
    "StopTimeoutError",
    "UnsupportedError",
    "__version__",
    "config_item_supported",
    "default_lxcpath",
    "ephemeral",
    "global_config_item",
    "has_api_extension",
    "list_containers",
    "lxc_version",
]

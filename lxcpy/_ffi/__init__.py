"""The thin layer: the one package that touches the cffi extension.

Everything that crosses into C goes through here, so encoding, NULL checks
and buffer sizing can be audited in one place. Functions take and return
Python values; they report failure by their return value (``False``,
``None``, a negative number) and leave the choice of exception to the
caller. Strings are UTF-8 both ways; paths use ``os.fsencode``/``os.fsdecode``.
Nothing here validates names: the Pythonic layer does that before calling.

Callers use the package (``from lxcpy import _ffi; _ffi.start(...)``),
which re-exports the public names of its modules, one per area:

- ``_lib``: imports the compiled module ``lxcpy._lxc`` (``ffi``, ``lib``),
  the only module of lxcpy that does;
- ``encoding``: strings and paths to C, C strings and arrays back, errno;
- ``system``: module level (version, API extensions, global
  configuration, logging, listing containers);
- ``handles``: ``Handle``, made and freed, its log and liblxc error;
- ``config``: a container's configuration items;
- ``lifecycle``: state queries, create, start, stop, ..., clone;
- ``container_ops``: the other container operations (csrc/ext/container_ops.c):
  cgroups, network, devices, mounts, console, snapshots, checkpoints, fds;
- ``attach``: attach options, running a program or a callable attached;
- ``wire``: the helper protocol (packing, sending, receiving replies).

The package re-exports only what lxcpy's other modules use. The rest of
a module's public names (the wire table as data, the generic packer, the
cffi objects of ``_lib``) are what the module itself works with; tests
that need them import the module (``from lxcpy._ffi import wire``).
Nothing here exists for tests only: what tests need beyond that is in
tests/ (tests/protocol.py packs an ATTACH request and parses replies).
"""

from __future__ import annotations

from lxcpy._ffi.attach import (
    NS_CGROUP,
    NS_IPC,
    NS_MOUNT,
    NS_NET,
    NS_PID,
    NS_USER,
    NS_UTS,
    STAGE_CHDIR,
    STAGE_EXEC,
    STAGE_READY,
    AttachFields,
    AttachValue,
    attach_call,
    attach_run,
    c_environ,
)
from lxcpy._ffi.config import (
    clear_config,
    clear_config_item,
    get_config_item,
    get_keys,
    get_running_config_item,
    load_config,
    save_config,
    set_config_item,
)
from lxcpy._ffi.container_ops import (
    add_device_node,
    attach_interface,
    checkpoint,
    console_getfd,
    console_log,
    detach_interface,
    devpts_fd,
    get_cgroup_item,
    get_interfaces,
    get_ips,
    init_pidfd,
    may_control,
    mount,
    remove_device_node,
    restore,
    seccomp_notify_fd,
    set_cgroup_item,
    snapshot,
    snapshot_destroy,
    snapshot_destroy_all,
    snapshot_list,
    snapshot_restore,
    umount,
)
from lxcpy._ffi.encoding import enc, enc_path, errno
from lxcpy._ffi.handles import Handle, error_string, handle_free, handle_new, log_attach, log_fd
from lxcpy._ffi.lifecycle import (
    CLONE_KEEPMACADDR,
    CLONE_KEEPNAME,
    CLONE_SNAPSHOT,
    clone,
    config_file_name,
    create,
    destroy,
    freeze,
    init_pid,
    is_defined,
    is_running,
    pid_box,
    reboot,
    rename,
    shutdown,
    start,
    state,
    stop,
    unfreeze,
    wait,
)
from lxcpy._ffi.system import (
    LIST_ACTIVE,
    LIST_DEFINED,
    config_item_supported,
    global_config_item,
    has_api_extension,
    list_containers,
    log_setup,
    version,
)
from lxcpy._ffi.wire import (
    FD_CREATE_CONFIG,
    FD_CREATE_LOG,
    FD_CREATE_OUTPUT,
    FD_START_CONFIG,
    FD_START_LOG,
    HELPER_PATH,
    OP_CREATE,
    OP_START,
    REPLY_DONE,
    REPLY_HELLO,
    REPLY_STARTED,
    WIRE_VERSION,
    pack_create,
    pack_start,
    recv_reply,
    request_fds,
    send_attach,
    send_packed,
)

__all__ = [
    "CLONE_KEEPMACADDR",
    "CLONE_KEEPNAME",
    "CLONE_SNAPSHOT",
    "FD_CREATE_CONFIG",
    "FD_CREATE_LOG",
    "FD_CREATE_OUTPUT",
    "FD_START_CONFIG",
    "FD_START_LOG",
    "HELPER_PATH",
    "LIST_ACTIVE",
    "LIST_DEFINED",
    "NS_CGROUP",
    "NS_IPC",
    "NS_MOUNT",
    "NS_NET",
    "NS_PID",
    "NS_USER",
    "NS_UTS",
    "OP_CREATE",
    "OP_START",
    "REPLY_DONE",
    "REPLY_HELLO",
    "REPLY_STARTED",
    "STAGE_CHDIR",
    "STAGE_EXEC",
    "STAGE_READY",
    "WIRE_VERSION",
    "AttachFields",
    "AttachValue",
    "Handle",
    "add_device_node",
    "attach_call",
    "attach_interface",
    "attach_run",
    "c_environ",
    "checkpoint",
    "clear_config",
    "clear_config_item",
    "clone",
    "config_file_name",
    "config_item_supported",
    "console_getfd",
    "console_log",
    "create",
    "destroy",
    "detach_interface",
    "devpts_fd",
    "enc",
    "enc_path",
    "errno",
    "error_string",
    "freeze",
    "get_cgroup_item",
    "get_config_item",
    "get_interfaces",
    "get_ips",
    "get_keys",
    "get_running_config_item",
    "global_config_item",
    "handle_free",
    "handle_new",
    "has_api_extension",
    "init_pid",
    "init_pidfd",
    "is_defined",
    "is_running",
    "list_containers",
    "load_config",
    "log_attach",
    "log_fd",
    "log_setup",
    "may_control",
    "mount",
    "pack_create",
    "pack_start",
    "pid_box",
    "reboot",
    "recv_reply",
    "remove_device_node",
    "rename",
    "request_fds",
    "restore",
    "save_config",
    "seccomp_notify_fd",
    "send_attach",
    "send_packed",
    "set_cgroup_item",
    "set_config_item",
    "shutdown",
    "snapshot",
    "snapshot_destroy",
    "snapshot_destroy_all",
    "snapshot_list",
    "snapshot_restore",
    "start",
    "state",
    "stop",
    "umount",
    "unfreeze",
    "version",
    "wait",
]

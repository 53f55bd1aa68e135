"""Every operation on a closed Container raises ValueError (like a
closed file), before any C call."""

from __future__ import annotations

import pytest

import lxcpy


def test_operations_on_closed_container(container: lxcpy.Container) -> None:
    container.close()
    calls = [
        lambda: container.cgroup,
        container.stats,
        container.interfaces,
        container.ips,
        lambda: container.attach_interface("x0"),
        lambda: container.detach_interface("x0"),
        lambda: container.add_device_node("/dev/null"),
        lambda: container.remove_device_node("/dev/null"),
        lambda: container.mount("/tmp", "/mnt"),
        lambda: container.umount("/mnt"),
        container.console_getfd,
        container.console_log,
        container.snapshot,
        container.snapshots,
        lambda: container.restore_snapshot("snap0"),
        lambda: container.destroy_snapshot("snap0"),
        container.destroy_snapshots,
        lambda: container.checkpoint("/tmp/x"),
        container.init_pidfd,
        container.devpts_fd,
        container.seccomp_notify_fd,
        container.may_control,
    ]
    for call in calls:
        with pytest.raises(ValueError, match="closed"):
            call()

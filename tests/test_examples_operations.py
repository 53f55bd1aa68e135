"""Every example script of the other container operations (cgroups, network,
devices, console, snapshots...) runs and prints what it should."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from helpers import run_example

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize(
    "script, expected",
    [
        ("cgroup_limits.py", ["134217728", "as expected:"]),
        ("stats.py", ["memory usage:", "interface lo:"]),
        ("snapshots.py", ["took snap0", "'pristine busybox'", "motd after restore exists: False"]),
        ("clone.py", ["cow is RUNNING", "['copy', 'cow', 'original']"]),
        ("network.py", ["eth0 IPv4: ['192.0.2.20']", "moved0", "host has it again: True"]),
    ],
)
def test_example(script: str, expected: list[str]) -> None:
    r = run_example(EXAMPLES / script)
    assert r.returncode == 0, r.stderr
    for text in expected:
        assert text in r.stdout, r.stdout
    assert "lxcpy-example-" not in r.stderr


def test_network_example_cleans_up_host_interface() -> None:
    for name in ("lxcpyex0", "lxcpyex0p"):
        with pytest.raises(OSError):
            socket.if_nametoindex(name)

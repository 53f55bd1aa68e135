"""interfaces(), ips(), attach_interface(), detach_interface().

The container's lxc.net.0 is a veth with no link (its host end hangs
free) and a static address from 192.0.2.0/24 (TEST-NET-1); it runs
``sleep`` as init so that busybox's rcS never starts udhcpc. Nothing is
sent off the machine. Host interfaces made for the tests are named
lxcpytestN and deleted afterwards, whatever happens.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator

import pytest

import lxcpy

ADDR = "192.0.2.10"
NET = {
    "lxc.net.0.type": "veth",
    "lxc.net.0.ipv4.address": f"{ADDR}/24",
    "lxc.net.0.flags": "up",
    "lxc.net.0.name": "eth0",
}


@pytest.fixture
def netct(base: lxcpy.Container, lxcpath: str) -> Iterator[lxcpy.Container]:
    c = base.clone("net", lxcpath=lxcpath, snapshot=True)
    try:
        del c.config["lxc.net.0.type"]
        for k, v in NET.items():
            c.config[k] = v
        c.config.save()
        c.start(cmd=["/bin/sleep", "86400"])
        yield c
    finally:
        c.close()


def _host_has(name: str) -> bool:
    try:
        socket.if_nametoindex(name)
    except OSError:
        return False
    return True


@pytest.fixture
def host_if() -> Iterator[str]:
    """A host interface to move around: a dummy where the kernel has the
    dummy driver, else one end of a veth pair (the peer stays on the host)."""
    name = next(f"lxcpytest{i}" for i in range(100) if not _host_has(f"lxcpytest{i}"))
    r = subprocess.run(["ip", "link", "add", name, "type", "dummy"], capture_output=True)
    if r.returncode != 0:
        subprocess.run(
            ["ip", "link", "add", name, "type", "veth", "peer", "name", name + "p"], check=True
        )
    try:
        yield name
    finally:
        for n in (name, name + "p"):
            if _host_has(n):
                subprocess.run(["ip", "link", "del", n], capture_output=True)


def test_interfaces_and_ips(netct: lxcpy.Container) -> None:
    assert netct.interfaces() == ["eth0", "lo"]
    assert ADDR in netct.ips()
    assert netct.ips("eth0", "inet") == [ADDR]
    assert netct.ips("eth0", socket.AF_INET) == [ADDR]
    assert ADDR not in netct.ips("eth0", "inet6")
    assert "127.0.0.1" not in netct.ips()  # loopback only when asked for by name
    assert netct.ips("lo", "inet") == ["127.0.0.1"]
    assert netct.config.running("lxc.net.0.ipv4.address") == f"{ADDR}/24"
    assert netct.config.running("lxc.net.0.veth.pair") != ""


def test_ips_refuse_bad_input(netct: lxcpy.Container) -> None:
    with pytest.raises(ValueError):
        netct.ips("eth0", "ipx")
    with pytest.raises(ValueError):
        netct.ips("a" * 16)
    with pytest.raises(ValueError):
        netct.ips("eth/0")
    with pytest.raises(TypeError):
        netct.ips(0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        netct.ips("eth0", None, "0")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        netct.ips("eth0", None, -1)


def test_no_fd_leak(netct: lxcpy.Container) -> None:
    netct.interfaces()
    netct.ips()
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        netct.interfaces()
        netct.ips("eth0", "inet")
    assert len(os.listdir("/proc/self/fd")) == before


def test_attach_detach_interface(netct: lxcpy.Container, host_if: str) -> None:
    netct.attach_interface(host_if)
    assert not _host_has(host_if)
    assert host_if in netct.interfaces()
    with open(f"/proc/{netct.init_pid}/net/dev") as f:
        assert host_if + ":" in f.read()
    netct.detach_interface(host_if)
    assert _host_has(host_if)
    assert host_if not in netct.interfaces()


def test_attach_renamed(netct: lxcpy.Container, host_if: str) -> None:
    netct.attach_interface(host_if, "inside0")
    assert "inside0" in netct.interfaces()
    assert "inside0" in netct.stats().interfaces
    netct.detach_interface("inside0", host_if)
    assert _host_has(host_if)


def test_attach_missing_interface(netct: lxcpy.Container) -> None:
    with pytest.raises(lxcpy.NetworkError) as e:
        netct.attach_interface("lxcpynone0")
    assert "lxcpynone0" in str(e.value)
    with pytest.raises(lxcpy.NetworkError):
        netct.detach_interface("lxcpynone0")


def test_network_refuses_bad_names(netct: lxcpy.Container) -> None:
    for bad, exc in [
        ("", ValueError),
        ("a b", ValueError),
        ("x" * 16, ValueError),
        ("a\0", ValueError),
        (5, TypeError),
        ("..", ValueError),
    ]:
        with pytest.raises(exc):
            netct.attach_interface(bad)  # type: ignore[arg-type]
        with pytest.raises(exc):
            netct.detach_interface(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        netct.attach_interface("lo", "bad/name")


def test_network_not_running(container: lxcpy.Container) -> None:
    for call in (
        container.interfaces,
        container.ips,
        lambda: container.attach_interface("lxcpytest0"),
        lambda: container.detach_interface("eth0"),
    ):
        with pytest.raises(lxcpy.NotRunningError):
            call()


def test_network_not_defined(lxcpath: str) -> None:
    with lxcpy.Container("ghost", lxcpath) as c:
        with pytest.raises(lxcpy.NotDefinedError):
            c.interfaces()
        with pytest.raises(lxcpy.NotDefinedError):
            c.ips()
        with pytest.raises(lxcpy.NotDefinedError):
            c.attach_interface("lxcpytest0")
    assert os.listdir(lxcpath) == []

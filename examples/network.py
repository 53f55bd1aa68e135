"""A container with a veth (no host bridge) and a static TEST-NET-1
address; list its interfaces and addresses, and move a host interface in
and back out. No traffic leaves the machine.

Run as root: python3 examples/network.py
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile

import lxcpy

HOST_IF = "lxcpyex0"


def _host_has(name: str) -> bool:
    try:
        socket.if_nametoindex(name)
    except OSError:
        return False
    return True


def main() -> None:
    lxcpath = tempfile.mkdtemp(prefix="lxcpy-example-")
    # a dummy interface, or a veth pair where the kernel has no dummy driver
    if subprocess.run(
        ["ip", "link", "add", HOST_IF, "type", "dummy"], capture_output=True
    ).returncode:
        subprocess.run(
            ["ip", "link", "add", HOST_IF, "type", "veth", "peer", "name", HOST_IF + "p"],
            check=True,
        )
    try:
        with lxcpy.Container("networked", lxcpath) as c:
            c.create(
                "busybox",
                config={
                    "lxc.net.0.type": "veth",
                    "lxc.net.0.name": "eth0",
                    "lxc.net.0.flags": "up",
                    "lxc.net.0.ipv4.address": "192.0.2.20/24",
                },
            )
            try:
                # sleep as init: busybox's rcS would run a DHCP client
                c.start(cmd=["/bin/sleep", "3600"])
                print("interfaces:", c.interfaces())
                print("eth0 IPv4:", c.ips("eth0", "inet"))
                c.attach_interface(HOST_IF, "moved0")
                print("after attach:", c.interfaces())
                c.detach_interface("moved0", HOST_IF)
                print("after detach:", c.interfaces(), "host has it again:", _host_has(HOST_IF))
                c.stop()
            finally:
                if c.running:
                    c.stop()
                c.destroy()
    finally:
        for name in (HOST_IF, HOST_IF + "p"):
            if _host_has(name):
                subprocess.run(["ip", "link", "del", name], capture_output=True)
        shutil.rmtree(lxcpath, ignore_errors=True)


if __name__ == "__main__":
    main()

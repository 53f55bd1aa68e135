"""A running container's network interfaces: list them, read their
addresses, move host interfaces in and out."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from lxcpy import _ffi, _validate
from lxcpy.errors import NetworkError

if TYPE_CHECKING:
    from lxcpy.container import Container

__all__ = ["attach_interface", "detach_interface", "interface_name", "interfaces", "ips"]

_IFNAMSIZ = 16
_FAMILIES = {"inet": "inet", "inet6": "inet6", socket.AF_INET: "inet", socket.AF_INET6: "inet6"}


def interface_name(value: object, what: str = "interface name") -> str:
    """A Linux network device name: 1-15 bytes, not '.'/'..', no '/', ':'
    or whitespace (the kernel's dev_valid_name)."""
    name = _validate.text(value, what)
    if name in ("", ".", "..") or len(name.encode()) >= _IFNAMSIZ:
        raise ValueError(f"invalid {what}: {name!r}")
    if any(ch == "/" or ch == ":" or ch.isspace() for ch in name):
        raise ValueError(f"invalid {what} (no '/', ':' or whitespace): {name!r}")
    return name


def interfaces(c: Container) -> list[str]:
    c._need_running("interfaces")
    with c._op("interfaces", NetworkError) as o:
        names = _ffi.get_interfaces(c._handle())
        if names is None:
            o.fail("liblxc could not list the container's interfaces")
    return sorted(names)


def ips(c: Container, interface: str | None, family: str | int | None, scope: int) -> list[str]:
    iface = None if interface is None else interface_name(interface)
    fam: str | None = None
    if family is not None:
        if isinstance(family, bool) or family not in _FAMILIES:
            raise ValueError(f"family must be 'inet', 'inet6', AF_INET or AF_INET6: {family!r}")
        fam = _FAMILIES[family]
    if isinstance(scope, bool) or not isinstance(scope, int):
        raise TypeError(f"scope must be int, not {type(scope).__name__}")
    if not 0 <= scope < 1 << 32:
        raise ValueError(f"scope must be an unsigned 32-bit number: {scope!r}")
    c._need_running("ips")
    with c._op("ips", NetworkError):
        # liblxc returns NULL both for "no address" and for a failure it has
        # logged; with the container running, that means no address.
        found = _ffi.get_ips(c._handle(), iface, fam, scope)
    return found or []


def _host_has(dev: str) -> bool:
    try:
        socket.if_nametoindex(dev)
    except OSError:
        return False
    return True


def attach_interface(c: Container, dev: str, dst: str | None) -> None:
    d = interface_name(dev, "dev")
    t = None if dst is None else interface_name(dst, "dst")
    c._need_running("attach_interface")
    with c._op("attach_interface", NetworkError) as o:
        if not _host_has(d):
            o.fail(f"the host has no interface {d!r}")
        if not _ffi.attach_interface(c._handle(), d, t):
            o.fail(f"liblxc could not move {d!r} into the container")


def detach_interface(c: Container, dev: str, dst: str | None) -> None:
    d = interface_name(dev, "dev")
    t = None if dst is None else interface_name(dst, "dst")
    c._need_running("detach_interface")
    with c._op("detach_interface", NetworkError) as o:
        if d not in (_ffi.get_interfaces(c._handle()) or []):
            o.fail(f"the container has no interface {d!r}")
        if not _ffi.detach_interface(c._handle(), d, t):
            o.fail(f"liblxc could not move {d!r} out of the container")

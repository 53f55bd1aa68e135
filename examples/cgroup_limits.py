"""Set live cgroup limits on a running container and read them back.

Run as root: python3 examples/cgroup_limits.py
"""

from __future__ import annotations

import tempfile

import lxcpy


def main() -> None:
    with (
        tempfile.TemporaryDirectory(prefix="lxcpy-example-") as lxcpath,
        lxcpy.ephemeral("busybox", config={"lxc.net.0.type": "empty"}, lxcpath=lxcpath) as c,
    ):
        layout = lxcpy.cgroup_layout()
        v = layout.version("memory")
        mem = {1: "memory.limit_in_bytes", 2: "memory.max"}.get(v or 0)
        if mem:
            c.cgroup[mem] = str(128 << 20)
            print(f"memory limit (cgroup v{v}, {mem}):", c.cgroup[mem])
        if layout.version("pids"):
            c.cgroup["pids.max"] = "64"
            print("pids.max:", c.cgroup["pids.max"])
        try:
            c.cgroup["memory.no_such_file"]
        except lxcpy.CgroupError as e:
            print("as expected:", e.message)


if __name__ == "__main__":
    main()

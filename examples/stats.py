"""Print a running container's resource statistics.

Run as root: python3 examples/stats.py
"""

from __future__ import annotations

import tempfile

import lxcpy


def main() -> None:
    with (
        tempfile.TemporaryDirectory(prefix="lxcpy-example-") as lxcpath,
        lxcpy.ephemeral("busybox", config={"lxc.net.0.type": "empty"}, lxcpath=lxcpath) as c,
    ):
        s = c.stats()
        print(f"cgroup version (memory): {s.cgroup_version}")
        print(f"memory usage: {s.memory_usage} bytes, limit: {s.memory_limit}")
        print(f"cpu time: {s.cpu_time} s")
        print(f"pids: {s.pids}")
        print(f"block I/O: read {s.blkio_read_bytes}, written {s.blkio_write_bytes}")
        for name, io in sorted(s.interfaces.items()):
            print(f"interface {name}: rx {io.rx_bytes} tx {io.tx_bytes}")


if __name__ == "__main__":
    main()

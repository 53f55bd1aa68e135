"""Snapshot a container, change it, restore the snapshot.

Run as root (needs rsync for a directory-backed container):
python3 examples/snapshots.py
"""

from __future__ import annotations

import os
import shutil
import tempfile

import lxcpy


def main() -> None:
    lxcpath = tempfile.mkdtemp(prefix="lxcpy-example-")
    try:
        with lxcpy.Container("snapped", lxcpath) as c:
            c.create("busybox", config={"lxc.net.0.type": "empty"})
            try:
                rootfs = c.config["lxc.rootfs.path"].split(":", 1)[-1]
                name = c.snapshot("pristine busybox")
                print("took", name)
                with open(os.path.join(rootfs, "etc", "motd"), "w") as f:
                    f.write("changed after the snapshot\n")
                for s in c.snapshots():
                    print(f"{s.name}: {s.comment!r} at {s.timestamp}")
                c.restore_snapshot(name).close()  # over the container itself
                print(
                    "motd after restore exists:",
                    os.path.exists(os.path.join(rootfs, "etc", "motd")),
                )
            finally:
                c.destroy(snapshots=True)
    finally:
        shutil.rmtree(lxcpath, ignore_errors=True)


if __name__ == "__main__":
    main()

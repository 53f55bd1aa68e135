"""Clone a container: a full copy and an overlay snapshot clone.

Run as root: python3 examples/clone.py
"""

from __future__ import annotations

import shutil
import tempfile

import lxcpy


def main() -> None:
    lxcpath = tempfile.mkdtemp(prefix="lxcpy-example-")
    try:
        with lxcpy.Container("original", lxcpath) as c:
            c.create("busybox", config={"lxc.net.0.type": "empty"})
            with c.clone("copy") as copy, c.clone("cow", snapshot=True) as cow:
                print("copy rootfs:", copy.config["lxc.rootfs.path"])
                print("cow rootfs:", cow.config["lxc.rootfs.path"])
                with cow.started():
                    print("cow is", cow.state.value, "with init pid", cow.init_pid)
                print(lxcpy.list_containers(lxcpath))
                cow.destroy()
                copy.destroy()
            c.destroy()
    finally:
        shutil.rmtree(lxcpath, ignore_errors=True)


if __name__ == "__main__":
    main()

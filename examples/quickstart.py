"""Quickstart: create a busybox container in a temporary lxcpath, start it,
run commands in it, stop it and destroy it.
Run as root: python3 examples/quickstart.py
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile

import lxcpy


def main() -> None:
    print(f"liblxc {lxcpy.lxc_version()}, lxcpy {lxcpy.__version__}")
    lxcpath = tempfile.mkdtemp(prefix="lxcpy-quickstart-")
    try:
        with lxcpy.Container("demo", lxcpath) as c:
            # No bridge needed: a container with only a loopback interface.
            c.create("busybox", config={"lxc.net.0.type": "empty"})
            print(f"created {c.name!r} in {c.lxcpath}: {c.state}")
            try:
                c.start()
                print(f"started: state={c.state}, init pid={c.init_pid}")
                print(f"containers here: {lxcpy.list_containers(lxcpath)}")

                r = c.run(["uname", "-n"], capture_output=True, text=True)
                print(f"hostname inside: {r.stdout.strip()} (exit {r.returncode})")
                r = c.run(
                    ["sh", "-c", "echo $((6 * 7)); ls /bin | wc -l"],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                answer, tools = r.stdout.split()
                print(f"computed inside: {answer}; busybox tools in /bin: {tools}")
                try:
                    c.run(["sh", "-c", "exit 3"], check=True)
                except subprocess.CalledProcessError as e:
                    print(f"a failing command raises CalledProcessError (exit {e.returncode})")
                with c.popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE) as p:
                    out, _ = p.communicate(b"through a pipe and back")
                print(f"popen + communicate: {out.decode()}")

                c.stop()
                print(f"stopped: state={c.state}")
            finally:
                if c.running:
                    c.stop()
                c.destroy()
                print(f"destroyed: defined={c.defined}")
    finally:
        shutil.rmtree(lxcpath, ignore_errors=True)


if __name__ == "__main__":
    main()

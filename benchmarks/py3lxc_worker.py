"""python3-lxc's attach_wait, as a benchmark worker (run by the system
/usr/bin/python3, where Debian's python3-lxc lives). Same protocol as
raw_attach.c: "<workload> <n>" in, n durations (ns) out."""

import os
import sys
import threading
import time

import lxc

ARGV = {
    "true": ["/bin/true"],
    "echo": ["echo", "hi"],
    "mib": ["head", "-c", "1048576", "/dev/zero"],
}


def drain(fd, out):
    chunks = []
    while True:
        data = os.read(fd, 1 << 20)
        if not data:
            break
        chunks.append(data)
    out.append(b"".join(chunks))


def once(c, what):
    argv = ARGV[what]
    if what == "true":
        return c.attach_wait(lxc.attach_run_command, argv)
    # attach_wait blocks until the program exits: without a reader thread a
    # program writing more than a pipe holds would hang.
    r, w = os.pipe()
    out = []
    t = threading.Thread(target=drain, args=(r, out))
    t.start()
    with os.fdopen(w, "wb", buffering=0) as wf:
        status = c.attach_wait(lxc.attach_run_command, argv, stdout=wf)
    t.join()
    os.close(r)
    return status


def main():
    c = lxc.Container(sys.argv[1], sys.argv[2])
    for line in sys.stdin:
        what, n = line.split()
        times = []
        for _ in range(int(n)):
            t = time.perf_counter_ns()
            if once(c, what) != 0:
                sys.exit(3)
            times.append(time.perf_counter_ns() - t)
        print(" ".join(map(str, times)), flush=True)


if __name__ == "__main__":
    main()

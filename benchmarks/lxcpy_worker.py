"""lxcpy's run(), as a benchmark worker in a process of its own (like the
other contenders: liblxc forks the calling process, so its size counts).
Same protocol as raw_attach.c: "<workload> <n>" in, n durations (ns) out.

    lxcpy_worker.py NAME LXCPATH [HEAP_MIB]

With HEAP_MIB, the worker first allocates that much memory and touches
every page of it (a large caller: liblxc's forks copy its page tables)."""

import sys
import time

import lxcpy

ARGV = {
    "true": ["/bin/true"],
    "echo": ["echo", "hi"],
    "mib": ["head", "-c", "1048576", "/dev/zero"],
}


def main() -> None:
    heap = bytearray()
    if len(sys.argv) > 3:
        heap = bytearray(int(sys.argv[3]) << 20)
        heap[::4096] = b"\1" * len(range(0, len(heap), 4096))
    c = lxcpy.Container(sys.argv[1], sys.argv[2])
    for line in sys.stdin:
        what, n = line.split()
        argv, capture = ARGV[what], what != "true"
        times = []
        for _ in range(int(n)):
            t = time.perf_counter_ns()
            c.run(argv, capture_output=capture, check=True)
            times.append(time.perf_counter_ns() - t)
        print(" ".join(map(str, times)), flush=True)
    del heap


if __name__ == "__main__":
    main()

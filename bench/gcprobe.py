"""Run ``tryvoga`` with every garbage collection timed: what the fan-out bench's storm case
reads to say whether the collector stalls publishes.

    python bench/gcprobe.py LOG -m tryvoga.cli serve ...

Appends one line per collection to ``LOG``: ``<unix start> <generation> <ms> <collected>
<CPU ms>`` (wall and the thread's CPU time: on a loaded machine the two differ).
The lines are written by a thread every half second, so the probe's own writing does not fall
inside a measured publish. Only the benchmark uses this; the server itself is unchanged.
"""

from __future__ import annotations

import gc
import runpy
import sys
import threading
import time
from typing import Any


def main() -> None:
    log_path = sys.argv[1]
    if sys.argv[2:3] != ["-m"] or len(sys.argv) < 4:
        raise SystemExit(__doc__)
    module = sys.argv[3]
    lines: list[str] = []
    started = [0.0, 0.0]

    def callback(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[:] = time.perf_counter(), time.thread_time()
            return
        took = (time.perf_counter() - started[0]) * 1000
        cpu = (time.thread_time() - started[1]) * 1000
        lines.append(f"{time.time() - took / 1000:.6f} {info['generation']} {took:.3f} "
                     f"{info['collected']} {cpu:.3f}\n")

    def flush() -> None:
        with open(log_path, "a") as out:
            while True:
                time.sleep(0.5)
                while lines:
                    out.write(lines.pop(0))
                out.flush()

    gc.callbacks.append(callback)
    threading.Thread(target=flush, daemon=True).start()
    sys.argv = [module, *sys.argv[4:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


def read(path: str, since: float = 0.0, until: float = float("inf")) -> list[tuple[float, int,
                                                                                  float]]:
    """(start, generation, ms) of the collections logged between ``since`` and ``until``."""
    out = []
    try:
        with open(path) as log:
            for line in log:
                fields = line.split()
                if len(fields) >= 3 and since <= float(fields[0]) <= until:
                    out.append((float(fields[0]), int(fields[1]), float(fields[2])))
    except FileNotFoundError:
        pass
    return out


if __name__ == "__main__":
    main()

"""Run every benchmark and write the figures into bench/RESULTS.md (between the markers).

    python bench/run.py              # the full run: polled reads, fan-out 1k/5k/10k, wake-ups
    python bench/run.py --quick      # a small smoke run (1,000 subscribers, short wrk runs)

Only 127.0.0.0/8 is used. Every case is bounded in count and time.

A full run also keeps its figures in ``bench/runs/`` (the newest ``KEEP_RUNS``), and the table
of the issue's targets between the ``targets`` markers is judged over all of those runs
(``bench/targets.py``): one run on a shared two-core machine proves little.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fanout
import polled
import targets
from common import BENCH, raise_open_files, round_ratios, write_section
from targets import RUNS

START = "<!-- results -->"
END = "<!-- /results -->"
KEEP_RUNS = 3
# Publishes per fan-out case: with 40, the "p99" of the last receipt was the slowest single
# publish; with 100 it is the second slowest, a figure one stray scheduling hiccup on the two
# shared cores does not set alone.
PUBLISHES = 100


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b else "n/a"


def _spread(values: list[float]) -> str:
    ordered = sorted(values)
    return f"{statistics.median(ordered):.2f}× ({ordered[0]:.2f}–{ordered[-1]:.2f})"


MINIMAL = (("aiohttp", "minimal uvloop"), ("uvicorn", "minimal uvicorn"),
           ("granian", "minimal granian"))


def polled_table(rows: list[dict[str, Any]]) -> str:
    """Three tables: Tryvoga against nginx (the targets), against the minimal apps, and what
    each server costs per request, as a multiple of nginx's CPU."""
    by = {(r["server"], r["path"], r["status"]): r for r in rows}
    reads = [(path, status) for path in polled.PATHS for status in (200, 304)]
    nginx = ["| read | Tryvoga req/s | nginx req/s | **Tryvoga / nginx req/s**, median (range "
             "of rounds) | CPU µs/req: Tryvoga · nginx | **Tryvoga / nginx CPU**, median "
             "(range of rounds) |", "|---|---|---|---|---|---|"]
    minimal = ["| read | " + " | ".join(f"minimal {n} req/s | **Tryvoga / minimal {n} "
                                         "req/s**" for n, _ in MINIMAL) + " |",
               "|---|" + "---|---|" * len(MINIMAL)]
    costs = ["| read | Tryvoga | Tryvoga, `--fast-reads false` | Tryvoga, `--event-loop "
             "asyncio` | " + " | ".join(f"minimal {n}" for n, _ in MINIMAL) + " |",
             "|---|---|---|---|" + "---|" * len(MINIMAL)]
    for path, status in reads:
        t, n = by[("tryvoga", path, status)], by[("nginx", path, status)]
        label = f"`{path}` {status}"
        nginx.append(
            f"| {label} | {t['rps']:,.0f} | {n['rps']:,.0f} | "
            f"**{_spread(round_ratios(t, n, 'rounds_rps'))}** | "
            f"{t['cpu_us_per_request']:.1f} · {n['cpu_us_per_request']:.1f} | "
            f"**{_spread(round_ratios(t, n, 'rounds_cpu'))}** |")
        cells = []
        for _, server in MINIMAL:
            m = by[(server, path, status)]
            cells.append(f"{m['rps']:,.0f} | **{_spread(round_ratios(t, m, 'rounds_rps'))}**")
        minimal.append(f"| {label} | " + " | ".join(cells) + " |")
        servers = ["tryvoga", "tryvoga aiohttp", "tryvoga asyncio",
                   *(server for _, server in MINIMAL)]
        costs.append(f"| {label} | " + " | ".join(
            f"{by[(s_, path, status)]['cpu_us_per_request']:.1f} µs, "
            f"{_spread(round_ratios(by[(s_, path, status)], n, 'rounds_cpu'))}"
            for s_ in servers) + " |")
    return "\n\n".join([
        "\n".join(nginx),
        "Against the minimal apps that only return the bytes (same rounds):",
        "\n".join(minimal),
        "Server CPU per request, and as a multiple of nginx's (median, range of rounds):",
        "\n".join(costs)])


def fanout_table(rows: list[dict[str, Any]]) -> str:
    out = ["| format | subscribers | server | received | last receipt after response, "
           "p50 / p99 / max (ms) | last receipt after request start, p50 / p99 (ms) | "
           "last read after response read, p50 / p99 (ms) | server CPU per publish (ms) | "
           "load clients' CPU per publish (ms) | memory per idle connection (KiB) | "
           "connect all (s) | reconnect all (s) |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        expected = r["connected"] * r["publishes"]
        out.append(
            f"| {r['format']} | {r['subscribers']:,} | {r['target']} | "
            f"{expected - r['missing']:,}/{expected:,} | "
            f"{r['last_ms_p50']:.2f} / {r['last_ms_p99']:.2f} / {r['last_ms_max']:.2f} | "
            f"{r['last_from_request_ms_p50']:.1f} / {r['last_from_request_ms_p99']:.1f} | "
            f"{r['last_read_ms_p50']:.1f} / {r['last_read_ms_p99']:.1f} | "
            f"{r['cpu_ms_per_publish']:.1f} | {r['client_cpu_ms_per_publish']:.1f} | "
            f"{r['kib_per_connection']:.1f} | {r['connect_s']:.2f} | {r['reconnect_s']:.2f} |")
    return "\n".join(out)


def ratio_table(rows: list[dict[str, Any]]) -> str:
    pairs: dict[tuple[str, int], dict[str, dict[str, Any]]] = {}
    for r in rows:
        pairs.setdefault((r["format"], r["subscribers"]), {})[r["target"]] = r
    out = ["| format | subscribers | last receipt p99 after response, Tryvoga − nchan (ms) | "
           "after request start, p50 · p99 | CPU per publish | memory per connection "
           "(Tryvoga KiB) | reconnect all |",
           "|---|---|---|---|---|---|---|"]
    for (fmt, count), pair in pairs.items():
        t, n = pair.get("tryvoga"), pair.get("nchan")
        if t is None or n is None:
            continue
        out.append(
            f"| {fmt} | {count:,} | {t['last_ms_p99']:.2f} − ({n['last_ms_p99']:.2f}) = "
            f"{t['last_ms_p99'] - n['last_ms_p99']:+.2f} | "
            f"{ratio(t['last_from_request_ms_p50'], n['last_from_request_ms_p50'])} · "
            f"{ratio(t['last_from_request_ms_p99'], n['last_from_request_ms_p99'])} | "
            f"{ratio(t['cpu_ms_per_publish'], n['cpu_ms_per_publish'])} | "
            f"{t['kib_per_connection']:.1f} | {ratio(t['reconnect_s'], n['reconnect_s'])} |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    limit = raise_open_files()
    sizes = (1000,) if args.quick else (1000, 5000, 10000)
    if max(sizes) + 200 > limit:
        raise SystemExit(f"open-files limit {limit} is too low for {max(sizes)} subscribers")
    started = time.time()
    load = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="tryvoga-bench-"))
    print(f"benchmarks in {work}; open-files limit {limit}", flush=True)
    print("polled reads ...", flush=True)
    polled_rows = polled.run(work / "polled", 2 if args.quick else 4, 1 if args.quick else 3)
    rows: list[dict[str, Any]] = []
    case = 0
    for count in sizes:
        for fmt in ("sse", "ws"):
            for target in ("tryvoga", "nchan"):
                case += 1
                print(f"fan-out: {target} {fmt} {count:,} subscribers ...", flush=True)
                rows.append(fanout.run_case(target, fmt, count, 10 if args.quick else PUBLISHES,
                                            work / f"fanout-{case}", case))
                print("   ", json.dumps({k: round(v, 2) if isinstance(v, float) else v
                                         for k, v in rows[-1].items() if k != "samples"}),
                      flush=True)
    print("wake-up between two workers ...", flush=True)
    wake = fanout.wake_latency(work / "wake")
    figures = json.dumps({"polled": polled_rows, "fanout": rows, "wake": wake}, indent=1)
    (BENCH / "results.json").write_text(figures)
    if not args.quick:
        keep_run(figures, started)
    machine = f"{platform.node()}: {platform.processor() or platform.machine()}, " \
              f"{platform.python_version()}"
    text = "\n\n".join([
        f"Run `{' '.join(['python', 'bench/run.py', *sys.argv[1:]])}` (via `make bench`) on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))}, {machine}; took "
        f"{time.time() - started:.0f} s; load average {load:.2f} at the start (other work on "
        "the machine takes its share). Raw figures: `bench/results.json`.",
        "### Polled reads (wrk, 1 thread, 64 connections; "
        f"{'1 round of 2 s' if args.quick else '3 interleaved rounds of 4 s'} per server and "
        "row)",
        polled_table(polled_rows),
        "wrk commands: " + "; ".join(sorted({f"`{r['command']}`" for r in polled_rows
                                              if r["server"] == "tryvoga"})),
        "### Fan-out",
        fanout_table(rows),
        "### Fan-out ratios, Tryvoga / nchan",
        ratio_table(rows),
        "### Two workers on one database",
        f"{wake['publishes']} declarations through one worker, one SSE subscriber on each "
        f"worker; time from the declaration's response to each subscriber's receipt: earlier "
        f"subscriber p50 {wake['first_ms_p50']:.2f} ms; later subscriber p50 "
        f"{wake['second_ms_p50']:.2f} ms, p99 {wake['second_ms_p99']:.2f} ms, max "
        f"{wake['second_ms_max']:.2f} ms (poll interval 50 ms as the fallback).",
    ])
    write_section(START, END, text, "## Polled reads, fan-out and wake-ups")
    if not args.quick:
        write_section(targets.START, targets.END, targets.section(), "## Targets")
    print(f"written to {BENCH / 'RESULTS.md'}", flush=True)


def keep_run(figures: str, started: float) -> None:
    """Keep a full run's figures in ``RUNS`` under its start time; drop all but the newest
    ``KEEP_RUNS``."""
    RUNS.mkdir(exist_ok=True)
    (RUNS / time.strftime("%Y-%m-%dT%H%M%SZ.json", time.gmtime(started))).write_text(figures)
    for old in sorted(RUNS.glob("*.json"))[:-KEEP_RUNS]:
        old.unlink()


if __name__ == "__main__":
    main()

"""Run every benchmark and write the figures into bench/RESULTS.md (between the markers).

    python bench/run.py              # the full run: polled reads, fan-out 1k/5k/10k, the
                                     # reconnect storm at 10k, wake-ups
    python bench/run.py --quick      # a small smoke run (1,000 subscribers, short wrk runs)
    python bench/run.py --scale 100000   # fan-out alone at 100,000 subscribers (make bench-100k)

Every case's scale is an argument (``--help``); a run with other than the defaults is a smoke
run: its figures are printed and written to ``bench/results.json`` but not kept in
``bench/runs/`` or judged.

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
from targets import RUNS, SCALE_RUNS

START = "<!-- results -->"
END = "<!-- /results -->"
SCALE_START = "<!-- scale -->"
SCALE_END = "<!-- /scale -->"
KEEP_RUNS = 3
# 2: tuned nginx, the façade and ?region= reads, the storm case (targets.py judges the new
# targets only over runs of this version)
RUN_VERSION = 2
# Publishes per fan-out case: with 40, the "p99" of the last receipt was the slowest single
# publish; with 100 it is the second slowest, a figure one stray scheduling hiccup on the two
# shared cores does not set alone.
PUBLISHES = 100
# Publishes per case at --scale: as many up to SCALE_FULL subscribers (a publish takes about a
# quarter of a second at 18,000); above, each takes a second or more of the two cores, and 30
# (whose "p99" is the slowest one) keeps a run at 100,000 within its half hour.
SCALE_PUBLISHES = 30
SCALE_FULL = 25_000


def scale_publishes(count: int) -> int:
    return PUBLISHES if count <= SCALE_FULL else SCALE_PUBLISHES


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
    facade = ["| read | Tryvoga req/s | **Tryvoga / nginx req/s** | CPU µs/req: Tryvoga · "
              "nginx | **Tryvoga / nginx CPU** | Tryvoga, `--fast-reads false`: CPU µs/req, × "
              "nginx's |", "|---|---|---|---|---|---|"]
    for label, _, _ in polled.FACADE:
        for status in (200, 304):
            if ("tryvoga", label, status) not in by:
                continue
            t, n = by[("tryvoga", label, status)], by[("nginx", label, status)]
            a = by[("tryvoga aiohttp", label, status)]
            facade.append(
                f"| `{label}` {status} | {t['rps']:,.0f} | "
                f"**{_spread(round_ratios(t, n, 'rounds_rps'))}** | "
                f"{t['cpu_us_per_request']:.1f} · {n['cpu_us_per_request']:.1f} | "
                f"**{_spread(round_ratios(t, n, 'rounds_cpu'))}** | "
                f"{a['cpu_us_per_request']:.1f} µs, {_spread(round_ratios(a, n, 'rounds_cpu'))} "
                "|")
    return "\n\n".join([
        "\n".join(nginx),
        "The façades' reads with a token and the native read of one region (nginx serves "
        "the same bytes as static files and checks no token; same rounds):",
        "\n".join(facade),
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
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--scale", type=int, default=0, metavar="N",
                        help="only the fan-out at N subscribers (SSE and WebSocket, Tryvoga "
                             "and nchan): the 100,000 mode, kept in bench/runs-scale/")
    parser.add_argument("--sizes", default="1000,5000,10000",
                        help="fan-out subscriber counts (default %(default)s)")
    parser.add_argument("--publishes", type=int, default=0,
                        help=f"publishes per fan-out case (default {PUBLISHES}; with "
                             f"--scale, {SCALE_PUBLISHES} above {SCALE_FULL:,} subscribers)")
    parser.add_argument("--formats", default="sse,ws",
                        help="stream formats with --scale (default %(default)s)")
    parser.add_argument("--storm", type=int, default=10000, metavar="N",
                        help="subscribers of the reconnect-storm case (0: none; default "
                             "%(default)s)")
    parser.add_argument("--storm-after", type=int, default=20,
                        help="publishes right after the storm (default %(default)s)")
    parser.add_argument("--seconds", type=int, default=4,
                        help="seconds of wrk per polled read and server (default %(default)s)")
    parser.add_argument("--facade-seconds", type=int, default=3,
                        help="the same for the façade and ?region= reads (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved rounds of the polled reads (default %(default)s)")
    args = parser.parse_args()
    if args.scale:
        return scale_run(args.scale, args.publishes or scale_publishes(args.scale),
                         tuple(args.formats.split(",")))
    sizes = tuple(int(n) for n in args.sizes.split(",") if n)
    storm = args.storm
    if args.quick:
        sizes, storm = (1000,), min(storm, 1000)
        args.seconds, args.facade_seconds, args.rounds = 2, 1, 1
    standard = (not args.quick and sizes == (1000, 5000, 10000) and storm == 10000
                and args.publishes in (0, PUBLISHES) and args.storm_after == 20
                and (args.seconds, args.facade_seconds, args.rounds) == (4, 3, 3))
    publishes = args.publishes or (10 if args.quick else PUBLISHES)
    limit = raise_open_files(max(*sizes, storm) + 1000)
    if max(*sizes, storm) + 200 > limit:
        raise SystemExit(f"open-files limit {limit} is too low for {max(sizes)} subscribers")
    started = time.time()
    load = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="tryvoga-bench-"))
    print(f"benchmarks in {work}; open-files limit {limit}", flush=True)
    print("polled reads ...", flush=True)
    polled_rows = polled.run(work / "polled", args.seconds, args.rounds, args.facade_seconds)
    rows: list[dict[str, Any]] = []
    case = 0
    for count in sizes:
        for fmt in ("sse", "ws"):
            for target in ("tryvoga", "nchan"):
                case += 1
                print(f"fan-out: {target} {fmt} {count:,} subscribers ...", flush=True)
                rows.append(fanout.run_case(target, fmt, count, publishes,
                                            work / f"fanout-{case}", case))
                _show(rows[-1])
    storms: list[dict[str, Any]] = []
    for fmt in ("sse", "ws") if storm else ():
        for target in ("tryvoga", "nchan"):
            case += 1
            print(f"reconnect storm: {target} {fmt} {storm:,} subscribers ...", flush=True)
            storms.append(fanout.storm_case(target, fmt, storm, args.storm_after,
                                            work / f"storm-{case}", case))
            _show(storms[-1])
    print("wake-up between two workers ...", flush=True)
    wake = fanout.wake_latency(work / "wake")
    figures = json.dumps({"version": RUN_VERSION, "polled": polled_rows, "fanout": rows,
                          "storm": storms, "wake": wake}, indent=1)
    (BENCH / "results.json").write_text(figures)
    if standard:
        keep_run(figures, started)
    else:
        print("not the standard run: its figures are not kept or judged", flush=True)
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
        "### Publishing during and right after a reconnect storm",
        storm_table(storms),
        "### Two workers on one database",
        f"{wake['publishes']} declarations through one worker, one SSE subscriber on each "
        f"worker; time from the declaration's response to each subscriber's receipt: earlier "
        f"subscriber p50 {wake['first_ms_p50']:.2f} ms; later subscriber p50 "
        f"{wake['second_ms_p50']:.2f} ms, p99 {wake['second_ms_p99']:.2f} ms, max "
        f"{wake['second_ms_max']:.2f} ms (poll interval 50 ms as the fallback).",
    ])
    write_section(START, END, text, "## Polled reads, fan-out and wake-ups")
    if standard:
        write_section(targets.START, targets.END, targets.section(), "## Targets")
    print(f"written to {BENCH / 'RESULTS.md'}", flush=True)


def keep_run(figures: str, started: float, runs: Path = RUNS) -> None:
    """Keep a full run's figures in ``runs`` under its start time; drop all but the newest
    ``KEEP_RUNS``."""
    runs.mkdir(exist_ok=True)
    (runs / time.strftime("%Y-%m-%dT%H%M%SZ.json", time.gmtime(started))).write_text(figures)
    for old in sorted(runs.glob("*.json"))[:-KEEP_RUNS]:
        old.unlink()


def _show(row: dict[str, Any]) -> None:
    print("   ", json.dumps({k: round(v, 2) if isinstance(v, float) else v
                             for k, v in row.items() if k != "samples"}), flush=True)


def storm_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "Not run (`--storm 0`)."
    out = ["| format | subscribers | server | reconnect all (s) | publishes during: answer "
           "p50 / p99 / max (ms) | right after: last receipt from request start p50 / p99 / "
           "max (ms) | missed after | full collections during · after (longest, ms) |",
           "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        gc = r["gc"]
        collections = "—" if gc is None else (
            f"{gc['storm_full']} ({gc['storm_max_ms']:.0f}) · "
            f"{gc['after_full']} ({gc['after_max_ms']:.0f})")
        out.append(
            f"| {r['format']} | {r['subscribers']:,} | {r['target']} | {r['storm_s']:.2f} | "
            f"{r['publishes_during']}: {r['during_answer_ms_p50']:.1f} / "
            f"{r['during_answer_ms_p99']:.1f} / {r['during_answer_ms_max']:.1f} | "
            f"{r['publishes_after']}: {r['after_last_ms_p50']:.1f} / "
            f"{r['after_last_ms_p99']:.1f} / {r['after_last_ms_max']:.1f} | "
            f"{r['missing_after']} | {collections} |")
    return "\n".join(out)


def scale_table(rows: list[dict[str, Any]]) -> str:
    out = ["| format | server | asked | connected (errors) | reconnected | last receipt from "
           "request start p50 / p99 (ms) | after response p99 (ms) | CPU per publish (ms) | "
           "KiB per idle connection | machine memory in use, connected (MiB; added) | connect "
           "all (s) | reconnect all (s) |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(
            f"| {r['format']} | {r['target']} | {r['subscribers']:,} | {r['connected']:,} "
            f"({r['connect_errors']}) | {r['reconnected']:,} | "
            f"{r['last_from_request_ms_p50']:.1f} / {r['last_from_request_ms_p99']:.1f} | "
            f"{r['last_ms_p99']:.2f} | {r['cpu_ms_per_publish']:.1f} | "
            f"{r['kib_per_connection']:.1f} | {r['machine_mib_connected']:,.0f} "
            f"({r['machine_mib_added']:+,.0f}) | {r['connect_s']:.1f} | "
            f"{r['reconnect_s']:.1f} |")
    return "\n".join(out)


def scale_run(count: int, publishes: int, formats: tuple[str, ...] = ("sse", "ws")) -> None:
    """The fan-out alone at ``count`` subscribers: SSE and WebSocket, Tryvoga and nchan. If a
    server or the machine holds fewer, the count reached is what is reported."""
    limit = raise_open_files(count + 5000)
    started = time.time()
    load = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="tryvoga-bench-scale-"))
    print(f"fan-out at {count:,} in {work}; open-files limit {limit}", flush=True)
    if count + 200 > limit:
        print(f"the open-files limit {limit} holds fewer than {count:,}: the count reached "
              "is reported", flush=True)
    rows: list[dict[str, Any]] = []
    case = 0
    for fmt in formats:
        for target in ("tryvoga", "nchan"):
            case += 1
            print(f"fan-out: {target} {fmt} {count:,} subscribers ...", flush=True)
            rows.append(fanout.run_case(target, fmt, count, publishes,
                                        work / f"scale-{case}", 200 + case))
            _show(rows[-1])
    figures = json.dumps({"version": RUN_VERSION, "scale": count, "fanout": rows,
                          "machine": {"mem_total_mib": fanout.machine_total_mib(),
                                      "nofile": limit}}, indent=1)
    (BENCH / "results-scale.json").write_text(figures)
    if formats == ("sse", "ws"):
        keep_run(figures, started, SCALE_RUNS)
    short = [r for r in rows if r["connected"] < count or r["reconnected"] < r["connected"]]
    reached = "" if not short else (
        " **Not every case held every subscriber:** " + "; ".join(
            f"{r['target']} {r['format']} connected {r['connected']:,} of {count:,} "
            f"({r['connect_errors']} refused or failed), reconnected {r['reconnected']:,}"
            for r in short) + ". The figures are those of the count reached; connect-all and "
        "reconnect-all are then the time allowed, not the time taken.")
    text = "\n\n".join([
        f"Run `python bench/run.py --scale {count}` (via `make bench-100k`) on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))}, "
        f"{platform.node()}, {fanout.machine_total_mib():,} MiB of memory; took "
        f"{time.time() - started:.0f} s; {publishes} publishes per case; open-files limit "
        f"{limit:,} (each server, and the load clients); load average {load:.2f} at the start. "
        "Raw figures: `bench/results-scale.json`." + reached,
        scale_table(rows),
        "Targets, judged over the newest three such runs (`bench/runs-scale/`):",
        targets.scale_section()])
    write_section(SCALE_START, SCALE_END, text, "## 100,000 subscribers")
    print(f"written to {BENCH / 'RESULTS.md'}", flush=True)


if __name__ == "__main__":
    main()

"""The issue's speed targets, judged over several full runs of ``bench/run.py``.

    python bench/targets.py                      # the runs kept in bench/runs/
    python bench/targets.py run1.json run2.json  # any results.json files a run wrote

``bench/run.py`` keeps each full run's figures in ``bench/runs/`` and writes this table into
bench/RESULTS.md between the targets markers. It lists every target, the range it was measured
in over all the runs, and whether it was met in all of them. A polled read's figure in a run is
the median of its interleaved rounds (each a few seconds of wrk), as the run's own table shows;
the range of the single rounds is shown beside it.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import nodes
from common import BENCH, round_ratios

RUNS = BENCH / "runs"  # bench/run.py keeps its newest full runs here
SCALE_RUNS = BENCH / "runs-scale"  # and its newest runs of --scale (make bench-100k)
START = "<!-- targets -->"
END = "<!-- /targets -->"
READS = [(path, status) for path in ("/api/v1/status", "/api/v1/alerts/active")
         for status in (200, 304)]
MINIMAL = (("aiohttp", "minimal uvloop"), ("uvicorn", "minimal uvicorn"),
           ("granian", "minimal granian"))


def _polled(runs: list[dict[str, Any]], a: str, b: str, key: str,
            reads: list[tuple[str, int]] | None = None, *, facade: bool = False
            ) -> tuple[str, list[float]]:
    """Server ``a``'s figure over ``b``'s for every read of every run (``reads``: the two
    plain reads at 200 and 304; ``facade``: the façade and ``?region=`` reads instead): shown
    as the range of each read's median over its interleaved rounds (what a run measured)
    beside the range of the single rounds, and those medians to judge by."""
    medians: list[float] = []
    rounds: list[float] = []
    for run in runs:
        by = {(r["server"], r["path"], r["status"]): r for r in run["polled"]}
        chosen = reads if reads is not None else READS
        if facade:
            chosen = [(r["path"], r["status"]) for r in run["polled"]
                      if r.get("facade") and r["server"] == a
                      and (reads is None or r["status"] in {s for _, s in reads})]
        for read in chosen:
            ratios = round_ratios(by[(a, *read)], by[(b, *read)], key)
            medians.append(statistics.median(ratios))
            rounds += ratios
    return f"{_span(medians)} (single rounds {_span(rounds)})", medians


def _fanout(runs: list[dict[str, Any]], fmt: str, key: str, *, ratio: bool = True
            ) -> list[float]:
    out = []
    for run in runs:
        rows = {(r["target"], r["format"]): r for r in run["fanout"]
                if r["subscribers"] == 10000}
        t, n = rows[("tryvoga", fmt)], rows[("nchan", fmt)]
        out.append(t[key] / n[key] if ratio else t[key])
    return out


def _span(values: list[float], unit: str = "×") -> str:
    low, high = min(values), max(values)
    return f"{low:.2f}{unit}" if low == high else f"{low:.2f} to {high:.2f}{unit}"


def table(runs: list[dict[str, Any]]) -> str:
    rows: list[tuple[str, str, bool | None]] = []
    # The tuned nginx (open_file_cache, sendfile, tcp_nopush), the façade reads and the
    # storm case came with run version 2: runs before it do not count for those targets.
    current = [run for run in runs if run.get("version", 1) >= 2]
    for status in (200, 304):
        if current:
            shown, cpu = _polled(current, "tryvoga", "nginx", "rounds_cpu",
                                 [(path, status) for path, _ in READS[::2]])
            met: bool | None = max(cpu) <= 1.5
        else:
            shown, met = "—", None
        rows.append((f"polled reads ({status}) ≤ 1.5× tuned nginx's CPU per request",
                     _counted(shown, current, runs), met if len(current) == len(runs) else None))
    for status in (200, 304):
        shown, met = "—", None
        if current:
            shown, cpu = _polled(current, "tryvoga", "nginx", "rounds_cpu",
                                 [("", status)], facade=True)
            met = bool(cpu) and max(cpu) <= 1.5
        rows.append((f"façade and `?region=` reads ({status}) ≤ 1.5× tuned nginx's CPU per "
                     "request", _counted(shown, current, runs),
                     met if len(current) == len(runs) else None))
    shown, rps = _polled(runs, "tryvoga", "nginx", "rounds_rps")
    rows.append(("polled reads ≥ 0.45× nginx's requests/s", shown, min(rps) >= 0.45))
    for name, server in MINIMAL:
        shown, ratio = _polled(runs, "tryvoga", server, "rounds_rps")
        rows.append((f"polled reads ≥ 0.90× the minimal {name} app's requests/s", shown,
                     min(ratio) >= 0.90))
    for fmt in ("sse", "ws"):
        late = _fanout(runs, fmt, "last_from_request_ms_p99")
        after = _fanout(runs, fmt, "last_ms_p99", ratio=False)
        rows.append((f"{fmt} at 10,000: last receipt p99 ≤ 1.3× nchan's (from the request's "
                     "start)", f"{_span(late)}; after the response: {_span(after, ' ms')}",
                     max(late) <= 1.3))
        publish = _fanout(runs, fmt, "cpu_ms_per_publish")
        rows.append((f"{fmt} at 10,000: CPU per publish ≤ 1.5× nchan's", _span(publish),
                     max(publish) <= 1.5))
        memory = _fanout(runs, fmt, "kib_per_connection", ratio=False)
        rows.append((f"{fmt} at 10,000: ≤ 16 KiB per idle connection", _span(memory, " KiB"),
                     max(memory) <= 16))
        reconnect = _fanout(runs, fmt, "reconnect_s")
        rows.append((f"{fmt} at 10,000: reconnect all ≤ 3× nchan's", _span(reconnect),
                     max(reconnect) <= 3))
    for fmt in ("sse", "ws"):
        storms = [_storm(run, fmt) for run in current]
        found = [pair for pair in storms if pair is not None]
        if found:
            after = [t["after_last_ms_p99"] / n["after_last_ms_p99"] for t, n in found]
            during = [t["during_answer_ms_p99"] for t, _ in found]
            during_n = [n["during_answer_ms_p99"] for _, n in found]
            rows.append((f"{fmt} reconnect storm at 10,000: last receipt p99 right after it ≤ "
                         "1.3× nchan's (from the request's start)",
                         _counted(f"{_span(after)}; publishes during it answered in p99 "
                                  f"{_span(during, ' ms')} (nchan {_span(during_n, ' ms')})",
                                  found, runs),
                         max(after) <= 1.3 if len(found) == len(runs) else None))
        else:
            rows.append((f"{fmt} reconnect storm at 10,000: last receipt p99 right after it ≤ "
                         "1.3× nchan's (from the request's start)", "not measured yet", None))
    wake = [run["wake"]["second_ms_p99"] for run in runs]
    rows.append(("two workers: the other worker's subscriber within 100 ms (p99)",
                 _span(wake, " ms"), max(wake) <= 100))
    rows += nodes.target_rows()  # two nodes on PostgreSQL: their own runs (bench/nodes.py)
    return _render(rows, runs)


def _render(rows: list[tuple[str, str, bool | None]], runs: list[Any]) -> str:
    runs_said = "1 run" if len(runs) == 1 else f"{len(runs)} runs"
    out = [f"| target | measured ({runs_said}) | verdict |", "|---|---|---|"]
    out += [f"| {what} | {measured} | "
            f"{'met' if met else '**missed**' if met is False else '**not judged yet**'} |"
            for what, measured, met in rows]
    return "\n".join(out)


def _counted(shown: str, measured: list[Any], runs: list[Any]) -> str:
    """``shown``, saying so when only some of the runs measured it."""
    if len(measured) == len(runs):
        return shown
    return f"{shown} (measured in {len(measured)} of the {len(runs)} runs)"


def _storm(run: dict[str, Any], fmt: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    rows = {(r["target"], r["format"]): r for r in run.get("storm", ())
            if r["subscribers"] == 10000}
    t, n = rows.get(("tryvoga", fmt)), rows.get(("nchan", fmt))
    return None if t is None or n is None else (t, n)


def scale_table(runs: list[dict[str, Any]]) -> str:
    """The targets at 100,000 subscribers (``run.py --scale 100000``), over ``runs``."""
    rows: list[tuple[str, str, bool | None]] = []
    # The count asked of the runs: 100,000, or the most this machine holds (bench/RESULTS.md).
    asked = " / ".join(sorted({f"{run['scale']:,}" for run in runs}))
    for fmt in ("sse", "ws"):
        pairs = []
        for run in runs:
            by = {(r["target"], r["format"]): r for r in run["fanout"]}
            pairs.append((by[("tryvoga", fmt)], by[("nchan", fmt)], run["scale"]))
        held = [f"{t['connected']:,}/{n['connected']:,}" for t, n, _ in pairs]
        full = all(t["connected"] == n["connected"] == scale for t, n, scale in pairs)
        late = [t["last_from_request_ms_p99"] / n["last_from_request_ms_p99"]
                for t, n, _ in pairs]
        memory = [t["kib_per_connection"] for t, _, _ in pairs]
        reconnect = [t["reconnect_s"] / n["reconnect_s"] for t, n, _ in pairs]
        say = "" if full else f" (connected, Tryvoga/nchan: {', '.join(held)})"
        rows += [
            (f"{fmt} at {asked}: every subscriber held by both servers",
             ", ".join(held), full),
            (f"{fmt} at {asked}: last receipt p99 ≤ 1.3× nchan's (from the request's start)",
             _span(late) + say, max(late) <= 1.3),
            (f"{fmt} at {asked}: ≤ 14 KiB per idle connection", _span(memory, " KiB") + say,
             max(memory) <= 14),
            (f"{fmt} at {asked}: reconnect all ≤ 2× nchan's", _span(reconnect) + say,
             max(reconnect) <= 2)]
    machine = [max(r["machine_mib_connected"] for r in run["fanout"]) for run in runs]
    rows.append(("the whole machine's memory in use, with the most subscribers connected "
                 "(stated)", _span(machine, " MiB"), None if not runs else True))
    return _render(rows, runs)


def scale_section() -> str:
    files = sorted(SCALE_RUNS.glob("*.json"))
    if not files:
        return "No run at 100,000 kept yet (`make bench-100k`)."
    names = ", ".join(f"`{f.stem}`" for f in files)
    return (f"Over the {len(files)} newest runs ({names}); a target is met only if every run "
            "met it.\n\n" + scale_table([json.loads(f.read_text()) for f in files]))


def section() -> str:
    """The table over every run kept in ``RUNS``, with the runs named."""
    files = sorted(RUNS.glob("*.json"))
    if not files:
        return "No full run kept yet (`make bench`)."
    names = ", ".join(f"`{f.stem}`" for f in files)
    return (f"Judged over the {len(files)} newest full runs (`bench/runs/`: {names}); "
            "a target is met only if every run met it.\n\n"
            + table([json.loads(f.read_text()) for f in files]))


def main() -> None:
    if len(sys.argv) > 1:
        print(table([json.loads(Path(name).read_text()) for name in sys.argv[1:]]))
    else:
        print(section())


if __name__ == "__main__":
    main()

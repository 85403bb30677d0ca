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
START = "<!-- targets -->"
END = "<!-- /targets -->"
READS = [(path, status) for path in ("/api/v1/status", "/api/v1/alerts/active")
         for status in (200, 304)]
MINIMAL = (("aiohttp", "minimal uvloop"), ("uvicorn", "minimal uvicorn"),
           ("granian", "minimal granian"))


def _polled(runs: list[dict[str, Any]], a: str, b: str, key: str) -> tuple[str, list[float]]:
    """Server ``a``'s figure over ``b``'s for every read of every run: shown as the range of
    each read's median over its interleaved rounds (what a run measured) beside the range of
    the single rounds, and those medians to judge by."""
    medians: list[float] = []
    rounds: list[float] = []
    for run in runs:
        by = {(r["server"], r["path"], r["status"]): r for r in run["polled"]}
        for read in READS:
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
    rows: list[tuple[str, str, bool]] = []
    shown, cpu = _polled(runs, "tryvoga", "nginx", "rounds_cpu")
    rows.append(("polled reads ≤ 2.5× nginx's CPU per request", shown, max(cpu) <= 2.5))
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
    wake = [run["wake"]["second_ms_p99"] for run in runs]
    rows.append(("two workers: the other worker's subscriber within 100 ms (p99)",
                 _span(wake, " ms"), max(wake) <= 100))
    rows += nodes.target_rows()  # two nodes on PostgreSQL: their own runs (bench/nodes.py)
    runs_said = "1 run" if len(runs) == 1 else f"{len(runs)} runs"
    out = [f"| target | measured ({runs_said}) | verdict |", "|---|---|---|"]
    out += [f"| {what} | {measured} | {'met' if met else '**missed**'} |"
            for what, measured, met in rows]
    return "\n".join(out)


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

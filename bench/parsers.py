"""Benchmark: how the parsers' time grows with the size of their input (issue 15: "each input
answered within a time bound proportional to its size").

    python bench/parsers.py [--sizes 1000,10000,50000] [--runs 3] [--write]

For each parser and size it builds a realistic input of that many characters, runs the parser
``--runs`` times in this process and keeps the least CPU time (``time.process_time``: what the
parser costs, not what the other processes on the machine took), then prints milliseconds per
thousand characters and each size's figure over the smallest size's. Linear work gives ratios
near 1; quadratic work gives ratios near the size ratio (10, 50). ``--write`` puts the table
into bench/RESULTS.md between the parsers markers. Not a test: nothing here asserts a time
(``tests/suite/test_parser_fuzz.py`` only detects hangs).

- channel: ``ChannelParser.parse`` of an all-clear post listing raions as bullets (the longest
  posts the channel sends are of this shape), each raion of the catalogue in turn;
- statements: ``read_statement`` of the statements of ``tests/data/statements`` one after the
  other (what a long report looks like), cut at the size;
- CAP: ``parse_message`` and ``plan`` of a message this server publishes for an alert, its
  ``<area>`` repeated up to the size (a message for many places).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import write_section

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- parsers -->", "<!-- /parsers -->"


def channel_input(size: int) -> tuple[Callable[[], Any], int]:
    from tryvoga.domain.regions import Level, load_catalogue
    from tryvoga.ingest.channel.parse import ChannelParser

    catalogue = load_catalogue()
    parser = ChannelParser(catalogue)
    raions = sorted(r.name_uk for r in catalogue.at_level(Level.RAION))
    lines = ["🟢 12:33 Відбій тривоги в"]
    index = 0
    while sum(len(line) + 1 for line in lines) < size:
        lines.append(f"• {raions[index % len(raions)]} район")
        index += 1
    text = "\n".join(lines)[:size]
    return (lambda: parser.parse(text)), len(text)


def statement_input(size: int) -> tuple[Callable[[], Any], int]:
    from tryvoga.domain.names import NameIndex
    from tryvoga.domain.regions import load_catalogue
    from tryvoga.ingest.statements import read_statement
    from tryvoga.ingest.statements.morphology import load

    load()
    names = NameIndex(load_catalogue())
    corpus = ROOT / "tests" / "data" / "statements" / "corpus.jsonl"
    texts = [json.loads(line)["text"] for line in corpus.read_text("utf-8").splitlines()
             if line.strip()]
    text = ""
    index = 0
    while len(text) < size:
        text += texts[index % len(texts)] + "\n\n"
        index += 1
    text = text[:size]
    return (lambda: read_statement(text, names, source="bench")), len(text)


def cap_input(size: int) -> tuple[Callable[[], Any], int]:
    from tryvoga.api.formats import outbox
    from tryvoga.cap.ingest import plan
    from tryvoga.cap.parse import parse_message
    from tryvoga.cap.projection import CapProjection
    from tryvoga.cap.render import Publisher
    from tryvoga.domain.events import now_utc
    from tryvoga.domain.regions import load_catalogue
    from tryvoga.service import Actor, Service
    from tryvoga.storage.sqlite import SQLiteStorage

    catalogue = load_catalogue()
    with tempfile.TemporaryDirectory() as folder:
        storage = SQLiteStorage(Path(folder) / "bench.db")
        service = Service(storage, catalogue, outbox=outbox(catalogue))
        from tryvoga.commands import Declare

        service.handle(Actor("bench"), Declare.of(
            regions=["UA80000000000093317"], type="air_raid",
            threats=[{"type": "drones", "level": "red"}]))
        projection = CapProjection(catalogue)
        projection.apply_all(storage.iter_events())
        message = Publisher(sender="cap@bench.test", sender_name="Bench").render(
            next(iter(projection.messages.values())), catalogue).decode("utf-8")
        storage.close()
    start, end = message.index("<area>"), message.index("</area>") + len("</area>")
    area = message[start:end]
    repeat = max(1, (size - len(message)) // len(area) + 1)
    document = (message[:start] + area * repeat + message[end:]).encode("utf-8")

    def run() -> Any:
        return plan(parse_message(document), catalogue, now_utc())

    return run, len(document)


PARSERS: dict[str, Callable[[int], tuple[Callable[[], Any], int]]] = {
    "channel post": channel_input, "statement": statement_input, "CAP message": cap_input}


def measure(sizes: list[int], runs: int) -> dict[str, list[tuple[int, float]]]:
    out: dict[str, list[tuple[int, float]]] = {}
    for name, build in PARSERS.items():
        rows = []
        for size in sizes:
            call, actual = build(size)
            call()  # warm: caches, lazy loads
            best = float("inf")
            for _ in range(runs):
                started = time.process_time()
                call()
                best = min(best, time.process_time() - started)
            rows.append((actual, best))
        out[name] = rows
    return out


def table(results: dict[str, list[tuple[int, float]]]) -> str:
    sizes = [size for size, _ in next(iter(results.values()))]
    head = "| parser | characters | " + " | ".join(
        f"~{s // 1000}k: ms per 1k" for s in sizes) + " | " + " | ".join(
        f"ratio {s // 1000}k/{sizes[0] // 1000}k" for s in sizes[1:]) + " |"
    lines = [head, "|" + "---|" * (2 + 2 * len(sizes) - 1)]
    for name, rows in results.items():
        per_k = [seconds * 1000 / (size / 1000) for size, seconds in rows]
        lines.append(f"| {name} | {', '.join(f'{size:,}' for size, _ in rows)} | "
                     + " | ".join(f"{v:.3f}" for v in per_k) + " | "
                     + " | ".join(f"{v / per_k[0]:.2f}" for v in per_k[1:]) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results = measure(sizes, args.runs)
    text = table(results)
    print(text)
    if args.write:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        write_section(START, END, f"{stamp}, {platform.python_version()}, least CPU time of "
                      f"{args.runs} runs (`python bench/parsers.py`)\n\n{text}",
                      "## Parsers: time per size")


if __name__ == "__main__":
    main()

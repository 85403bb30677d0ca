"""Benchmark: import the official record (official_data_en.csv, 43,031 rows) into a fresh
database, as `tryvoga import-history` does, and time it. Target: under 30 s.

    python bench/import_history.py [--file PATH] [--runs 3] [--write]

Times the whole command in a process of its own (start-up, catalogue, reading, resolving every
row, the one transaction), then the phases in this process. `--write` puts the figures into
bench/RESULTS.md between the import-history markers. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import write_section

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT.parent / "shared" / "data" / "sirens" / "official_data_en.csv"
START, END = "<!-- import-history -->", "<!-- /import-history -->"
TARGET = 30.0


def whole_command(path: Path, db: Path) -> float:
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tryvoga.cli", "import-history", str(path),
                    "--db", str(db)], check=True, capture_output=True)
    return time.perf_counter() - began


def phases(path: Path, db: Path) -> dict[str, float]:
    from tryvoga.api.formats import outbox
    from tryvoga.domain.regions import load_catalogue
    from tryvoga.ingest.history import import_record, read_record
    from tryvoga.service import Service
    from tryvoga.storage.sqlite import SQLiteStorage

    out: dict[str, float] = {}
    began = time.perf_counter()
    catalogue = load_catalogue()
    out["catalogue"] = time.perf_counter() - began
    began = time.perf_counter()
    record = read_record(path, catalogue)
    out["read and resolve"] = time.perf_counter() - began
    storage = SQLiteStorage(db)
    try:
        service = Service(storage, catalogue, outbox=outbox(catalogue))
        began = time.perf_counter()
        result = import_record(service, record)
        out["write (one transaction)"] = time.perf_counter() - began
    finally:
        storage.close()
    out["rows"] = float(result.added)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=DEFAULT)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    if not args.file.is_file():
        sys.exit(f"no such file: {args.file} (the shared data sits beside the clone)")
    rows = sum(1 for _ in args.file.open(encoding="utf-8")) - 1
    with tempfile.TemporaryDirectory() as tmp:
        runs = [whole_command(args.file, Path(tmp) / f"run{i}.db") for i in range(args.runs)]
        parts = phases(args.file, Path(tmp) / "phases.db")
    best, median = min(runs), statistics.median(runs)
    lines = [
        f"Run `python bench/import_history.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{platform.machine()}, Python {platform.python_version()}; {args.runs} runs, each "
        "into a fresh database.",
        "",
        "| file | rows | whole command, median | best | target | per row |",
        "|---|---|---|---|---|---|",
        f"| `{args.file.name}` | {rows:,} | **{median:.2f} s** | {best:.2f} s | "
        f"< {TARGET:.0f} s: {'met' if median < TARGET else 'MISSED'} | "
        f"{median / max(rows, 1) * 1e6:.0f} µs |",
        "",
        "Phases in one process: " + ", ".join(
            f"{name} {value:.2f} s" for name, value in parts.items() if name != "rows")
        + f" ({int(parts['rows']):,} rows added).",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section(START, END, text, "## Importing the historical record")


if __name__ == "__main__":
    main()

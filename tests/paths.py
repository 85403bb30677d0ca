"""Where the tests' data lives: inside the repository (tests/data, sources in SOURCES.md)."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
SIRENS = DATA / "sirens"
OFFICIAL_UK = SIRENS / "official_data_uk.csv"
OFFICIAL_EN = SIRENS / "official_data_en.csv"
VOLUNTEER_EN = SIRENS / "volunteer_data_en.csv"
CHANNEL_EXAMPLES = DATA / "messages" / "examples.txt"
KYIV_STATEMENT = DATA / "examples" / "kyiv-2023-05-20-statement.txt"
SOURCES = DATA.parents[1] / "sources"  # what the build scripts read (sources/README.md)
UKRAINEALARM_SNAPSHOT = SOURCES / "compat" / "ukrainealarm_regions_snapshot.utf8.yaml"

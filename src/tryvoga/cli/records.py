"""Commands of issue 6: ``ingest channel``, ``import-history``, ``stats`` and ``replay``.

Attached to the ``tryvoga`` group in ``cli/main.py``.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from datetime import time as clock_time
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from tryvoga.cli.kit import db_option, friendly, new_service
from tryvoga.domain.events import format_time, parse_time
from tryvoga.domain.model import AlertType
from tryvoga.domain.names import NameIndex
from tryvoga.domain.regions import COUNTRY, Level, load_catalogue
from tryvoga.domain.state import State
from tryvoga.domain.stats import KYIV, compute, period_bound, to_csv
from tryvoga.errors import BadRequest
from tryvoga.ingest import channel as channel_posts
from tryvoga.ingest import replay as replays
from tryvoga.ingest.history import (
    count_lines,
    file_sha256,
    import_record,
    read_record,
    record_kind,
    unresolved_lines,
)
from tryvoga.ingest.replay import (
    REPLAY,
    Step,
    Window,
    check_speed,
    load_day,
    play,
    timeline,
)
from tryvoga.query.records import history_page, imported_filter, spans
from tryvoga.service import OPERATOR, Service
from tryvoga.settings import Settings
from tryvoga.storage.history import HistoryReader
from tryvoga.storage.migrations import open_storage

P = ParamSpec("P")
R = TypeVar("R")
MAX_LISTED = 50  # unresolved rows printed before a refused import
MAX_HISTORY_LIMIT = 5000  # as GET /api/v1/history

@contextmanager
def opened(db: str | None) -> Iterator[tuple[Service, HistoryReader]]:
    """The service and a history reader on one database (migrated by opening the storage)."""
    settings = Settings.load(db=db)
    storage = open_storage(settings.db, settings.database_url)
    reader = HistoryReader(storage.database)
    try:
        yield new_service(storage), reader
    finally:
        reader.close()
        storage.close()


@contextmanager
def progress(length: int, label: str) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr when it is a terminal; otherwise nothing (a log or a pipe gets
    only the command's summary, never a bar's leftovers)."""
    if not sys.stderr.isatty():
        yield lambda steps: None
        return
    with click.progressbar(length=length, label=label, file=sys.stderr,
                           show_pos=True) as bar:
        yield bar.update


def _region(text: str) -> str:
    catalogue = load_catalogue()
    code = text.strip().upper()
    if code in catalogue:
        return code
    found = NameIndex(catalogue).find(text)
    if found.region is not None:
        return found.region.code
    if found.ambiguous:
        names = "; ".join(f"{r.name_en} ({r.code})" for r in found.matches[:8])
        raise BadRequest(f"{text!r} fits several regions: {names}; give the code")
    raise BadRequest(f"no region matches {text!r}")


# ---- tryvoga ingest channel ------------------------------------------------------------------


@click.command("channel")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--channel", default=None,
              help=f"channel name that keys the posts [default {channel_posts.DEFAULT_CHANNEL}]")
@click.option("--verbose", "-v", is_flag=True, help="one line per post")
@click.option("--json", "as_json", is_flag=True, help="every post's outcome as JSON")
@db_option
@friendly
def ingest_channel(file: Path, channel: str | None, verbose: bool, as_json: bool,
                   db: str | None) -> None:
    """Apply the alert channel's posts in FILE: a Telegram Desktop export (result.json) or
    plain-text posts separated by '---' lines, each starting with its time.

    Each post is applied once (keyed by channel and message id), in order. Prints how many
    were applied and skipped, by reason; exits 1 if any post could not be parsed."""
    reading = channel_posts.read_file(file, channel)
    with opened(db) as (service, _):
        ingest = channel_posts.ChannelIngest(service.catalogue)
        with progress(len(reading.posts), "posts") as advance:
            outcomes = ingest.ingest(service, OPERATOR, reading.posts, advance)
    summary = channel_posts.summarize(outcomes)
    for _ident, reason, _detail in reading.skipped:
        summary["skipped"][reason] = summary["skipped"].get(reason, 0) + 1
    for _ident, reason, _detail in reading.failed:
        summary["failed"][reason] = summary["failed"].get(reason, 0) + 1
    if as_json:
        click.echo(json.dumps({"summary": summary,
                               "posts": [o.to_json() for o in outcomes],
                               "unreadable": [{"id": i, "reason": r, "detail": d}
                                              for i, r, d in reading.failed]},
                              ensure_ascii=False, indent=2))
    else:
        for item in outcomes:
            if verbose or item.outcome == "failed":
                _echo_outcome(item)
        for ident, reason, detail in reading.failed:
            click.echo(f"failed   {ident}: {reason}: {detail}")
        click.echo(_summary_line(summary))
    if summary["failed"]:
        sys.exit(1)


def _echo_outcome(item: channel_posts.Outcome) -> None:
    what = "; ".join(item.effects) or "; ".join(item.notes)
    bad = [p for p in item.places if p.get("region") is None]
    if bad:
        what += " | " + "; ".join(
            f"{p['text']!r}: {p.get('reason')} {', '.join(p.get('candidates') or ())}".rstrip()
            for p in bad)
    click.echo(f"{item.outcome:<8} {item.post.channel}/{item.post.id} {item.post.time}"
               f"{' ' + item.reason if item.reason else ''}: {what}")


def _summary_line(summary: dict[str, Any]) -> str:
    def counts(items: dict[str, int]) -> str:
        return ", ".join(f"{reason} {n}" for reason, n in items.items()) or "none"

    total = (summary["applied"] + sum(summary["skipped"].values())
             + sum(summary["failed"].values()))
    return (f"{total} posts: applied {summary['applied']}; skipped "
            f"{sum(summary['skipped'].values())} ({counts(summary['skipped'])}); failed "
            f"{sum(summary['failed'].values())} ({counts(summary['failed'])})")


# ---- tryvoga import-history ------------------------------------------------------------------


@click.command("import-history")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="the summary as JSON")
@db_option
@friendly
def import_history(file: Path, as_json: bool, db: str | None) -> None:
    """Import a record of past alerts: official_data_uk.csv, official_data_en.csv or
    volunteer_data_*.csv of the ukrainian-air-raid-sirens-dataset (MIT, Vadym Klymenko).

    Every row becomes an alert in history at its own times, marked imported, with its source;
    rows whose place cannot be resolved are listed. Importing the same file again adds
    nothing. The live state is not touched."""
    record_kind(file)
    sha = file_sha256(file)
    with opened(db) as (service, reader):
        before = reader.by_sha(sha)
        if before is not None:
            message = (f"{file.name} was already imported (event {before.seq}, "
                       f"{before.imported_at}): {before.added} alerts; nothing added")
            if as_json:
                click.echo(json.dumps({"file": file.name, "sha256": sha, "added": 0,
                                       "imported_before": before.seq}, indent=2))
            else:
                click.echo(message)
            return
        lines = max(count_lines(file) - 1, 0)
        with progress(lines, f"reading {file.name}") as advance:
            record = read_record(file, service.catalogue, progress=advance)
        if not record.rows:
            for line in unresolved_lines(record.unresolved[:MAX_LISTED]):
                click.echo(line, err=True)
            if len(record.unresolved) > MAX_LISTED:
                click.echo(f"  ... and {len(record.unresolved) - MAX_LISTED} more", err=True)
        if sys.stderr.isatty() and record.rows:
            click.echo(f"writing {len(record.rows)} alerts...", err=True)
        result = import_record(service, record)
    summary = result.summary()
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
        return
    if result.seq is None:
        click.echo(f"{file.name} was already imported; nothing added")
        return
    click.echo(f"imported {file.name} ({record.source} record): {record.total_rows} rows, "
               f"{len(record.rows)} resolved, {result.added} added, "
               f"{len(record.rows) - result.added} already in history, "
               f"{len(record.unresolved)} unresolved; {summary['period']['from']} to "
               f"{summary['period']['to']}; event {result.seq}")
    if record.unresolved:
        click.echo("rows not imported (place not resolved, or bad data):")
        for item in record.unresolved:
            click.echo(f"  row {item.row}: {item.place}: {item.reason}")


# ---- tryvoga stats ---------------------------------------------------------------------------


def _day_or_time(text: str | None, name: str) -> str | None:
    """An ISO time with offset, or a date (Kyiv midnight), as the API takes them."""
    if not text:
        return None
    try:
        return format_time(period_bound(text))
    except ValueError:
        raise BadRequest(f"--{name}: {text!r} is not a date (2023-05-20, midnight Kyiv time) "
                         "or an ISO-8601 time with an offset") from None


@click.command("stats")
@click.option("--region", "regions", multiple=True,
              help="region code or name; repeatable [default: the 27 top-level regions: "
                   "24 oblasts, Crimea, Kyiv and Sevastopol]")
@click.option("--level", default=None,
              help="instead of --region: every region at these levels (comma-separated) "
                   "inside --within")
@click.option("--within", default=None, help="with --level: the parent region")
@click.option("--from", "start", default=None, help="date or ISO time [default: all]")
@click.option("--to", "end", default=None, help="date or ISO time [default: now]")
@click.option("--type", "type_", default="air_raid", show_default=True)
@click.option("--imported", type=click.Choice(["include", "only", "exclude"]),
              default="include", show_default=True)
@click.option("--source", type=click.Choice(["official", "volunteer"]), default=None,
              help="imported records of one source only")
@click.option("--format", "form", type=click.Choice(["table", "json", "csv"]),
              default="table", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write to this file instead of the terminal")
@db_option
@friendly
def stats(regions: tuple[str, ...], level: str | None, within: str | None, start: str | None,
          end: str | None, type_: str, imported: str, source: str | None, form: str,
          output: Path | None, db: str | None) -> None:
    """History statistics per region: alerts, total and longest time under alert, by hour of
    day and by month (Kyiv time), from live and imported alerts."""
    catalogue = load_catalogue()
    try:
        alert_type = AlertType(type_)
    except ValueError:
        raise BadRequest(f"--type: {type_!r} is not one of "
                         f"{', '.join(t.value for t in AlertType)}") from None
    if regions:
        codes = list(dict.fromkeys(_region(r) for r in regions))
    else:
        try:
            levels = (tuple(Level(p.strip()) for p in level.split(",")) if level
                      else (Level.OBLAST, Level.SPECIAL_CITY))
        except ValueError:
            raise BadRequest(f"--level: {level!r}: expected some of "
                             f"{', '.join(m.value for m in Level)}") from None
        root = _region(within) if within else COUNTRY
        codes = sorted(c for c in catalogue.descendants(root) if catalogue[c].level in levels)
    first = _day_or_time(start, "from")
    last = _day_or_time(end, "to")
    now = datetime.now(UTC)
    stop = parse_time(last).timestamp() if last else now.timestamp()
    begin = parse_time(first).timestamp() if first else None
    if begin is not None and begin >= stop:
        raise BadRequest("--from must be before --to")
    with opened(db) as (service, reader):
        all_spans = spans(service.state, reader, alert_type, now=now,
                          live=imported != "only" and source is None,
                          imported=imported != "exclude", source=source)
    results = compute(catalogue, all_spans, codes, begin, stop)
    if form == "csv":
        text = to_csv(catalogue, results)
    elif form == "json":
        text = json.dumps({"type": alert_type.value, "from": first, "to": last,
                           "regions": [r.to_json(catalogue) for r in results]},
                          ensure_ascii=False, indent=2) + "\n"
    else:
        rows = [f"{'region':<42} {'alerts':>7} {'hours under alert':>18} {'longest (h)':>12}"]
        for item in results:
            rows.append(f"{catalogue[item.region].name_en:<42} {item.alerts:>7} "
                        f"{item.total_seconds / 3600:>18.1f} "
                        f"{item.longest_seconds / 3600:>12.1f}")
        text = "\n".join(rows) + "\n"
    if output is not None:
        try:
            output.write_text(text, "utf-8")
        except OSError as exc:
            raise BadRequest(f"--output: cannot write {output}: {exc.strerror or exc}",
                             code="file_unwritable", field="output") from None
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


# ---- tryvoga replay --------------------------------------------------------------------------


def _clock(text: str | None, name: str) -> clock_time | None:
    if text is None:
        return None
    try:
        return clock_time.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"--{name}: {text!r} is not a time of day such as 00:30") from None


@click.command("replay")
@click.option("--date", "day", required=True, help="the day to play, e.g. 2023-05-20 (Kyiv)")
@click.option("--speed", type=float, default=60.0, show_default=True,
              help="times real time: 60 plays an hour of the record in a minute")
@click.option("--from", "start", default=None, help="start at this Kyiv time of day, HH:MM")
@click.option("--to", "end", default=None, help="stop at this Kyiv time of day, HH:MM")
@click.option("--quiet", "-q", is_flag=True)
@db_option
@friendly
def replay(day: str, speed: float, start: str | None, end: str | None, quiet: bool,
           db: str | None) -> None:
    """Play a past day of the record (imported, or the bundled night of 2023-05-20) through
    the live system as exercise alerts, so that streams and the map move."""
    try:
        when = date.fromisoformat(day)
    except ValueError:
        raise BadRequest(f"--date: {day!r} is not a date such as 2023-05-20") from None
    check_speed(speed)
    window = Window.of(when, _clock(start, "from"), _clock(end, "to"))
    with opened(db) as (service, reader):
        played, origin = load_day(window, reader, service.catalogue)
        steps = timeline(played, window)
        length = (window.end - window.start) / speed
        click.echo(f"replaying {len(played)} alerts of {when.isoformat()} from {origin} as "
                   f"exercises, at {speed:g}x: about {length / 60:.1f} minutes", err=True)

        def report(step: Step) -> None:
            if not quiet:
                moment = datetime.fromtimestamp(window.start + step.offset, KYIV)
                click.echo(f"{moment:%H:%M} {'start' if step.start else 'end  '} "
                           f"{service.catalogue[step.played.region].name_en}")

        declared, stopped_by = _play_until_signalled(
            lambda stop: play(service, steps, window, speed, actor=REPLAY, stop=stop,
                              on_step=report))
        if stopped_by is not None:
            click.echo(f"stopped by {signal.Signals(stopped_by).name}; the replay's alerts "
                       "were ended", err=True)
            sys.exit(128 + stopped_by)
    click.echo(f"replayed {declared} exercise alerts of {when.isoformat()}")


def _play_until_signalled(run: Callable[[threading.Event], int]) -> tuple[int, int | None]:
    """Run a replay on a thread of its own until it ends or SIGINT or SIGTERM asks it to stop.

    A signal only sets the replay's stop event, so it stops between two commands, never inside
    one, and ends every alert it declared before returning, whether it was stopped by Ctrl-C,
    by ``kill`` or by a service manager. (Raising from the handler instead could land between
    a declaration's commit and its being noted, and leave that alert running.) The handler
    runs on this thread, which only waits, so it never meets a lock it holds itself."""
    stop = threading.Event()
    received: list[int] = []
    found: dict[str, Any] = {}

    def work() -> None:
        try:
            found["declared"] = run(stop)
        except BaseException as exc:  # handed to the main thread, raised there
            found["error"] = exc

    def handle(signum: int, frame: object) -> None:
        received.append(signum)
        stop.set()

    # A signal the process was started to ignore (SIGINT of a job started with & by a script)
    # stays ignored.
    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)
                if signal.getsignal(sig) is not signal.SIG_IGN}
    try:
        worker = threading.Thread(target=work, name="tryvoga-replay")
        worker.start()
        worker.join()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if "error" in found:
        raise found["error"]
    return int(found["declared"]), (received[0] if received else None)


def start_demo(db: str) -> threading.Event:
    """The ``--demo`` replay in a background thread, writing through the commands' service."""
    return replays.start_demo(db, new_service)


# ---- tryvoga history (the body; the command is in cli/main.py) ---------------------------------


def history_items(state: State, db: str | None, region: str | None, type_: str | None,
                  limit: int) -> list[dict[str, Any]]:
    """Live and imported alerts, newest first, for ``tryvoga history``."""
    if not 1 <= limit <= MAX_HISTORY_LIMIT:
        raise BadRequest(f"--limit must be between 1 and {MAX_HISTORY_LIMIT}, not {limit}",
                         field="limit")
    try:
        alert_type = None if type_ is None else AlertType(type_)
    except ValueError:
        raise BadRequest(f"--type: {type_!r} is not one of "
                         f"{', '.join(t.value for t in AlertType)}") from None
    live = [a for a in state.alerts.values()
            if (region is None or state.catalogue.is_within(a.region, region))
            and (alert_type is None or a.type is alert_type)]
    where = imported_filter(state.catalogue, region, alert_type, None, None, None)
    settings = Settings.load(db=db)
    reader = HistoryReader(settings.database_url or settings.db)
    try:
        rows = [] if where is None else reader.page(where, None, limit + 1)
    finally:
        reader.close()
    items, _ = history_page(state, live, rows, None, limit)
    return items


__all__ = ["history_items", "import_history", "ingest_channel", "replay", "stats"]

"""Play a past day of the record through the live system, as an exercise.

The alerts of a day (Kyiv time), from the imported history or else from the slice of the official
record that ships with the package (the night of 20 May 2023), are declared and ended again now,
at ``speed`` times real time, with the status ``exercise``: streams, feeds and the map move as
they did that day, and nothing mistakes it for a real alert (exercises never count as actual).
Alerts of the record that overlap on one region are played as one. Alerts still running at the
end of the window, or when the replay is stopped, are ended then.

``tryvoga serve --demo true`` plays the first six hours of that night at 240 times real time
in the background when the database holds no events but earlier demo replays, so that a new
installation does not open on an empty map.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from importlib import resources
from pathlib import Path

import click

from tryvoga.commands import Declare, EndAlert
from tryvoga.domain.events import format_time, parse_time
from tryvoga.domain.model import AlertStatus, AlertType
from tryvoga.domain.regions import Catalogue
from tryvoga.errors import BadRequest
from tryvoga.ingest.history import read_record
from tryvoga.service import Actor, Service
from tryvoga.storage.base import Storage
from tryvoga.storage.history import HistoryFilter, HistoryReader

log = logging.getLogger(__name__)

REPLAY = Actor("replay")
DEMO = Actor("demo")
KYIV = "Europe/Kyiv"
BUNDLED_DATE = date(2023, 5, 20)
BUNDLED_FILE = "official_2023-05-20.csv"
DEMO_WINDOW = (clock_time(0, 0), clock_time(6, 0))
DEMO_SPEED = 240.0
MAX_SPEED = 1_000_000.0


@dataclass(frozen=True, slots=True)
class Played:
    """One alert of the record to play: a region and its (merged) interval, epoch seconds."""

    region: str
    start: float
    end: float
    place: str


@dataclass(frozen=True, slots=True)
class Window:
    day: date
    start: float
    end: float

    @classmethod
    def of(cls, day: date, start: clock_time | None = None,
           end: clock_time | None = None) -> Window:
        from zoneinfo import ZoneInfo

        zone = ZoneInfo(KYIV)
        first = datetime.combine(day, start or clock_time(0, 0), zone)
        last = (datetime.combine(day, end, zone) if end is not None and end != clock_time(0, 0)
                else datetime.combine(day + timedelta(days=1), clock_time(0, 0), zone))
        if last <= first:
            raise BadRequest("--to must be after --from", field="to")
        return cls(day, first.timestamp(), last.timestamp())

    def iso(self) -> tuple[str, str]:
        return (format_time(datetime.fromtimestamp(self.start, UTC)),
                format_time(datetime.fromtimestamp(self.end, UTC)))


def _merge(items: Iterable[Played]) -> list[Played]:
    """One alert per region while the record's alerts on it overlap."""
    out: list[Played] = []
    by_region: dict[str, list[Played]] = {}
    for item in items:
        by_region.setdefault(item.region, []).append(item)
    for region, played in by_region.items():
        played.sort(key=lambda p: p.start)
        current = played[0]
        for item in played[1:]:
            if item.start <= current.end:
                current = Played(region, current.start, max(current.end, item.end),
                                 current.place)
            else:
                out.append(current)
                current = item
        out.append(current)
    return sorted(out, key=lambda p: (p.start, p.region))


def bundled_path() -> Path:
    return Path(str(resources.files("tryvoga.data").joinpath("sirens", BUNDLED_FILE)))


def load_day(window: Window, reader: HistoryReader | None,
             catalogue: Catalogue) -> tuple[list[Played], str]:
    """The alerts overlapping the window, and where they come from."""
    start, end = window.iso()
    if reader is not None:
        for source in ("official", "volunteer"):
            rows = reader.alerts(HistoryFilter(type=AlertType.AIR_RAID.value, start=start,
                                               end=end, source=source))
            rows = [r for r in rows if r.started_at < end and r.ended_at > start]
            if rows:
                return _merge(Played(r.region, parse_time(r.started_at).timestamp(),
                                     parse_time(r.ended_at).timestamp(), r.place)
                              for r in rows), f"the imported {source} record"
    bundled = []
    if window.day == BUNDLED_DATE:  # the slice is complete for its own day only
        record = read_record(bundled_path(), catalogue)
        bundled = [r for r in record.rows if r.started_at < end and r.ended_at > start]
    if not bundled:
        raise BadRequest(f"no alerts of {window.day.isoformat()} in the imported history, and "
                         f"the bundled record holds only {BUNDLED_DATE.isoformat()}; import the "
                         "record first: tryvoga import-history official_data_en.csv",
                         code="no_record_for_date")
    return _merge(Played(r.region, parse_time(r.started_at).timestamp(),
                         parse_time(r.ended_at).timestamp(), r.place)
                  for r in bundled), "the bundled official record"


@dataclass(frozen=True, slots=True)
class Step:
    offset: float  # seconds of the record after the window's start
    start: bool
    played: Played


def timeline(played: Iterable[Played], window: Window) -> list[Step]:
    steps: list[Step] = []
    for item in played:
        first = max(item.start, window.start)
        last = min(item.end, window.end)
        if last <= first:
            continue
        steps.append(Step(first - window.start, True, item))
        steps.append(Step(last - window.start, False, item))
    # At one moment, ends before starts: a region re-declared at once stays consistent.
    return sorted(steps, key=lambda s: (s.offset, s.start, s.played.region))


def _local(epoch: float) -> str:
    from zoneinfo import ZoneInfo

    return datetime.fromtimestamp(epoch, ZoneInfo(KYIV)).strftime("%Y-%m-%d %H:%M")


def note(item: Played) -> str:
    """The exercise alert's note: when the alert it replays really ran, in Kyiv time, with
    both dates (an alert of the night began the day before), whatever part of it is played."""
    return (f"exercise: the alert of {_local(item.start)} to {_local(item.end)} Kyiv time "
            f"({item.place})")


def check_speed(speed: float) -> float:
    if not 0 < speed <= MAX_SPEED:  # also refuses NaN
        raise BadRequest(f"speed must be above 0 and at most {MAX_SPEED:g}", field="speed")
    return speed


def play(service: Service, steps: list[Step], window: Window, speed: float, *,
         actor: Actor = REPLAY, stop: threading.Event | None = None,
         on_step: Callable[[Step], None] | None = None,
         clock: Callable[[], float] = time.monotonic) -> int:
    """Play the steps; returns how many alerts were declared. Ends what is open on the way
    out, also when stopped or interrupted."""
    check_speed(speed)
    stop = stop or threading.Event()
    source = f"replay of the official record of {window.day.isoformat()}"
    opened: dict[str, int] = {}
    declared = 0
    began = clock()
    try:
        for step in steps:
            delay = began + step.offset / speed - clock()
            if stop.wait(delay) if delay > 0 else stop.is_set():
                break
            item = step.played
            if step.start:
                result = service.handle(actor, Declare.of(
                    regions=[item.region], type=AlertType.AIR_RAID,
                    status=AlertStatus.EXERCISE, source=source, note=note(item)))
                alert = result.body["alerts"][0]
                opened[item.region] = alert["id"]
                declared += int(alert["created"])
            elif item.region in opened:
                _end(service, actor, opened.pop(item.region), "all clear, as in the record")
            if on_step is not None:
                on_step(step)
    finally:
        reason = "the replay stopped" if stop.is_set() else "end of the replayed window"
        for alert_id in opened.values():
            _end(service, actor, alert_id, reason)
    return declared


def _end(service: Service, actor: Actor, alert_id: int, reason: str) -> None:
    alert = service.state.alerts.get(alert_id)
    if alert is None or not alert.active:
        return  # someone else ended it; nothing to do
    service.handle(actor, EndAlert.of(reason=reason), alert_id)


# ---- the demo of `serve --demo true` -----------------------------------------------------------


def end_leftover_demo(service: Service) -> int:
    """End demo alerts left running by a server that stopped mid-replay."""
    service.catch_up()
    left = [a for a in service.state.active_alerts()
            if a.status is AlertStatus.EXERCISE and _declared_by(service, a.id, DEMO)]
    for alert in left:
        _end(service, DEMO, alert.id, "a demo replay that was interrupted")
    return len(left)


def _declared_by(service: Service, alert_id: int, actor: Actor) -> bool:
    alert = service.state.alerts[alert_id]
    events = service.storage.read_events(alert.declared_seq - 1, 1)
    return bool(events) and events[0].actor == actor.name


def only_demo_events(service: Service) -> bool:
    return all(e.actor == DEMO.name for e in service.storage.iter_events())


def run_demo(db: str, new_service: Callable[[Storage], Service], stop: threading.Event) -> None:
    """The background demo: only on a database with no events but earlier demos.
    ``new_service`` makes the service it writes through (``cli/kit.py``)."""
    from tryvoga.storage.sqlite import SQLiteStorage

    storage = SQLiteStorage(db)
    try:
        service = new_service(storage)
        # Told on the server's console like its start line (the thread may run before the
        # worker has configured logging).
        if not only_demo_events(service):
            click.echo("demo replay skipped: the database already holds events", err=True)
            return
        end_leftover_demo(service)
        window = Window.of(BUNDLED_DATE, *DEMO_WINDOW)
        played, origin = load_day(window, None, service.catalogue)
        first, last = (t.strftime("%H:%M") for t in DEMO_WINDOW)
        click.echo(f"demo: replaying {first} to {last} Kyiv time of {BUNDLED_DATE} from "
                   f"{origin} as exercises, at {DEMO_SPEED:g}x", err=True)
        play(service, timeline(played, window), window, DEMO_SPEED, actor=DEMO, stop=stop)
        click.echo("demo replay finished", err=True)
    except Exception:
        log.exception("demo replay failed")
    finally:
        storage.close()


def start_demo(db: str, new_service: Callable[[Storage], Service]) -> threading.Event:
    """Start the demo in a background thread; set the returned event to stop it."""
    stop = threading.Event()
    threading.Thread(target=run_demo, args=(db, new_service, stop), name="tryvoga-demo",
                     daemon=True).start()
    return stop


__all__ = ["BUNDLED_DATE", "DEMO", "REPLAY", "Played", "Step", "Window", "bundled_path",
           "end_leftover_demo", "load_day", "note", "play", "run_demo", "start_demo",
           "timeline"]

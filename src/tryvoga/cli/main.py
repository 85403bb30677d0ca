"""The ``tryvoga`` command: the server by default, and every operator and admin task."""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from tryvoga import __version__
from tryvoga.api.supervisor import LISTEN_BACKLOG, run_worker, supervise
from tryvoga.cap.signing import signer_from
from tryvoga.cli.kit import db_option, echo_json, friendly, open_service, resolve_region
from tryvoga.commands import (
    ConfigureRegion,
    Declare,
    EndAlert,
    EndByRegion,
    ReportIncident,
    UpdateAlert,
    UpdateIncident,
)
from tryvoga.domain.names import NameIndex
from tryvoga.domain.regions import COUNTRY, load_catalogue
from tryvoga.domain.render import alert_json, incident_json
from tryvoga.errors import BadRequest, StorageError
from tryvoga.service import OPERATOR
from tryvoga.settings import SETTINGS, Setting, Settings
from tryvoga.storage.integrity import check_anchors, check_tail, read_anchors
from tryvoga.storage.migrations import open_storage

P = ParamSpec("P")
R = TypeVar("R")

def parse_threat(text: str) -> dict[str, str]:
    kind, _, level = text.partition(":")
    return {"type": kind.strip(), "level": (level or "red").strip()}


@click.group(invoke_without_command=True)
@click.version_option(__version__, prog_name="tryvoga")
@click.pass_context
def main(ctx: click.Context, /, **flags: str | None) -> None:
    """Tryvoga: public warning service. With no command, runs the server (`tryvoga --port
    8080` is `tryvoga serve --port 8080`)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve, **flags)
    elif any(value is not None for value in flags.values()):
        given = ", ".join(f"--{k.replace('_', '-')}" for k, v in flags.items() if v is not None)
        click.echo(f"error: {given} belongs to serve; put it after the command "
                   f"({ctx.invoked_subcommand} --db ... where it applies)", err=True)
        sys.exit(2)


# ---- serve -----------------------------------------------------------------------------------

def _setting_option(setting: Setting) -> click.Option:
    return click.Option([setting.flag, setting.name], default=None, metavar="VALUE",
                        help=f"{setting.help} [{setting.env}; {setting.default}]")


def settings_options(func: Callable[..., R]) -> Callable[..., R]:
    """One flag per setting, named and described as in the settings table."""
    params: list[click.Parameter] = func.__dict__.setdefault("__click_params__", [])
    params.extend(_setting_option(setting) for setting in reversed(SETTINGS))
    return func


main.params.extend(_setting_option(setting) for setting in SETTINGS)

def _check_chain(settings: Settings) -> None:
    """The newest events and the recorded head must verify before anything is appended
    (storage/integrity.py), unless --allow-broken-chain."""
    storage = open_storage(settings.db, settings.database_url)
    try:
        broken = check_tail(storage)
    finally:
        storage.close()
    if broken is None:
        return
    line = f"the event log is broken at sequence {broken[0]}: {broken[1]}"
    if not settings.allow_broken_chain:
        raise StorageError(f"{line}; run `tryvoga verify` and restore from a backup, or "
                           "start with --allow-broken-chain true to serve and append to it anyway",
                           code="chain_broken")
    click.echo(f"WARNING: {line}; serving anyway (--allow-broken-chain)", err=True)


def _run_worker(settings: Settings, sock: socket.socket) -> None:
    """One server process: the API, then the public map, region pages and the operator
    console (``tryvoga.web``)."""
    from tryvoga import web as pages

    run_worker(settings, sock, pages=[pages.add_routes])


@main.command()
@settings_options
@friendly
def serve(**flags: str | None) -> None:
    """Run the HTTP server (the default command)."""
    settings = Settings.load(None, **flags)
    if settings.workers < 1:
        raise BadRequest("--workers must be at least 1")
    if settings.demo and settings.database_url:
        raise BadRequest("--demo is for an SQLite file (a trial installation), not for "
                         "--database-url")
    # Open once here so that a bad or too-new database (or a PostgreSQL schema other than
    # this version's), a broken chain, or a bad signing key, stops us with a clear line
    # before any fork.
    _check_chain(settings)
    load_catalogue()
    signer_from(settings.cap_signing_key, settings.cap_signing_cert)
    from tryvoga.eventloop import resolve as resolve_loop

    loop_name = resolve_loop(settings.event_loop)
    try:
        sock = socket.create_server((settings.host, settings.port), reuse_port=False,
                                    backlog=LISTEN_BACKLOG)
    except OSError as exc:
        raise BadRequest(f"cannot listen on {settings.host}:{settings.port}: "
                         f"{exc.strerror}") from None
    sock.set_inheritable(True)
    click.echo(f"Tryvoga {__version__} serving http://{settings.host}:{settings.port} "
               f"(database {_database_name(settings)}, {settings.workers} worker"
               f"{'s' if settings.workers > 1 else ''}, {loop_name})", err=True)
    if settings.workers == 1:
        if settings.demo:  # ingest/replay.py: a short exercise replay on an empty database
            start_demo(settings.db)
        _run_worker(settings, sock)
        return
    # One /metrics for all the workers: prometheus_client's multiprocess mode (metrics.py).
    from tryvoga.metrics import MULTIPROC_ENV

    own_metrics_dir = None
    if not os.environ.get(MULTIPROC_ENV):
        own_metrics_dir = tempfile.mkdtemp(prefix="tryvoga-metrics-")
        os.environ[MULTIPROC_ENV] = own_metrics_dir
    try:
        # after the fork: no database connection is carried into a worker
        supervise(settings, sock, _run_worker,
                  on_started=(lambda: start_demo(settings.db)) if settings.demo else None)
    finally:
        if own_metrics_dir is not None:
            shutil.rmtree(own_metrics_dir, ignore_errors=True)


# ---- alerts ----------------------------------------------------------------------------------

@main.group()
def alert() -> None:
    """Declare, end and list alerts."""


@alert.command("declare")
@click.argument("regions", nargs=-1, required=True)
@click.option("--type", "type_", default="air_raid", show_default=True)
@click.option("--threat", "threats", multiple=True, help="TYPE[:red|yellow], e.g. drones:yellow")
@click.option("--status", default="actual", show_default=True)
@click.option("--source", default="")
@click.option("--note", default="")
@click.option("--idempotency-key", default=None)
@db_option
@friendly
def alert_declare(regions: tuple[str, ...], type_: str, threats: tuple[str, ...], status: str,
                  source: str, note: str, idempotency_key: str | None, db: str | None) -> None:
    """Declare an alert on REGIONS (codes, UA, or names)."""
    codes = [resolve_region(r) for r in regions]
    with open_service(db) as service:
        result = service.handle(OPERATOR, Declare.of(
            regions=codes, type=type_, threats=[parse_threat(t) for t in threats],
            status=status, source=source, note=note), idempotency_key=idempotency_key)
    for item in result.body["alerts"]:
        verb = "declared" if item["created"] else "already active"
        click.echo(f"{verb}: alert {item['id']} {item['type']} in {item['region_name_en']} "
                   f"({item['region']}) since {item['started_at']}")


@alert.command("end")
@click.argument("alert_id", required=False, type=int)
@click.option("--region", default=None, help="end by region and type instead of id")
@click.option("--type", "type_", default="air_raid", show_default=True)
@click.option("--status", default="actual", show_default=True,
              help="with --region: the status of the alert to end (exercise, test)")
@click.option("--reason", default="")
@click.option("--withdraw", is_flag=True, help="declared in error: withdraw, not all-clear")
@db_option
@friendly
def alert_end(alert_id: int | None, region: str | None, type_: str, status: str, reason: str,
              withdraw: bool, db: str | None) -> None:
    """End an alert by ALERT_ID, or by --region and --type."""
    if alert_id is None and region is None:
        raise BadRequest("give an alert id, or --region")
    code = resolve_region(region) if region else None
    with open_service(db) as service:
        command = (EndAlert.of(reason=reason, withdraw=withdraw) if code is None else
                   EndByRegion.of(region=code, type=type_, status=status, reason=reason,
                                  withdraw=withdraw))
        result = service.handle(OPERATOR, command, alert_id)
    item = result.body["alert"]
    click.echo(f"{'withdrawn' if withdraw else 'ended'}: alert {item['id']} {item['type']} in "
               f"{item['region_name_en']} after {item['duration_seconds']} s")


@alert.command("update")
@click.argument("alert_id", type=int)
@click.option("--threat", "threats", multiple=True, help="TYPE[:red|yellow]; replaces all")
@click.option("--clear-threats", is_flag=True)
@click.option("--note", default=None)
@db_option
@friendly
def alert_update(alert_id: int, threats: tuple[str, ...], clear_threats: bool,
                 note: str | None, db: str | None) -> None:
    """Change an active alert's threats or note."""
    new = [parse_threat(t) for t in threats] if threats or clear_threats else None
    with open_service(db) as service:
        result = service.handle(OPERATOR, UpdateAlert.of(threats=new, note=note), alert_id)
    item = result.body["alert"]
    click.echo(f"alert {item['id']}: threats "
               f"{', '.join(t['type'] + ':' + t['level'] for t in item['threats']) or 'none'}")


@alert.command("list")
@click.option("--region", default=None)
@click.option("--json", "as_json", is_flag=True)
@db_option
@friendly
def alert_list(region: str | None, as_json: bool, db: str | None) -> None:
    """List active alerts."""
    code = resolve_region(region) if region else None
    with open_service(db) as service:
        state = service.state
        alerts = [a for a in state.active_alerts()
                  if code is None or state.catalogue.is_within(a.region, code)
                  or state.catalogue.is_within(code, a.region)]
        items = [alert_json(a, state) for a in alerts]
    if as_json:
        echo_json({"alerts": items})
        return
    if not items:
        click.echo("no active alerts")
    for item in items:
        flag = "" if item["actual"] else f" [{item['status'].upper()}]"
        threats = ", ".join(f"{t['type']}:{t['level']}" for t in item["threats"])
        click.echo(f"{item['id']:>6}  {item['type']:<18} {item['region_name_en']} "
                   f"({item['region']}) since {item['started_at']}{flag}"
                   f"{'  ' + threats if threats else ''}")


# ---- incidents -------------------------------------------------------------------------------

@main.group()
def incident() -> None:
    """Report, update and list incidents."""


@incident.command("report")
@click.option("--kind", required=True)
@click.option("--region", required=True, help="code or name")
@click.option("--within", default=None, help="parent region to resolve a name in")
@click.option("--source", required=True)
@click.option("--description", default="")
@click.option("--status", default="preliminary", show_default=True)
@click.option("--address", default=None)
@click.option("--lat", type=float, default=None)
@click.option("--lon", type=float, default=None)
@click.option("--killed", type=int, default=None)
@click.option("--injured", type=int, default=None)
@click.option("--alert-id", type=int, default=None)
@click.option("--embargo-until", default=None)
@db_option
@friendly
def incident_report(kind: str, region: str, within: str | None, source: str, description: str,
                    status: str, address: str | None, lat: float | None, lon: float | None,
                    killed: int | None, injured: int | None, alert_id: int | None,
                    embargo_until: str | None, db: str | None) -> None:
    """Report an incident on the ground."""
    parent = resolve_region(within) if within else None
    code = resolve_region(region, parent)
    with open_service(db) as service:
        result = service.handle(OPERATOR, ReportIncident.of(
            kind=kind, region=code, status=status, source=source,
            description=description, address=address, latitude=lat, longitude=lon,
            killed=killed, injured=injured, alert_id=alert_id, embargo_until=embargo_until))
    item = result.body["incident"]
    click.echo(f"reported: incident {item['id']} {item['kind']} in {item['region_name_en']} "
               f"({item['status']})")


@incident.command("update")
@click.argument("incident_id", type=int)
@click.option("--status", default=None)
@click.option("--description", default=None)
@click.option("--killed", type=int, default=None)
@click.option("--injured", type=int, default=None)
@db_option
@friendly
def incident_update(incident_id: int, status: str | None, description: str | None,
                    killed: int | None, injured: int | None, db: str | None) -> None:
    """Change an incident's status, description or counts."""
    changes = {k: v for k, v in {"status": status, "description": description,
                                 "killed": killed, "injured": injured}.items()
               if v is not None}
    with open_service(db) as service:
        result = service.handle(OPERATOR, UpdateIncident.of(**changes), incident_id)
    item = result.body["incident"]
    click.echo(f"incident {item['id']}: {item['kind']} {item['status']}")


@incident.command("list")
@click.option("--json", "as_json", is_flag=True)
@db_option
@friendly
def incident_list(as_json: bool, db: str | None) -> None:
    """List incidents, newest first."""
    with open_service(db) as service:
        state = service.state
        items = [incident_json(i, state) for i in
                 sorted(state.incidents.values(), key=lambda i: -i.id)]
    if as_json:
        echo_json({"incidents": items})
        return
    if not items:
        click.echo("no incidents")
    for item in items:
        click.echo(f"{item['id']:>6}  {item['kind']:<10} {item['status']:<11} "
                   f"{item['region_name_en']}  {item['source']}: {item['description']}")


# ---- regions ---------------------------------------------------------------------------------

@main.group()
def region() -> None:
    """Find regions and set per-region settings."""


@region.command("find")
@click.argument("name")
@click.option("--within", default=None, help="parent region (code or name) as context")
@friendly
def region_find(name: str, within: str | None) -> None:
    """Find a region by NAME in any common spelling."""
    catalogue = load_catalogue()
    names = NameIndex(catalogue)
    parent = resolve_region(within) if within else None
    by_id = catalogue.by_api_id.get(int(name)) if (
        name.strip().isascii() and name.strip().isdigit()) else None
    found = names.find(name, within=parent)
    matches = [by_id] if by_id else list(found.matches) or names.search(name, limit=10)
    if not matches:
        raise BadRequest(f"no region matches {name!r}")
    if found.ambiguous:
        click.echo(f"{name!r} is ambiguous; candidates:")
    for r in matches:
        parent_name = catalogue[r.parent].name_en if r.parent else "Ukraine"
        click.echo(f"{r.code}  {r.level.value:<13} {r.name_uk} / {r.name_en}  (in "
                   f"{parent_name}{', id ' + str(r.api_id) if r.api_id else ''})")


@region.command("configure")
@click.argument("region_name")
@click.option("--shelter-seconds", type=int, default=None)
@click.option("--neighbour", "neighbours", multiple=True, help="replace the neighbour list")
@click.option("--within", default=None, help="parent region (code or name) to resolve a name in")
@db_option
@friendly
def region_configure(region_name: str, shelter_seconds: int | None, neighbours: tuple[str, ...],
                     within: str | None, db: str | None) -> None:
    """Set seconds to reach shelter and/or neighbours for a region."""
    code = resolve_region(region_name, resolve_region(within) if within else None)
    kwargs: dict[str, Any] = {}
    if shelter_seconds is not None:
        kwargs["shelter_seconds"] = shelter_seconds
    if neighbours:
        kwargs["neighbours"] = [resolve_region(n) for n in neighbours]
    with open_service(db) as service:
        result = service.handle(OPERATOR, ConfigureRegion.of(**kwargs), code)
    echo_json(result.body)


# ---- history, verify, tokens -----------------------------------------------------------------

@main.command()
@click.option("--region", default=None)
@click.option("--type", "type_", default=None)
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@db_option
@friendly
def history(region: str | None, type_: str | None, limit: int, as_json: bool,
            db: str | None) -> None:
    """Past and present alerts, newest first, imported history included."""
    code = resolve_region(region) if region else None
    with open_service(db) as service:
        items = history_items(service.state, db, code, type_, limit)
    if as_json:
        echo_json({"alerts": items})
        return
    for item in items:
        end = item["ended_at"] or "active"
        click.echo(f"{item['id']:>6}  {item['type']:<18} {item['region_name_en']:<40} "
                   f"{item['started_at']} → {end}"
                   f"{'' if item['actual'] else ' [' + item['status'].upper() + ']'}"
                   f"{' [imported: ' + item['source'] + ']' if item.get('imported') else ''}")


@main.command()
@db_option
@click.option("--database-url", default=None, metavar="URL",
              help="PostgreSQL URL [env TRYVOGA_DATABASE_URL]; without it, the SQLite file")
@click.option("--anchor", "anchors", multiple=True, type=click.Path(dir_okay=False),
              help="an anchor file (TRYVOGA_ANCHOR_FILE, or heads from /api/v1/head, one "
                   "'seq hash' a line): every head in it must be in the log")
@friendly
def verify(db: str | None, database_url: str | None, anchors: tuple[str, ...]) -> None:
    """Check the whole hash chain of the event log and of the audit log, the recorded head,
    and anchors kept outside the database."""
    from tryvoga.storage.transfer import check_chains

    settings = Settings.load(db=db, database_url=database_url)
    if not settings.database_url and not os.path.exists(settings.db):
        raise BadRequest(f"no database at {settings.db}")
    storage = open_storage(settings.db, settings.database_url)
    anchored = 0
    try:
        report = check_chains(storage)
        broken = report.broken
        if broken is None:
            for name in anchors:
                try:
                    found = read_anchors(Path(name).read_text(encoding="utf-8"))
                except (OSError, ValueError) as exc:
                    raise BadRequest(f"anchor file {name}: {exc}") from None
                problem = check_anchors(storage, found)
                if problem is not None:
                    broken = f"event log at sequence {problem[0]}: {problem[1]} ({name})"
                    break
                anchored += len(found)
    finally:
        storage.close()
    if broken is not None:
        click.echo(f"BROKEN: {broken}", err=True)
        sys.exit(1)
    head = report.head
    checked = f"; {anchored} anchored heads match" if anchors else ""
    click.echo(f"ok: {report.events} events, hash chain intact; head {head[0]} "
               f"{head[1] or '-'}{checked}")


def _database_name(settings: Settings) -> str:
    if settings.database_url:
        from tryvoga.storage.engine import redact

        return redact(settings.database_url)
    return os.path.abspath(settings.db)


@main.group()
def token() -> None:
    """Create, list and revoke API tokens."""


@token.command("create")
@click.option("--name", required=True)
@click.option("--scope", "scopes", multiple=True, help="region code or name; repeatable; UA = all")
@click.option("--write", is_flag=True, help="may declare and end alerts, report incidents")
@click.option("--automated", is_flag=True, help="an automated source: may declare alone what "
              "the two-person rule covers (docs/console.md)")
@db_option
@friendly
def token_create(name: str, scopes: tuple[str, ...], write: bool, automated: bool,
                 db: str | None) -> None:
    """Create a token; it is printed once, alone on the last line."""
    if write and not scopes:
        raise BadRequest("a write token needs --scope: a region code or name, or UA for the "
                         "whole country")
    codes = [resolve_region(s) for s in scopes] or [COUNTRY]
    with open_service(db) as service:
        record, secret = service.create_token(name, codes, write, automated=automated)
    click.echo(f"created token {record.id} ({record.name}), scope {', '.join(record.scopes)}, "
               f"{'read-write' if record.write else 'read-only'}"
               f"{', automated' if automated else ''}; store it now, it is not shown again:")
    click.echo(secret)


@token.command("list")
@db_option
@friendly
def token_list(db: str | None) -> None:
    """List tokens (never their secrets)."""
    with open_service(db) as service:
        records = service.storage.tokens()
    if not records:
        click.echo("no tokens")
    for r in records:
        state = f"revoked {r.revoked}" if r.revoked else ("write" if r.write else "read")
        click.echo(f"{r.id}  {r.name:<20} {','.join(r.scopes):<25} {state}  created {r.created}")


@token.command("revoke")
@click.argument("token_id")
@db_option
@friendly
def token_revoke(token_id: str, db: str | None) -> None:
    """Revoke a token by id or name."""
    with open_service(db) as service:
        service.revoke_token(token_id)
    click.echo(f"revoked {token_id}")


# ---- ingest: one group; each ingester adds its subcommand from its own module ------------------

from tryvoga.cli.ingest import ingest  # noqa: E402

main.add_command(ingest)

from tryvoga.cli.cap import ingest_cap  # noqa: E402

ingest.add_command(ingest_cap)

# Statements become proposals; an operator accepts or rejects them (cli/statements.py).
from tryvoga.cli.statements import ingest_statement, proposal  # noqa: E402

ingest.add_command(ingest_statement)
main.add_command(proposal)

# Channel posts, the historical record, its statistics and replays (cli/records.py).
from tryvoga.cli.records import (  # noqa: E402
    history_items,
    import_history,
    ingest_channel,
    replay,
    start_demo,
    stats,
)

ingest.add_command(ingest_channel)
main.add_command(import_history)
main.add_command(stats)
main.add_command(replay)


# ---- webhooks: subscriptions and the delivery worker (cli/webhooks.py) -------------------------

from tryvoga.cli.webhooks import webhook, worker  # noqa: E402

main.add_command(webhook)
main.add_command(worker)
from tryvoga.cli.backup import backup, restore  # noqa: E402

main.add_command(backup)
main.add_command(restore)


# The alerts.in.ua and ukrainealarm façades' own records (cli/compat.py).
from tryvoga.cli.compat import compat  # noqa: E402
from tryvoga.cli.database import migrate, migrate_data  # noqa: E402

main.add_command(migrate)
main.add_command(migrate_data)

main.add_command(compat)

# Console operators: people with passwords (cli/operators.py).
from tryvoga.cli.operators import operator  # noqa: E402

main.add_command(operator)


if __name__ == "__main__":
    main()

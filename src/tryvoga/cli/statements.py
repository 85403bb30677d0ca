"""``tryvoga ingest statement FILE`` and ``tryvoga proposal list|show|accept|reject``.

Attached in ``tryvoga/cli/main.py`` (the statement command to the ``ingest`` group); the shared
helpers come from ``tryvoga.cli.kit``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from tryvoga.cli.kit import db_option, friendly, new_service, resolve_region
from tryvoga.domain.names import NameIndex
from tryvoga.domain.regions import load_catalogue
from tryvoga.errors import BadRequest
from tryvoga.ingest.proposals import ProposalDesk, proposal_json
from tryvoga.service import OPERATOR
from tryvoga.settings import Settings
from tryvoga.storage.migrations import open_storage
from tryvoga.storage.proposals import ProposalReader

P = ParamSpec("P")
R = TypeVar("R")

@contextmanager
def open_desk(db: str | None) -> Iterator[ProposalDesk]:
    settings = Settings.load(db=db)
    storage = open_storage(settings.db, settings.database_url)
    reader = ProposalReader(storage.database)
    try:
        catalogue = load_catalogue()
        yield ProposalDesk(new_service(storage), NameIndex(catalogue), reader)
    finally:
        reader.close()
        storage.close()


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


def _describe(item: dict[str, Any]) -> str:
    where = f"{item['region_name']} ({item['region']})"
    if item["kind"] == "alert":
        threats = ", ".join(t["type"] for t in item["threats"])
        what = f"alert {item['alert_type']} in {where}" + (f", threats {threats}"
                                                           if threats else "")
    elif item["kind"] == "all_clear":
        what = f"all clear ({item['alert_type']}) in {where}"
    else:
        what = f"incident {item['incident_kind']} in {where}, {item['status']}"
        if item.get("description"):
            what += f" [{item['description']}]"
    line = f"#{item['id']:<5} {item['state']:<9} {what}"
    if item.get("source"):
        line += f" — {item['source']}"
    return line + f"\n        “{item['evidence']}”"


@click.command("statement")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--source", default=None,
              help="who issued it, for sentences that name no source")
@click.option("--within", default=None,
              help="region (code or name) the statement is about, to resolve names in")
@click.option("--json", "as_json", is_flag=True, help="print the answer as JSON")
@db_option
@friendly
def ingest_statement(file: str, source: str | None, within: str | None, as_json: bool,
                     db: str | None) -> None:
    """Read a statement or news report in FILE (- for stdin) into proposals for an operator.

    Nothing is applied: accept or reject each proposal with ``tryvoga proposal``.
    """
    if file == "-":
        text = sys.stdin.read()
    else:
        try:
            text = Path(file).read_text("utf-8")
        except OSError as exc:
            raise BadRequest(f"cannot read {file}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise BadRequest(f"{file} is not UTF-8 text") from None
    if within is not None:

        within = resolve_region(within)
    with open_desk(db) as desk:
        result = desk.ingest(OPERATOR, text, source, within)
    if as_json:
        _echo_json(result.body)
        return
    proposals, unresolved = result.body["proposals"], result.body["unresolved"]
    if not result.created:
        click.echo("this statement was read before; its proposals as they stand:")
    click.echo(f"{len(proposals)} proposal{'s' if len(proposals) != 1 else ''}, "
               f"{len(unresolved)} unresolved place{'s' if len(unresolved) != 1 else ''}")
    for item in proposals:
        click.echo(_describe(item))
    for item in unresolved:
        candidates = "; ".join(f"{c['name']} ({c['code']})" for c in item["candidates"])
        click.echo(f"unresolved ({item['reason']}): {item['text']!r}"
                   + (f" — could be {candidates}" if candidates else ""))
    if any(p["state"] == "pending" for p in proposals):
        click.echo("accept or reject each with: tryvoga proposal accept|reject ID")


@click.group("proposal")
def proposal() -> None:
    """List, accept and reject events proposed by statements."""


@proposal.command("list")
@click.option("--state", type=click.Choice(["pending", "accepted", "rejected", "all"]),
              default="pending", show_default=True)
@click.option("--limit", type=click.IntRange(1, 5000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@db_option
@friendly
def proposal_list(state: str, limit: int, as_json: bool, db: str | None) -> None:
    """Proposals, newest first."""
    with open_desk(db) as desk:
        records = desk.list(OPERATOR, state, limit)
    items = [proposal_json(r) for r in records]
    if as_json:
        _echo_json({"proposals": items})
        return
    if not items:
        click.echo(f"no {'' if state == 'all' else state + ' '}proposals")
    for item in items:
        click.echo(_describe(item))


@proposal.command("accept")
@click.argument("proposal_id", type=int)
@db_option
@friendly
def proposal_accept(proposal_id: int, db: str | None) -> None:
    """Apply proposal PROPOSAL_ID: declare, end or report what it says."""
    with open_desk(db) as desk:
        result = desk.accept(OPERATOR, proposal_id)
    item = result.body["proposal"]
    applied = result.body["result"]
    if "alerts" in applied:
        done = "; ".join(f"alert {a['id']} {'declared' if a['created'] else 'already active'}"
                         for a in applied["alerts"])
    elif "alert" in applied:
        done = f"alert {applied['alert']['id']} ended"
    else:
        done = f"incident {applied['incident']['id']} reported"
    click.echo(f"accepted proposal {item['id']}: {done} in {item['region_name']}")


@proposal.command("reject")
@click.argument("proposal_id", type=int)
@click.option("--reason", default="")
@db_option
@friendly
def proposal_reject(proposal_id: int, reason: str, db: str | None) -> None:
    """Reject proposal PROPOSAL_ID: nothing is applied."""
    with open_desk(db) as desk:
        result = desk.reject(OPERATOR, proposal_id, reason)
    click.echo(f"rejected proposal {result.body['proposal']['id']}")


__all__ = ["ingest_statement", "proposal"]

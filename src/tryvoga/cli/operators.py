"""``tryvoga operator``: the people who use the console (operators.py, docs/console.md)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from tryvoga.cli.kit import db_option, friendly, open_service, resolve_region
from tryvoga.errors import BadRequest
from tryvoga.operators import Operators, check_password


@click.group()
def operator() -> None:
    """Create, list and disable console operators (people with a password, not tokens)."""


def _read_password() -> str:
    """From the terminal (asked twice, not echoed), or the first line of stdin."""
    if sys.stdin.isatty():
        password: str = click.prompt("password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    return check_password(password)


@operator.command("create")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, required=True,
              help="region code or name the operator may act in; repeatable; UA = all")
@click.option("--role", type=click.Choice(["operator", "approver"]), default="operator",
              show_default=True, help="approvers may also approve another operator's request")
@db_option
@friendly
def operator_create(name: str, scopes: tuple[str, ...], role: str, db: str | None) -> None:
    """Create an operator; the password is read from the terminal, or from stdin."""
    codes = [resolve_region(s) for s in scopes]
    password = _read_password()
    with open_service(db) as service:
        record = Operators(service.storage, service.catalogue).create(name, password, role,
                                                                      codes)
    click.echo(f"created {record.role} {record.name}, scope {', '.join(record.scopes)}")


@operator.command("list")
@db_option
@friendly
def operator_list(db: str | None) -> None:
    """List operators (never their password hashes)."""
    with open_service(db) as service:
        records = Operators(service.storage, service.catalogue).list()
    if not records:
        click.echo("no operators")
    now = datetime.now(UTC).timestamp()
    for r in records:
        state = (f"disabled {r.disabled}" if r.disabled else
                 "locked" if r.locked_until > now else "enabled")
        click.echo(f"{r.name:<20} {r.role:<9} {','.join(r.scopes):<25} {state}  "
                   f"created {r.created}")


@operator.command("disable")
@click.argument("name")
@db_option
@friendly
def operator_disable(name: str, db: str | None) -> None:
    """Disable an operator; their sessions end at once."""
    if not name.strip():
        raise BadRequest("give the operator's name")
    with open_service(db) as service:
        Operators(service.storage, service.catalogue).disable(name.strip())
    click.echo(f"disabled {name}")

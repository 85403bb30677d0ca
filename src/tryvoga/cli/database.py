"""``tryvoga migrate`` and ``tryvoga migrate-data``: the database's schema and its move to
PostgreSQL (``storage/migrations.py``, ``storage/transfer.py``)."""

from __future__ import annotations

import click

from tryvoga.cli.kit import db_option, friendly
from tryvoga.settings import Settings
from tryvoga.storage.engine import is_postgres_url, redact

database_url_option = click.option(
    "--database-url", default=None, metavar="URL",
    help="PostgreSQL URL [env TRYVOGA_DATABASE_URL]; without it, the SQLite file --db")


@click.command()
@db_option
@database_url_option
@friendly
def migrate(db: str | None, database_url: str | None) -> None:
    """Bring the database's schema up to this version (PostgreSQL: run once before starting
    nodes, and after every upgrade; SQLite files are also upgraded when opened)."""
    from tryvoga.storage.migrations import migrate as run

    settings = Settings.load(db=db, database_url=database_url)
    name, before, after = run(settings.db, settings.database_url)
    if before == after:
        click.echo(f"ok: {name} is at schema {after}, nothing to do")
    else:
        click.echo(f"ok: {name} migrated from schema {before} to {after}")


@click.command("migrate-data")
@click.option("--from", "source", required=True, metavar="FILE.db",
              help="the SQLite database to copy")
@click.option("--to", "target", required=True, metavar="postgresql://...",
              help="an empty PostgreSQL database (its schema is created)")
@friendly
def migrate_data(source: str, target: str) -> None:
    """Copy an SQLite installation into PostgreSQL; both hash chains are verified."""
    from tryvoga.errors import BadRequest
    from tryvoga.storage.transfer import transfer

    if not is_postgres_url(target):
        raise BadRequest("--to must be a PostgreSQL URL such as postgresql://user@host/db")
    report = transfer(source, target, lambda line: click.echo(line, err=True))
    seq, digest = report.target.head
    click.echo(f"ok: {report.target.events} events and {report.target.audit} audit records "
               f"copied to {redact(target)}; hash chains intact on both sides; head {seq} "
               f"{digest or '-'}")


__all__ = ["migrate", "migrate_data"]

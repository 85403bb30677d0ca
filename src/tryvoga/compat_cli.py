"""``tryvoga compat``: what the alerts.in.ua and ukrainealarm façades keep besides the log."""

from __future__ import annotations

import click

from tryvoga.settings import Settings
from tryvoga.storage.sqlite import SQLiteStorage


@click.group()
def compat() -> None:
    """The alerts.in.ua and ukrainealarm compatibility façades."""


@compat.command("webhooks")
@click.option("--json", "as_json", is_flag=True)
@click.option("--db", envvar="TRYVOGA_DB", default=None,
              help="SQLite database file [env TRYVOGA_DB; default tryvoga.db]")
def webhooks(as_json: bool, db: str | None) -> None:
    """List the webhooks registered through the ukrainealarm façade (/api/v3/webhook)."""
    from tryvoga.clikit import echo_json, friendly

    @friendly
    def run() -> None:
        storage = SQLiteStorage(Settings.load(db=db).db)
        try:
            with storage.writer() as tx:
                records = tx.compat_webhook_list()
        finally:
            storage.close()
        if as_json:
            echo_json({"webHooks": [dict(r.to_json(), owner=r.owner) for r in records]})
            return
        if not records:
            click.echo("no registrations")
        for r in records:
            regions = "every region" if r.region_ids is None else ", ".join(r.region_ids)
            click.echo(f"{r.id:>4}  {r.owner:<20} {r.url}  ({regions}; since {r.created})")

    run()

"""``tryvoga compat``: what the alerts.in.ua and ukrainealarm façades keep besides the log."""

from __future__ import annotations

import click

from tryvoga.settings import Settings
from tryvoga.storage.migrations import open_storage


@click.group()
def compat() -> None:
    """The alerts.in.ua and ukrainealarm compatibility façades."""


@compat.command("webhooks")
@click.option("--json", "as_json", is_flag=True)
@click.option("--db", envvar="TRYVOGA_DB", default=None,
              help="SQLite database file [env TRYVOGA_DB; default tryvoga.db]")
def webhooks(as_json: bool, db: str | None) -> None:
    """List the webhooks registered through the ukrainealarm façade (/api/v3/webhook), with
    the delivery subscriptions of each (`tryvoga webhook attempts ID` shows their attempts)."""
    from tryvoga.cli.kit import echo_json, friendly

    @friendly
    def run() -> None:
        settings = Settings.load(db=db)
        storage = open_storage(settings.db, settings.database_url)
        try:
            with storage.writer() as tx:
                registrations = tx.ukrainealarm_registrations()
                records = [(r, registrations.subscriptions(r.id))
                           for r in registrations.listing()]
        finally:
            storage.close()
        if as_json:
            echo_json({"webHooks": [dict(r.to_json(), owner=r.owner, subscriptions=[
                {"id": s.id, "format": s.format, "status": s.status,
                 "status_reason": s.status_reason} for s in subs]) for r, subs in records]})
            return
        if not records:
            click.echo("no registrations")
        for r, subs in records:
            regions = "every region" if r.region_ids is None else ", ".join(r.region_ids)
            active = sum(s.status == "active" for s in subs)
            click.echo(f"{r.id:>4}  {r.owner:<20} {r.url}  ({regions}; since {r.created}; "
                       f"{active} of {len(subs)} delivery subscriptions active)")

    run()

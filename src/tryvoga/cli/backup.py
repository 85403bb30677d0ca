"""``tryvoga backup FILE`` and ``tryvoga restore FILE``: SQLite installations
(``storage/backup.py``). PostgreSQL installations use pg_dump / pg_restore (docs/deploy.md)."""

from __future__ import annotations

import click

from tryvoga.cli.kit import db_option, friendly
from tryvoga.settings import Settings
from tryvoga.storage.backup import Copied
from tryvoga.storage.backup import backup as copy_out
from tryvoga.storage.backup import restore as copy_in


def _done(verb: str, copied: Copied) -> None:
    click.echo(f"{verb} {copied.path}: {copied.events} events, hash chain intact; head "
               f"{copied.head_seq} {copied.head_hash or '-'}; {copied.size} bytes")


@click.command("backup")
@click.argument("file")
@db_option
@friendly
def backup(file: str, db: str | None) -> None:
    """Copy the live database to FILE (a new file), consistent while servers write, and
    verify the copy's hash chain."""
    _done("backed up to", copy_out(Settings.load(db=db).db, file))


@click.command("restore")
@click.argument("file")
@db_option
@friendly
def restore(file: str, db: str | None) -> None:
    """Make the database (--db, a new file) from the backup FILE and verify its hash chain;
    then start `tryvoga serve --db` on it."""
    _done("restored into", copy_in(file, Settings.load(db=db).db))


__all__ = ["backup", "restore"]

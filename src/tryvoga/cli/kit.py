"""What every ``tryvoga`` command shares: the ``--db`` option, one-line errors, the service.

Kept apart from ``cli/main.py`` so that each capability's commands (delivery, ingest, ...) can use
it without importing the whole command tree.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import click

from tryvoga.api.formats import outbox
from tryvoga.domain.names import NameIndex
from tryvoga.domain.regions import load_catalogue
from tryvoga.errors import BadRequest, TryvogaError
from tryvoga.service import Service
from tryvoga.settings import Settings
from tryvoga.storage.base import Storage
from tryvoga.storage.migrations import open_storage

P = ParamSpec("P")
R = TypeVar("R")

db_option = click.option("--db", envvar="TRYVOGA_DB", default=None,
                         help="SQLite database file [env TRYVOGA_DB; default tryvoga.db]")


def friendly(func: Callable[P, R]) -> Callable[P, R]:
    """Bad input prints one clear line and exits non-zero, never a traceback."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except TryvogaError as exc:
            click.echo(f"error: {exc.message}", err=True)
            sys.exit(1 if exc.status < 500 else 2)

    return wrapper


def new_service(storage: Storage) -> Service:
    """The service a command writes through: with every webhook format
    (``api/formats.py``), so that a command queues the deliveries the server would."""
    catalogue = load_catalogue()
    return Service(storage, catalogue, outbox=outbox(catalogue))


@contextmanager
def open_service(db: str | None) -> Iterator[Service]:
    settings = Settings.load(db=db)  # TRYVOGA_DATABASE_URL, if set, selects PostgreSQL
    storage = open_storage(settings.db, settings.database_url)
    try:
        yield new_service(storage)
    finally:
        storage.close()


def resolve_region(text: str, within: str | None = None) -> str:
    """A KATOTTG code, UA, or a name in any common spelling that fits exactly one region."""
    catalogue = load_catalogue()
    code = text.strip().upper()
    if code in catalogue:
        return code
    found = NameIndex(catalogue).find(text, within=within)
    if found.region is not None:
        return found.region.code
    if found.ambiguous:
        names = "; ".join(f"{r.name_en} ({r.code})" for r in found.matches[:8])
        raise BadRequest(f"{text!r} fits several regions: {names}; give the code or "
                         "--within a parent")
    raise BadRequest(f"no region matches {text!r}")


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))

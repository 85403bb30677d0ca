"""The ``tryvoga ingest`` command group.

Each ingester attaches its own subcommand here (``ingest channel``, ``ingest cap``,
``ingest statement``), from its own module, with ``ingest.add_command(...)`` in ``cli/main.py``.
"""

from __future__ import annotations

import click


@click.group()
def ingest() -> None:
    """Feed outside input into Tryvoga: channel posts, CAP messages, statements."""


__all__ = ["ingest"]

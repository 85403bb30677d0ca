"""Wake-ups between nodes on one PostgreSQL database: LISTEN/NOTIFY.

Every committed append notifies ``tryvoga_events`` (``storage/sql.py``). Each server process
keeps one connection of its own listening there and wakes its follower for each notification;
the follower then reads the log by sequence. A notification carries nothing the follower
trusts: a lost one costs at most one poll interval (``--poll-interval``), and after any
reconnection the follower is woken once, for whatever was committed while nobody listened.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from tryvoga.storage.engine import EVENTS_CHANNEL
from tryvoga.storage.sql import SQLStorage

log = logging.getLogger(__name__)

RETRY = 1.0  # seconds between attempts to listen again after the connection was lost


async def listen(storage: SQLStorage, wake: Callable[[], None], *,
                 retry: float = RETRY) -> None:
    """Wake on every notification until cancelled, reconnecting by itself."""
    import psycopg

    url = getattr(storage.database, "url", "")
    quiet = False
    while True:
        try:
            conn = await psycopg.AsyncConnection.connect(
                url, autocommit=True, connect_timeout=3, application_name="tryvoga-listen",
                keepalives=1, keepalives_idle=5, keepalives_interval=2, keepalives_count=3)
            async with conn:
                await conn.execute(f"LISTEN {EVENTS_CHANNEL}")
                if quiet:
                    log.warning("listening for other nodes' events again")
                quiet = False
                wake()  # whatever was committed while this node was not listening
                async for _ in conn.notifies():
                    wake()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not quiet:
                log.warning("not listening for other nodes' events (polling meanwhile): %s",
                            str(exc).strip() or type(exc).__name__)
                quiet = True
        await asyncio.sleep(retry)


__all__ = ["listen"]

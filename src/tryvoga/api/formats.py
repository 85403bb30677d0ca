"""The webhook formats every writer of the log queues deliveries in.

The outbox (``delivery/outbox.py``) renders each event in the formats of the subscriptions it
matches, inside the command's transaction. The delivery package's own format is ``native``;
the ukrainealarm façade's bodies are rendered by ``ukrainealarm_webhooks.py``. Every service
that writes (the node, and each command of the CLI) is given these, here in one place, so that
no writer queues for some subscriptions and silently not for others.
"""

from __future__ import annotations

from tryvoga.api import ukrainealarm_webhooks
from tryvoga.delivery.formats import Formats
from tryvoga.delivery.outbox import Outbox
from tryvoga.domain.regions import Catalogue


def webhook_formats() -> Formats:
    return Formats({"ukrainealarm": ukrainealarm_webhooks.renderer_for})


def outbox(catalogue: Catalogue) -> Outbox:
    """An outbox with every format, for a service built outside ``tryvoga.node``."""
    return Outbox(catalogue, webhook_formats())


__all__ = ["outbox", "webhook_formats"]

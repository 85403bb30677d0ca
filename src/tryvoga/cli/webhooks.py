"""``tryvoga webhook create|list|delete|attempts`` and ``tryvoga worker``.

Attached to the main group in ``tryvoga/cli/main.py``; the shared helpers come from
``tryvoga.cli.kit``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import Callable, Iterator
from typing import Any, ParamSpec, TypeVar

import click

from tryvoga import logs
from tryvoga.api.bodies import CreateWebhook
from tryvoga.cli.kit import db_option, friendly, resolve_region
from tryvoga.delivery.safety import Policy
from tryvoga.delivery.store import DeliveryStore
from tryvoga.delivery.subscriptions import Webhooks
from tryvoga.delivery.worker import DeliveryWorker
from tryvoga.domain.regions import load_catalogue
from tryvoga.eventloop import new_event_loop
from tryvoga.service import OPERATOR
from tryvoga.settings import SETTINGS, Settings

P = ParamSpec("P")
R = TypeVar("R")

@contextlib.contextmanager
def open_webhooks(db: str | None) -> Iterator[Webhooks]:
    settings = Settings.load(db=db)
    store = DeliveryStore(settings.database_url or settings.db)
    try:
        yield Webhooks(store, load_catalogue(), Policy(settings.webhook_allow_networks))
    finally:
        store.close()


@click.group("webhook")
def webhook() -> None:
    """Create, list and delete webhook subscriptions; see their delivery attempts."""


@webhook.command("create")
@click.argument("url")
@click.option("--region", "regions", multiple=True,
              help="region code or name; repeatable; its subtree, plus alerts from above")
@click.option("--within", default=None,
              help="parent region (code or name) to resolve the --region names in")
@click.option("--type", "types", multiple=True, help="alert type; repeatable; default all")
@click.option("--kind", "kinds", multiple=True,
              help="event kind such as alert.declared or alert.*; repeatable; default all")
@click.option("--description", default="")
@click.option("--format", "format_name", default="native", show_default=True)
@db_option
@friendly
def webhook_create(url: str, regions: tuple[str, ...], within: str | None,
                   types: tuple[str, ...], kinds: tuple[str, ...], description: str,
                   format_name: str, db: str | None) -> None:
    """Subscribe URL; the signing secret is printed once, alone on the last line."""
    parent = resolve_region(within) if within else None
    body: dict[str, Any] = {"url": url, "description": description, "format": format_name}
    # A filter left out is the default (all regions, types, kinds); an empty list is refused.
    if regions:
        body["regions"] = [resolve_region(r, parent) for r in regions]
    if types:
        body["types"] = list(types)
    if kinds:
        body["kinds"] = list(kinds)
    with open_webhooks(db) as hooks:
        # The same model and checks as POST /api/v1/webhooks (api/bodies.py).
        answer = hooks.create(OPERATOR, CreateWebhook.of(**body).fields()).body
    item = answer["webhook"]
    click.echo(f"created webhook {item['id']} → {item['url']} (regions "
               f"{', '.join(item['regions']) or 'UA'}; types {', '.join(item['types']) or 'all'}"
               f"; kinds {', '.join(item['kinds']) or 'all'}); its signing secret, not shown "
               "again:")
    click.echo(answer["secret"])


@webhook.command("list")
@click.option("--json", "as_json", is_flag=True)
@db_option
@friendly
def webhook_list(as_json: bool, db: str | None) -> None:
    """List subscriptions (never their secrets)."""
    with open_webhooks(db) as hooks:
        items = hooks.list(OPERATOR)
    if as_json:
        click.echo(json.dumps({"webhooks": items}, ensure_ascii=False, indent=2))
        return
    if not items:
        click.echo("no webhooks")
    for item in items:
        status = item["status"] + (f" ({item['status_reason']})" if item["status_reason"]
                                   else "")
        click.echo(f"{item['id']}  {status:<8} {item['url']}  regions "
                   f"{','.join(item['regions']) or 'UA'} types "
                   f"{','.join(item['types']) or 'all'} kinds {','.join(item['kinds']) or 'all'}")


@webhook.command("delete")
@click.argument("webhook_id")
@db_option
@friendly
def webhook_delete(webhook_id: str, db: str | None) -> None:
    """Delete a subscription; its pending deliveries are cancelled."""
    with open_webhooks(db) as hooks:
        hooks.delete(OPERATOR, webhook_id)
    click.echo(f"deleted {webhook_id}")


@webhook.command("attempts")
@click.argument("webhook_id")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@db_option
@friendly
def webhook_attempts(webhook_id: str, limit: int, as_json: bool, db: str | None) -> None:
    """Delivery attempts of a subscription, newest first."""
    with open_webhooks(db) as hooks:
        found = hooks.attempts(OPERATOR, webhook_id, limit)
    if as_json:
        click.echo(json.dumps(found, ensure_ascii=False, indent=2))
        return
    hook = found["webhook"]
    click.echo(f"{hook['id']} {hook['status']}"
               f"{' (' + hook['status_reason'] + ')' if hook['status_reason'] else ''}")
    if not found["attempts"]:
        click.echo("no attempts yet")
    for item in found["attempts"]:
        outcome = "delivered" if item["delivered"] else (item["error"] or "failed")
        status = item["status"] if item["status"] is not None else "-"
        retry = f"; next try {item['next_attempt_at']}" if item["next_attempt_at"] else ""
        click.echo(f"{item['time']}  event {item['event_seq']:<7} HTTP {status!s:<4} "
                   f"{item['latency_ms']:8.1f} ms  {outcome}{retry}")


_WORKER_SETTINGS = [s for s in SETTINGS
                    if (s.name.startswith("webhook_") and s.name != "webhook_worker")
                    or s.name in ("db", "poll_interval", "log_level", "log_format")]


def _worker_options(func: Callable[..., R]) -> Callable[..., R]:
    for setting in reversed(_WORKER_SETTINGS):
        func = click.option(setting.flag, setting.name, default=None, metavar="VALUE",
                            help=f"{setting.help} [{setting.env}; {setting.default}]")(func)
    return func


@click.command("worker")
@_worker_options
@friendly
def worker(**flags: str | None) -> None:
    """Deliver webhooks as a process of its own (alongside or instead of the servers' own
    workers; any number of them can share one database)."""
    settings = Settings.load(None, **flags)
    logs.configure(settings.log_level, settings.log_format)  # redacted, text or JSON
    store = DeliveryStore(settings.database_url or settings.db)
    click.echo(f"delivering webhooks from {store.path} ({settings.webhook_concurrency} in "
               "flight at most); stop with Ctrl-C or SIGTERM", err=True)

    async def run() -> None:
        delivery = DeliveryWorker(store, settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        delivery.start()
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait([stopping, delivery.finished()],
                           return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        await delivery.stop()
        click.echo(f"stopped: {delivery.delivered} delivered, {delivery.failed} failed "
                   "attempts", err=True)

    try:
        # The loop the server runs its in-process worker on (uvloop where installed).
        with asyncio.Runner(loop_factory=lambda: new_event_loop(settings.event_loop)) as runner:
            runner.run(run())
    finally:
        store.close()

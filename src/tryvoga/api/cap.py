"""CAP 1.2 over HTTP: ``/cap/{identifier}.xml``, ``/cap/feed.atom``, ``/cap/feed.rss``.

The CAP projection and the poller of ``--cap-feeds`` are the node's (``tryvoga.node``); the
projection follows the read side, one event at a time. A message never changes once
published, so its bytes are cached by identifier; the feeds are rendered once per state
version (and per base URL, and again when an embargo ends).
"""

from __future__ import annotations

from collections import OrderedDict

from aiohttp import web

from tryvoga.api.context import CONTEXT, Context, context_of
from tryvoga.api.http import RenderCache, Rendered, cached_response, rendered, second_of
from tryvoga.cap import feeds, render
from tryvoga.cap.projection import Message
from tryvoga.domain.events import now_utc
from tryvoga.errors import BadRequest, NotFound

MESSAGE_CACHE = 4096


class CapSide:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.publisher = render.check(context.settings)
        self.projection = context.node.cap
        self.feed_cache = RenderCache()
        self._messages: OrderedDict[int, Rendered] = OrderedDict()
        self._listing: tuple[tuple[int, int], list[Message]] | None = None

    def message(self, message: Message) -> Rendered:
        item = self._messages.get(message.seq)
        if item is None:
            body = self.publisher.render(message, self.context.catalogue)
            item = Rendered.of(body, message.time, render.CAP_TYPE)
            self._messages[message.seq] = item
            if len(self._messages) > MESSAGE_CACHE:
                self._messages.popitem(last=False)
        else:
            self._messages.move_to_end(message.seq)
        return item

    def listing(self, now: str) -> list[Message]:
        """The feed's entries, newest first: worked out once per state version and embargo
        count, whichever page is asked for."""
        projection = self.projection
        key = (projection.seq, projection.hidden_count(now))
        if self._listing is None or self._listing[0] != key:
            self._listing = (key, projection.feed(now, feeds.RECENT_SECONDS))
        return self._listing[1]

    def feed(self, kind: str, base: str, before: int | None = None) -> Rendered:
        projection = self.projection
        now = now_utc()

        def build() -> Rendered:
            messages = self.listing(now)
            updated = projection.feed_time(now)
            if kind == "atom":
                body = feeds.atom(messages, self.publisher, self.context.catalogue, base,
                                  updated, before)
            else:
                body = feeds.rss(messages, self.publisher, self.context.catalogue, base,
                                 updated, lambda m: len(self.message(m).body), before)
            return rendered(body, projection.state,
                            feeds.ATOM_TYPE if kind == "atom" else feeds.RSS_TYPE,
                            modified=second_of(updated))

        key = f"{kind}|{base}|{projection.hidden_count(now)}|{before}"
        return self.feed_cache.get(projection.seq, key, build)


CAP = web.AppKey("cap", CapSide)


def _base(request: web.Request, side: CapSide) -> str:
    return side.context.settings.cap_base_url or f"{request.scheme}://{request.host}"


async def get_message(request: web.Request) -> web.Response:
    ctx = context_of(request)
    await ctx.actor(request, required=False)
    side = request.app[CAP]
    identifier = request.match_info["identifier"]
    seq = side.publisher.seq_of(identifier)
    message = None if seq is None else side.projection.messages.get(seq)
    if message is None or not side.projection.public(message, now_utc()):
        raise NotFound(f"no CAP message {identifier!r} from {side.publisher.sender}",
                       code="cap_message_not_found")
    return cached_response(request, side.message(message))


def _before(request: web.Request) -> int | None:
    """The page cursor: ``?before=N``, the sequence number the page's entries come before."""
    text = request.query.get("before")
    if text is None:
        return None
    if not (text.isascii() and text.isdigit()) or text.startswith("0") or len(text) > 18:
        raise BadRequest(f"before={text!r}: expected the positive sequence number a page of "
                         "the feed starts below, as in the feed's next link",
                         code="invalid_input", field="before", status=400)
    return int(text)


async def atom_feed(request: web.Request) -> web.Response:
    await context_of(request).actor(request, required=False)
    side = request.app[CAP]
    return cached_response(request, side.feed("atom", _base(request, side), _before(request)))


async def rss_feed(request: web.Request) -> web.Response:
    await context_of(request).actor(request, required=False)
    side = request.app[CAP]
    return cached_response(request, side.feed("rss", _base(request, side), _before(request)))


def add_routes(app: web.Application) -> None:
    app[CAP] = CapSide(app[CONTEXT])
    app.router.add_get("/cap/feed.atom", atom_feed)
    app.router.add_get("/cap/feed.rss", rss_feed)
    app.router.add_get("/cap/{identifier}.xml", get_message)

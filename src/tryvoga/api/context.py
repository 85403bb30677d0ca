"""What every request handler shares: the node it serves, and the request's principal.

Route modules import ``Context`` and ``context_of`` from here; ``app.py`` imports the route
modules. Nothing here registers a listener or starts a task: ``tryvoga.node`` assembles the
node, ``create_app`` adds the routes.
"""

from __future__ import annotations

from aiohttp import web

from tryvoga.api.http import RenderCache
from tryvoga.api.tokens import Tokens
from tryvoga.errors import Unauthorized
from tryvoga.node import Node
from tryvoga.service import Actor


class Context:
    """The node's pieces as the handlers use them, with the render cache of the native API."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.settings = node.settings
        self.catalogue = node.catalogue
        self.names = node.names
        self.storage = node.storage
        self.service = node.service
        self.follower = node.follower
        self.command = node.command  # a service command, on the writer thread
        self.write = node.write  # any other write to the database, on the writer thread
        self.read = node.read  # a read of the database, off the event loop
        self.cache = RenderCache()
        # Bearer tokens, looked up on threads of their own; reads' remembered a few seconds.
        self.tokens = Tokens(node.service)

    async def actor(self, request: web.Request, *, required: bool) -> Actor | None:
        """The request's bearer token as an actor (None: none given where none is needed);
        looked up off the event loop (``api/tokens.py``)."""
        header = request.headers.get("Authorization", "")
        secret = None
        if header.lower().startswith("bearer "):
            secret = header[7:].strip()
        elif header:
            raise Unauthorized("Authorization must be 'Bearer <token>'", code="token_invalid")
        if secret is None and not required and self.settings.public_reads:
            return None
        # A write always asks the database; a read may take a token found seconds ago.
        if required:
            return await self.tokens.fresh(secret)
        return await self.tokens.lookup(secret)


CONTEXT = web.AppKey("context", Context)


def context_of(request: web.Request) -> Context:
    return request.app[CONTEXT]


__all__ = ["CONTEXT", "Context", "context_of"]

"""The web faces of Tryvoga: the public map and region pages (``public.py``, docs/web.md)
and the operator console (``console.py``, docs/console.md)."""

from __future__ import annotations

from aiohttp import web

from tryvoga.web import console, public


def add_routes(app: web.Application) -> None:
    public.add_routes(app)
    console.add_routes(app)


__all__ = ["add_routes"]

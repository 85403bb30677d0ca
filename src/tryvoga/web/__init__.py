"""The web faces of Tryvoga: the public map and region pages (``public.py``)."""

from __future__ import annotations

from aiohttp import web


def add_routes(app: web.Application) -> None:
    from tryvoga.web import public

    public.add_routes(app)


__all__ = ["add_routes"]

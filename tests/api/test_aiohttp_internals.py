"""The parts of aiohttp that Tryvoga relies on and aiohttp does not document
(``tryvoga/api/aiohttp_internals.py`` lists them): each is still there."""

from __future__ import annotations

import pytest

from tryvoga.api import aiohttp_internals


async def test_the_installed_aiohttp_has_every_internal_we_use() -> None:
    changed = await aiohttp_internals.changes()
    assert not changed, ("aiohttp changed what Tryvoga relies on (see "
                         "src/tryvoga/api/aiohttp_internals.py):\n" + "\n".join(changed))


async def test_the_check_names_what_is_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    from aiohttp.web_protocol import RequestHandler

    monkeypatch.setattr(aiohttp_internals, "HANDLER_METHODS",
                        (*aiohttp_internals.HANDLER_METHODS, "_no_such_helper"))
    monkeypatch.setattr(RequestHandler, "handle_error", lambda self, request: None)
    changed = await aiohttp_internals.changes()
    assert "RequestHandler._no_such_helper is gone" in changed
    assert any(line.startswith("RequestHandler.handle_error takes") for line in changed)


def test_aiohttp_is_bounded_below_its_next_minor_release() -> None:
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml")
                            .read_text("utf-8"))
    [spec] = [d for d in project["project"]["dependencies"] if d.startswith("aiohttp")]
    assert ",<3.15" in spec.replace(" ", ""), spec

"""A real PostgreSQL for tests: each test gets a database of its own, dropped afterwards.

The server is ``TRYVOGA_TEST_POSTGRES`` (default postgresql://postgres@127.0.0.1:5432/postgres,
trust authentication). Where it cannot be reached the test is skipped, except in CI
(``CI=true``), where it fails: both engines must run there.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

ADMIN_URL = os.environ.get("TRYVOGA_TEST_POSTGRES",
                           "postgresql://postgres@127.0.0.1:5432/postgres")
_reason: list[str | None] = []


def _unavailable() -> str | None:
    if not _reason:
        import psycopg

        try:
            with psycopg.connect(ADMIN_URL, connect_timeout=3):
                _reason.append(None)
        except Exception as exc:
            _reason.append(f"PostgreSQL at {ADMIN_URL} unreachable: {exc}")
    return _reason[0]


def require_postgres() -> None:
    reason = _unavailable()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: PostgreSQL tests must run)")
    pytest.skip(reason)


def url_for(name: str) -> str:
    base, _, _ = ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


@contextmanager
def fresh_database() -> Iterator[str]:
    """The URL of a newly created, empty database, dropped (with any connection) after."""
    import psycopg

    require_postgres()
    name = f"tryvoga_test_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url_for(name)
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_database() as url:
        yield url

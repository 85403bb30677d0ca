"""Operators are people: argon2id password hashes, logins with lockout, server-side sessions.

Every change runs in a write transaction of the event log's storage and is recorded in the
hash-chained audit log in the same commit: operators created and disabled, logins (succeeded,
failed, refused while locked), lockouts and logouts. A session is a random id in the operator's
cookie; only its SHA-256 is stored, beside the session's CSRF token. A new id is made at every
login (no fixation). A session ends at logout, after ``idle`` seconds unused, after
``MAX_SESSION`` seconds in all, or when its operator is disabled.

Lockout: ``failures`` wrong passwords in a row lock the account for ``lockout`` seconds, and
each further failure doubles that, up to a day. While locked, even the right password is
refused (the answer does not say whether it was right).
"""

from __future__ import annotations

import hashlib
import secrets
import time as clock
from collections.abc import Iterable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from tryvoga.domain.events import now_utc
from tryvoga.domain.regions import COUNTRY, Catalogue
from tryvoga.errors import BadRequest, Conflict, NotFound, Unauthorized
from tryvoga.service import Actor
from tryvoga.storage.base import Storage
from tryvoga.storage.operators import ROLES, OperatorReader, OperatorRecord, SessionRecord

MAX_SESSION = 12 * 3600
MAX_LOCKOUT = 86400
MIN_PASSWORD = 12
_HASHER = PasswordHasher()  # argon2id with the library's current parameters
# Verified when the name is unknown, so that a wrong name takes as long as a wrong password.
_DUMMY = _HASHER.hash("tryvoga: no such operator")


def hash_session(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def actor_of(record: OperatorRecord) -> Actor:
    """The operator as the Service sees them: a person, bound by the two-person rule."""
    return Actor(f"operator:{record.name}", record.scopes, True, bound=True)


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise BadRequest(f"a password needs at least {MIN_PASSWORD} characters",
                         field="password")
    if len(password) > 1024:
        raise BadRequest("a password has at most 1024 characters", field="password")
    return password


@dataclass(frozen=True, slots=True)
class Login:
    session_id: str  # the cookie's value, never stored
    csrf: str
    operator: OperatorRecord


class LoginRefused(Unauthorized):
    """A wrong name or password, or a locked account (the message says which, never which of
    name and password was wrong)."""


class Operators:
    def __init__(self, storage: Storage, catalogue: Catalogue, *, failures: int = 5,
                 lockout: int = 300, idle: int = 3600) -> None:
        self.storage = storage
        self.catalogue = catalogue
        self.failures = failures
        self.lockout = lockout
        self.idle = idle

    # ---- administration (the CLI) ----------------------------------------------------------

    def create(self, name: str, password: str, role: str, scopes: Iterable[str],
               by: str = "cli") -> OperatorRecord:
        name = name.strip()
        if not name or len(name) > 64 or not all(c.isalnum() or c in "-_." for c in name):
            raise BadRequest("an operator's name is 1-64 letters, digits, '-', '_' or '.'",
                             field="name")
        if role not in ROLES:
            raise BadRequest(f"role must be one of {', '.join(ROLES)}", field="role")
        codes = []
        for scope in scopes or [COUNTRY]:
            code = scope.strip().upper()
            if code not in self.catalogue:
                raise NotFound(f"scope: unknown region {scope!r}", code="region_not_found",
                               field="scope")
            codes.append(code)
        codes = list(dict.fromkeys(codes))
        hashed = _HASHER.hash(check_password(password))
        time = now_utc()
        with self.storage.writer() as tx:
            tables = tx.operators()
            if tables.operator(name) is not None:
                raise Conflict(f"an operator named {name!r} already exists",
                               code="operator_name_taken", field="name")
            tables.operator_insert(name, hashed, role, codes, time)
            tx.audit(time, by, "operator.created", {"name": name, "role": role,
                                                    "scopes": codes})
            record = tables.operator(name)
        assert record is not None
        return record

    def disable(self, name: str, by: str = "cli") -> None:
        time = now_utc()
        with self.storage.writer() as tx:
            if not tx.operators().operator_disable(name, time):
                raise NotFound(f"no enabled operator named {name!r}", code="operator_not_found")
            tx.audit(time, by, "operator.disabled", {"name": name})

    def list(self) -> list[OperatorRecord]:
        with self.storage.writer() as tx:
            return tx.operators().operators()

    # ---- logins and sessions ---------------------------------------------------------------

    def login(self, reader: OperatorReader, name: str, password: str, remote: str) -> Login:
        """Verify (slow, outside the writer), then record the outcome in one transaction."""
        with reader.lock:
            record = reader.operator(name)
        ok = False
        try:
            ok = _HASHER.verify(record.password if record else _DUMMY, password)
        except (VerificationError, InvalidHashError):
            ok = False
        ok = ok and record is not None
        now = clock.time()
        time = now_utc()
        with self.storage.writer() as tx:
            tables = tx.operators()
            current = tables.operator(name)
            where = {"name": name[:64], "remote": remote}
            if current is None or current.disabled is not None:
                tx.audit(time, "console", "login.failed", {**where, "why": "unknown or disabled"})
                outcome: Login | str = "bad"
            elif current.locked_until > now:
                tx.audit(time, "console", "login.refused", {**where, "why": "locked",
                                                            "until": current.locked_until})
                outcome = "locked"
            elif not ok:
                failures = current.failures + 1
                locked_until = 0.0
                if failures >= self.failures:
                    locked_until = now + min(MAX_LOCKOUT,
                                             self.lockout * 2 ** (failures - self.failures))
                tables.login_failed(name, failures, locked_until)
                tx.audit(time, "console", "login.failed", {**where, "why": "password",
                                                           "failures": failures})
                if locked_until:
                    tx.audit(time, "console", "operator.locked", {"name": name,
                                                                  "until": locked_until})
                outcome = "locked" if locked_until else "bad"
            else:
                session_id = secrets.token_urlsafe(32)
                csrf = secrets.token_urlsafe(32)
                digest = hash_session(session_id)
                tables.session_start(digest, name, csrf, now)
                tx.audit(time, f"operator:{name}", "login.succeeded",
                         {**where, "session": digest[:12]})
                outcome = Login(session_id, csrf, current)
        if isinstance(outcome, Login):
            return outcome
        if outcome == "locked":
            raise LoginRefused("too many failed logins: this account is locked for a while",
                               code="operator_locked")
        raise LoginRefused("wrong name or password", code="login_failed")

    def session(self, reader: OperatorReader, session_id: str | None
                ) -> tuple[SessionRecord, OperatorRecord] | None:
        """The live session behind a cookie, or None."""
        if not session_id or len(session_id) > 200:
            return None
        now = clock.time()
        with reader.lock:
            session = reader.session(hash_session(session_id))
            record = None if session is None else reader.operator(session.operator)
        if (session is None or record is None or session.ended is not None
                or record.disabled is not None or now - session.seen > self.idle
                or now - session.created > MAX_SESSION):
            return None
        if now - session.seen > 30:  # a write now and then, not at every page
            with self.storage.writer() as tx:
                tx.operators().session_seen(session.id, now)
        return session, record

    def logout(self, session: SessionRecord) -> None:
        time = now_utc()
        with self.storage.writer() as tx:
            if tx.operators().session_end(session.id, clock.time()):
                tx.audit(time, f"operator:{session.operator}", "logout",
                         {"session": session.id[:12]})


__all__ = ["Login", "LoginRefused", "Operators", "actor_of", "check_password", "hash_session"]

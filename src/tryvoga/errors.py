"""Errors that reach a user, each with a stable code.

Every error answer, from any endpoint, has the one shape
``{"error": {"code": "...", "message": "...", "status": 404, "field": "..."}}``
(``field`` only where one input is to blame). The codes are listed in ``docs/errors.md``.

    TryvogaError                      base: code, message, HTTP status, field
    ├── BadRequest (400/413/422)      input that cannot be accepted
    ├── Unauthorized (401)            no token, or an unknown or revoked one
    ├── Forbidden (403)               a token outside its scope
    ├── NotFound (404)                unknown region, alert, incident, path
    ├── Conflict (409)                a change the current state does not allow
    ├── StorageError (500/503)        a database that cannot be used (e.g. newer schema)
    └── Overloaded (503)              too many commands waiting: Retry-After says when
"""

from __future__ import annotations

from typing import Any


class TryvogaError(Exception):
    status = 500
    default_code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.field = field
        if status is not None:
            self.status = status

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message,
                                "status": self.status}
        if self.field is not None:
            body["field"] = self.field
        return {"error": body}


class BadRequest(TryvogaError):
    status = 422
    default_code = "invalid_input"


class Unauthorized(TryvogaError):
    status = 401
    default_code = "unauthorized"


class Forbidden(TryvogaError):
    status = 403
    default_code = "forbidden"


class NotFound(TryvogaError):
    status = 404
    default_code = "not_found"


class Conflict(TryvogaError):
    status = 409
    default_code = "conflict"


class StorageError(TryvogaError):
    status = 503
    default_code = "storage_unavailable"


class Overloaded(TryvogaError):
    """More commands wait for the writer than ``--write-queue`` allows: try again later."""

    status = 503
    default_code = "overloaded"

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after

"""Domain errors raised by services.

Routes turn them into a flash message (pages) or a JSON error body (API);
each carries the HTTP status and the machine-readable code the API uses.
"""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: str, *, fields: dict | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        if code:
            self.code = code

    def to_dict(self) -> dict:
        body: dict = {"code": self.code, "message": self.message}
        if self.fields:
            body["fields"] = self.fields
        return {"error": body}


class InvalidInput(DomainError):
    status = 422
    code = "invalid_input"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class OutOfScope(NotFound):
    """The actor may not see this object. Reported exactly like a missing one."""


class Forbidden(DomainError):
    """The actor may see the object but not do this to it."""

    status = 403
    code = "forbidden"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class TeamFull(Conflict):
    code = "team_full"


class DuplicateCode(Conflict):
    code = "duplicate_code"

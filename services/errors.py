"""Domain errors raised by services; `api/errors.py` maps each to one HTTP status."""

from __future__ import annotations


class ServiceError(Exception):
    """Base for every error a service raises on purpose."""

    title = "Request failed"

    def __init__(self, detail: str, *, keep_changes: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        # True when what the request recorded must be committed despite the refusal
        # (a failed login attempt, an ineligible screening).
        self.keep_changes = keep_changes


class NotFound(ServiceError):
    """No such record, or not one the caller may see (the two are not told apart)."""

    title = "Not found"


class Forbidden(ServiceError):
    title = "Forbidden"


class Unauthorized(ServiceError):
    title = "Unauthorized"


class Conflict(ServiceError):
    title = "Conflict"


class Invalid(ServiceError):
    """Field values that are well-formed but not acceptable; ``errors`` names each field."""

    title = "Validation failed"

    def __init__(
        self,
        errors: dict[str, list[str]],
        detail: str | None = None,
        *,
        keep_changes: bool = False,
    ) -> None:
        super().__init__(detail or "One or more fields are invalid.", keep_changes=keep_changes)
        self.errors = errors


class RateLimited(ServiceError):
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int, keep_changes: bool = False) -> None:
        super().__init__(detail, keep_changes=keep_changes)
        self.retry_after = max(1, retry_after)

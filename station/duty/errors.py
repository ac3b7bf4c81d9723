"""Cloud-duty's errors: one hierarchy, each branch carrying the HTTP status it means.

Services raise these and know nothing of HTTP; the one exception handler in
`station.duty.api.handlers` turns any of them into `{"detail": <message>}` with the
status of its class.
"""

from __future__ import annotations

from typing import ClassVar


class DutyError(Exception):
    """Base of every error cloud-duty raises on purpose."""

    status_code: ClassVar[int] = 500


class InvalidRequestError(DutyError, ValueError):
    """The request is well-formed but cannot be answered as asked."""

    status_code = 422


class UnauthorizedError(DutyError, PermissionError):
    """Wrong credentials or an expired token."""

    status_code = 401


class ForbiddenError(DutyError, PermissionError):
    """The caller is known but may not do this."""

    status_code = 403


class NotFoundError(DutyError, LookupError):
    """What the request names does not exist."""

    status_code = 404


class ConflictError(DutyError, ValueError):
    """The request clashes with what is stored or with the state of the thing."""

    status_code = 409


class TooManyRequestsError(DutyError, PermissionError):
    """Refused for now: too many attempts; `retry_after_s` says when to try again."""

    status_code = 429
    retry_after_s: int = 0


class UpstreamError(DutyError, RuntimeError):
    """A provider cloud-duty relies on (SMS gateway, ...) refused or was unreachable."""

    status_code = 502


class UnavailableError(DutyError, RuntimeError):
    """This replica lacks what the request needs right now (e.g. its broker link)."""

    status_code = 503

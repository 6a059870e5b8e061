"""The Vigil exception tree.

Two branches matter to callers: :class:`InputError` (the input is wrong; retrying
will not help) and :class:`NotReadyError` (a peer or camera is unreachable; retry later).
Each also inherits the matching built-in so generic handlers still work.
"""

from __future__ import annotations

from dataclasses import dataclass


class VigilError(Exception):
    """Root of every error Vigil raises on purpose."""


class InputError(VigilError, ValueError):
    """Bad input: a malformed file, an invalid ID, a value out of range."""


class NotFoundError(VigilError, LookupError):
    """A requested object does not exist (or is outside the caller's scope)."""


class ConflictError(VigilError, ValueError):
    """The request conflicts with stored state (duplicate key, wrong lifecycle step)."""


class PreconditionFailed(ConflictError):
    """The caller's ``If-Match`` names a version that is no longer the stored one (412: re-read and retry)."""


class AccessDenied(VigilError, PermissionError):
    """The caller is authenticated but not allowed to do this."""


class AuthError(VigilError, PermissionError):
    """The caller could not be authenticated."""


class NotReadyError(VigilError, ConnectionError):
    """A peer, camera or service is not reachable now; retry later."""


class ImportBusy(NotReadyError):
    """Every import slot of the server is taken; retry after ``retry_after`` seconds (503)."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in one row of an imported file."""

    line: int
    field: str
    reason: str
    #: the row names an object outside the importer's scope (reported as not found)
    hidden: bool = False
    #: the row would change a shared object the importer may not change (reported as denied)
    denied: bool = False

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.reason}"


class ImportRejected(InputError):
    """A bulk import found bad rows; nothing was stored."""

    def __init__(self, errors: list[RowError], source: str = "") -> None:
        self.errors = errors
        self.source = source
        head = "; ".join(str(e) for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"{source or 'import'}: {len(errors)} bad row(s), nothing stored: {head}{more}")


class ImportNotFound(ImportRejected, NotFoundError):
    """A bulk import names objects outside the caller's scope; nothing was stored (404, with every row error)."""


class ImportDenied(ImportRejected, AccessDenied):
    """A bulk import would change shared objects the caller may not change; nothing was stored (403)."""

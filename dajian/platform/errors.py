"""Errors are data: every service raises :class:`DajianError` with one or more
:class:`ErrorDetail` (field, JSON path, stable code, localised message); one converter
turns them into GraphQL ``errors { field path code message }``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class CommonErrorCode(StrEnum):
    NOT_FOUND = "NOT_FOUND"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    INVALID_INPUT = "INVALID_INPUT"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
    INTERNAL_ERROR = "INTERNAL_ERROR"


@dataclass(frozen=True)
class ErrorDetail:
    """One problem: ``field`` is the top-level key (or None), ``path`` the dotted path."""

    code: str
    message: str
    field: str | None = None
    path: str | None = None

    @classmethod
    def at(cls, path: str, code: str, message: str) -> ErrorDetail:
        """An error at the dotted ``path``; its ``field`` is the path's first key."""
        return cls(code=str(code), message=message, field=path.split(".")[0], path=path)

    def as_dict(self) -> dict[str, str | None]:
        return {"field": self.field, "path": self.path, "code": self.code, "message": self.message}


class DajianError(Exception):
    """A refused operation with every problem found, never just the first."""

    def __init__(self, errors: ErrorDetail | Iterable[ErrorDetail]):
        self.errors: list[ErrorDetail] = (
            [errors] if isinstance(errors, ErrorDetail) else list(errors)
        )
        super().__init__("; ".join(f"{e.code}: {e.message}" for e in self.errors))

    @classmethod
    def single(
        cls, code: str, message: str, field: str | None = None, path: str | None = None
    ) -> DajianError:
        return cls(ErrorDetail(code=str(code), message=message, field=field, path=path or field))


def not_found(what: str = "Object") -> DajianError:
    """The one answer for missing objects and objects of another workspace."""
    return DajianError.single(CommonErrorCode.NOT_FOUND, f"{what} not found.")


def permission_denied(message: str = "You do not have permission to do this.") -> DajianError:
    return DajianError.single(CommonErrorCode.PERMISSION_DENIED, message)

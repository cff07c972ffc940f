"""Domain errors. Services raise these; the web and the command line map them.

``NotFound`` → 404, ``Forbidden`` → 403, ``Conflict`` → 409, ``Invalid`` → 422.
"""

from __future__ import annotations

from dataclasses import dataclass


class GongjianError(Exception):
    """Base of every error a user may see: ``message`` is for people."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(GongjianError):
    """The record does not exist."""

    status = 404


class Forbidden(GongjianError):
    """The actor's role or town may not do this; the attempt has been logged."""

    status = 403


class Conflict(GongjianError):
    """The write clashes with what is stored (a duplicate key, a stale version, a lock)."""

    status = 409


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where it is and why."""

    reason: str
    file: str | None = None
    row: int | None = None
    column: str | None = None
    value: str | None = None

    def __str__(self) -> str:
        where = [
            part
            for part in (
                self.file,
                f"第{self.row}行" if self.row is not None else None,
                f"列 {self.column}" if self.column else None,
            )
            if part
        ]
        value = f"（值：{self.value}）" if self.value is not None else ""
        return f"{'，'.join(where)}：{self.reason}{value}" if where else f"{self.reason}{value}"


class Invalid(GongjianError):
    """The input breaks a rule; ``problems`` lists every one found."""

    status = 422

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []

    def __str__(self) -> str:
        return "\n".join([self.message, *(f"  - {p}" for p in self.problems)])

"""Domain errors. Services raise these; the web and the command line map them.

``NotFound`` → 404, ``Forbidden`` → 403, ``Conflict`` → 409, ``Invalid`` → 422.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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


class StaleVersion(Conflict):
    """The change was based on version ``sent`` of a record that is now at ``current``:
    someone else changed it since it was read, and nothing of this change is written.

    ``record`` is the record as it is now (column → value, as the audit log writes it),
    ``resource`` its kind and ``code`` the code (or id) that names it.
    """

    def __init__(
        self,
        *,
        resource: str,
        label: str,
        code: str,
        sent: int | None,
        current: int,
        record: dict[str, Any],
    ) -> None:
        read = f"第 {sent} 版" if sent is not None else "旧版本"
        super().__init__(
            f"{label}“{code}”在您读取{read}之后已被他人修改（现为第 {current} 版），"
            "您的修改未保存：请重新载入，核对后再提交"
        )
        self.resource = resource
        self.label = label
        self.code = code
        self.sent = sent
        self.current = current
        self.record = record


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

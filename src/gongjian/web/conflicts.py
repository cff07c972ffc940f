"""The page of an edit refused because the record changed since it was read (409): what
the user sent, based on which version, beside the record as it is now."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response

from gongjian.choices import LabeledChoice
from gongjian.errors import StaleVersion
from gongjian.web.templating import render


@dataclass(frozen=True)
class ConflictRow:
    """One field of the refused edit: the catalogue key of its label, the value sent and
    the value stored now (``None`` when the record has no such field, e.g. a move's
    day)."""

    label_key: str
    submitted: str
    current: str | None

    @property
    def differs(self) -> bool:
        """Whether what was sent differs from what is stored now."""
        return self.current is not None and self.submitted != self.current


def shown(value: Any) -> str:
    """A stored or submitted value as text on the page (empty for none)."""
    return "" if value is None else str(value)


def move_rows(
    target: LabeledChoice, current: LabeledChoice, on: str, reason: str
) -> list[ConflictRow]:
    """The rows of a refused state move: the state asked for beside the state now, and
    the day and reason sent (no field of the record)."""
    return [
        ConflictRow("conflict.field.state", target.label, current.label),
        ConflictRow("conflict.field.on", on, None),
        ConflictRow("conflict.field.reason", reason, None),
    ]


def conflict_page(
    request: Request,
    exc: StaleVersion,
    *,
    back: str,
    rows: Sequence[ConflictRow] = (),
) -> Response:
    """The 409 page of ``exc``: the versions read and stored, ``rows`` (the fields the
    user sent beside the record now, those that differ marked in words), every field of
    the record as stored, and a link ``back`` to reload the record and try again."""
    return render(
        request,
        "conflict.html",
        status_code=409,
        conflict=exc,
        rows=rows,
        stored=[(name, shown(value)) for name, value in exc.record.items()],
        back=back,
    )

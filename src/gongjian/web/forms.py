"""Reading a page's form fields into values, and answering a record's state form: the
problems beside the fields they concern, the conflict page for a record changed since
the form was shown, else back to the record's page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import TypeVar

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from gongjian.choices import LabeledChoice
from gongjian.errors import Conflict, Invalid, Problem, StaleVersion
from gongjian.web.conflicts import ConflictRow, conflict_page

C = TypeVar("C", bound=LabeledChoice)


def form_day(
    value: str, column: str, label: str, problems: dict[str, list[str]], *, required: bool
) -> dt.date | None:
    """The day a form field holds; a problem under ``column`` when it is not a date
    (or is empty and ``required``)."""
    if not value.strip():
        if required:
            problems.setdefault(column, []).append(f"请填写{label}")
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        problems.setdefault(column, []).append(f"{label}应为 2023-01-31 这样的日期")
        return None


def form_choice(of: type[C], value: str, column: str, problems: dict[str, list[str]]) -> C | None:
    """The member of ``of`` a form field names; a problem under ``column`` otherwise."""
    try:
        return of.parse(value.strip())
    except ValueError:
        problems.setdefault(column, []).append("请从列表中选择")
        return None


def by_field(
    problems: Sequence[Problem], known: Sequence[str] | None = None
) -> dict[str, list[str]]:
    """A refusal's problems by the form field they concern: every column named, or only
    those of ``known`` (the rest under ``""``)."""
    found: dict[str, list[str]] = {}
    for problem in problems:
        column = problem.column or ""
        shown = column if known is None or column in known else ""
        found.setdefault(shown, []).append(problem.reason)
    return found


def state_form_answer(
    request: Request,
    change: Callable[[], object],
    *,
    page_url: str,
    again: Callable[..., Response],
    conflict_rows: Callable[[StaleVersion], Sequence[ConflictRow]],
    fields: Sequence[str],
) -> Response:
    """The answer to a record's state form whose fields were read: ``change()`` done,
    back to ``page_url`` saying so; refused, the page ``again(status_code=, error=,
    problems=)`` with the reason beside the form (422 for a rule broken, 409 for a
    conflict of states); when the record changed since the form was shown, the conflict
    page (409) with ``conflict_rows`` of what was sent beside what is stored."""
    try:
        change()
    except StaleVersion as exc:
        return conflict_page(request, exc, back=page_url, rows=conflict_rows(exc))
    except Invalid as exc:
        return again(status_code=422, error=exc.message, problems=by_field(exc.problems, fields))
    except Conflict as exc:
        return again(status_code=409, error=exc.message, problems={})
    return RedirectResponse(f"{page_url}?changed=1", status_code=303)

"""What every command shares: consoles, the operator's actor, sessions, errors as one
clear line, progress bars for long work, tables, and the options and edits that
several commands take alike."""

from __future__ import annotations

import datetime as dt
import functools
import getpass
import json
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from gongjian.auth.actors import Actor
from gongjian.checks import parse_amount
from gongjian.choices import LabeledChoice
from gongjian.db import StateChangeColumns, session_scope
from gongjian.errors import GongjianError, Invalid, Problem
from gongjian.periods import parse_as_of
from gongjian.towns.services import find_town

console = Console()
err_console = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")

EXIT_ERROR = 1
EXIT_INVALID = 2

TownOption = Annotated[str | None, typer.Option("--town", help="镇街名称或代码；不填为全市")]
JsonOption = Annotated[bool, typer.Option("--json", help="输出 JSON")]


def operator() -> Actor:
    """The actor for commands run on the server: the operator, with full rights."""
    return Actor.system(f"cli:{getpass.getuser()}")


def amount_option(text: str | None, option: str, label: str) -> Decimal | None:
    """The amount typed as ``option`` (``label`` names it in errors), or ``None`` when not
    given."""
    return None if text is None else parse_amount(text, column=option, label=label)


def day_option(text: str | None, option: str) -> dt.date | None:
    """The day typed as ``option`` (a date, or a period meaning its last day), or ``None``
    when not given."""
    return parse_as_of(text, field=option) if text else None


def town_id_of(db: Session, town: str | None) -> int | None:
    """The id of the town a ``--town`` option names, or ``None`` for the whole city."""
    return find_town(db, town).id if town else None


def fail(message: str, code: int = EXIT_ERROR) -> typer.Exit:
    """Print ``message`` as one line on stderr and return the exit to raise."""
    err_console.print(f"[bold red]错误：[/]{message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def command(
    app: typer.Typer, *args: Any, **kwargs: Any
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """``app.command`` whose errors are one clear line and a non-zero exit, never a traceback."""

    def decorator(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def wrapper(*f_args: P.args, **f_kwargs: P.kwargs) -> R:
            try:
                return function(*f_args, **f_kwargs)
            except Invalid as exc:
                raise fail(str(exc), EXIT_INVALID) from None
            except GongjianError as exc:
                raise fail(exc.message) from None
            except OperationalError as exc:
                raise fail(f"无法访问数据库：{exc.orig}") from None
            except SQLAlchemyError as exc:
                raise fail(f"数据库错误：{exc}") from None

        app.command(*args, **kwargs)(wrapper)
        return wrapper

    return decorator


@contextmanager
def session() -> Iterator[Session]:
    """A session on the configured database, committed at the end of the block."""
    with session_scope() as db_session:
        yield db_session


@contextmanager
def progress_bar() -> Iterator[Callable[[str, int, int], None]]:
    """A Rich progress bar, handed out as a ``progress(step, done, total)`` callback."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    ) as bar:
        tasks: dict[str, Any] = {}

        def update(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = bar.add_task(step, total=total)
            bar.update(tasks[step], completed=done, total=total)

        yield update


def table(
    title: str | None,
    headers: Iterable[str],
    *,
    right: Collection[str] = (),
    no_wrap: Collection[str] = (),
) -> Table:
    """A Rich table with a column per header: those in ``right`` right-aligned (figures),
    those in ``no_wrap`` never wrapped (codes)."""
    found = Table(title=title)
    for header in headers:
        found.add_column(
            header, justify="right" if header in right else "left", no_wrap=header in no_wrap
        )
    return found


def facts_table(rows: Iterable[tuple[str, str]]) -> Table:
    """A record's facts, a ``(label, value)`` a row, without a header."""
    found = Table(show_header=False)
    found.add_column("项目")
    found.add_column("内容")
    for label, value in rows:
        found.add_row(label, value)
    return found


def next_states_text(allowed: Iterable[LabeledChoice]) -> str:
    """The states a record may move to next, for a line of text."""
    return "、".join(state.label for state in allowed) or "（最后一个状态）"


def move_text(change: StateChangeColumns, states: type[LabeledChoice]) -> str:
    """A change of state (in ``states``) just written: ``from → to（day）``."""
    return (
        f"{states(str(change.from_state)).label} → "
        f"{states(change.to_state).label}（{change.changed_on}）"
    )


def history_table(changes: Iterable[StateChangeColumns], states: type[LabeledChoice]) -> Table:
    """A record's state history, one change (in ``states``) a row."""
    history = table("状态历史", ("日期", "从", "到", "理由", "记录人"))
    for change in changes:
        history.add_row(
            str(change.changed_on),
            states(change.from_state).label if change.from_state else "—",
            states(change.to_state).label,
            change.reason or "",
            change.actor,
        )
    return history


def echo_json(value: object) -> None:
    """Print ``value`` as one line of JSON, Chinese as it is."""
    typer.echo(json.dumps(value, ensure_ascii=False))


def json_rows(schema: type[BaseModel], rows: Iterable[object]) -> list[dict[str, Any]]:
    """``rows`` read through ``schema``, ready for ``echo_json``."""
    return [schema.model_validate(row).model_dump(mode="json") for row in rows]


def changes_given(
    code: str,
    given: Mapping[str, Any],
    clear: Iterable[str] | None,
    clearable: Mapping[str, str],
) -> dict[str, Any]:
    """The edits of an ``update`` command: the fields ``given`` a value, and those named
    by ``--clear`` (an option name of ``clearable``) set to ``None``. ``Invalid`` for a
    field that cannot be cleared, or when there is nothing to change."""
    changes = {field: value for field, value in given.items() if value is not None}
    for item in clear or ():
        if item not in clearable:
            raise Invalid(
                "不能清空此项",
                [Problem(f"可清空：{'、'.join(clearable)}", column="--clear", value=item)],
            )
        changes[clearable[item]] = None
    if not changes:
        raise Invalid("没有要修改的项", [Problem("请给出至少一项修改", column=code)])
    return changes

"""What every command shares: consoles, the operator's actor, sessions, errors as one
clear line, and progress bars for long work."""

from __future__ import annotations

import functools
import getpass
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from gongjian.auth.actors import Actor
from gongjian.db import session_scope
from gongjian.errors import GongjianError, Invalid

console = Console()
err_console = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")

EXIT_ERROR = 1
EXIT_INVALID = 2


def operator() -> Actor:
    """The actor for commands run on the server: the operator, with full rights."""
    return Actor.system(f"cli:{getpass.getuser()}")


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

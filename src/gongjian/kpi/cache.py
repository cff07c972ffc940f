"""The figures cache: what the KPIs and the dashboard compute, kept in this process per
database and key (a date, a town) until a write could change it.

An entry is used only while both hold:

- no session of this process has committed a write since the entry was stored. Every
  write flushes (or executes ORM ``INSERT``/``UPDATE``/``DELETE``) inside a session; the
  session events registered here, the one place, note it, and that session's commit
  clears the whole cache. Rows of ``BOOKKEEPING`` tables (who is signed in, when a
  session was last seen) are not writes of figures: every page may touch them;
- the audit log's head (its entry count) is what it was when the entry was computed.
  Every write of the platform appends to the audit log, so a write committed by another
  process (the command line, another worker) is seen at the next read.

A session holding writes of its own not yet committed neither reads nor fills the
cache: its view of the records is its own. Nor does a session bound to a connection
(one that joins a transaction it does not own, as the tests' rolled-back sessions do):
its commits are not the database's. Values are shared between requests and
threads: callers treat them as read-only.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import Connection, event, select
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from gongjian.audit.models import AuditHead

T = TypeVar("T")

MAX_ENTRIES = 512
"""The most entries kept; the least recently used go first."""
BOOKKEEPING = frozenset({"web_sessions", "sign_in_failures"})
"""Tables no figure reads: writing them leaves the cache as it is."""
_WROTE = "gongjian.kpi.cache.wrote"
_STAMP = "gongjian.kpi.cache.stamp"


class FiguresCache:
    """Computed figures by ``(database, *key)``, each stored with the audit head's count."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[int | None, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._generation = 0

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Forget every entry (a write was committed)."""
        with self._lock:
            self._entries.clear()
            self._generation += 1

    def get(self, session: Session, key: tuple[Hashable, ...], compute: Callable[[], T]) -> T:
        """The value of ``key``: the stored one while still valid, else ``compute()``
        (stored unless a write was committed while it ran)."""
        if not shares_the_cache(session):
            return compute()
        stamp = _audit_stamp(session)
        full_key = (str(session.get_bind().engine.url), *key)
        with self._lock:
            found = self._entries.get(full_key)
            if found is not None and found[0] == stamp:
                self._entries.move_to_end(full_key)
                value: T = found[1]
                return value
            generation = self._generation
        value = compute()
        with self._lock:
            if generation == self._generation:
                self._entries[full_key] = (stamp, value)
                self._entries.move_to_end(full_key)
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
        return value


figures_cache = FiguresCache()
"""The process's cache, shared by the command line, the API and the pages."""


def shares_the_cache(session: Session) -> bool:
    """Whether ``session`` sees what the database has committed, and nothing else: it
    holds no writes of its own (flushed or pending) and is bound to an engine, not to
    a connection whose transaction it joined."""
    if session.info.get(_WROTE) or _changes_figures(session):
        return False
    return not isinstance(session.get_bind(), Connection)


def _table(obj: object) -> str:
    return str(getattr(obj, "__tablename__", ""))


def _changes_figures(session: Session) -> bool:
    """Whether ``session`` holds changes (not yet flushed) to rows a figure may read."""
    changed = (*session.new, *session.dirty, *session.deleted)
    return any(_table(obj) not in BOOKKEEPING for obj in changed)


def _audit_stamp(session: Session) -> int | None:
    """The audit log's entry count, read once per transaction of ``session``."""
    if _STAMP not in session.info:
        session.info[_STAMP] = session.scalar(select(AuditHead.count).where(AuditHead.id == 1))
    stamp: int | None = session.info[_STAMP]
    return stamp


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, _context: Any) -> None:
    # The session's new, dirty and deleted objects are still those flushed.
    if _changes_figures(session):
        session.info[_WROTE] = True


@event.listens_for(Session, "do_orm_execute")
def _executed(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        mapper = state.bind_mapper
        if mapper is None or _table(mapper.class_) not in BOOKKEEPING:
            state.session.info[_WROTE] = True


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    session.info.pop(_STAMP, None)
    if session.info.pop(_WROTE, False):
        figures_cache.clear()


@event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_STAMP, None)
        session.info.pop(_WROTE, None)

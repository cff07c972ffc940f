"""The audit chain: appends are linked, and verify names any entry changed, inserted or
deleted, the last ones included."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from gongjian.audit.chain import GENESIS_HASH, entry_hash, record, verify
from gongjian.audit.models import AuditEntry, AuditHead
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Role
from gongjian.config import get_settings

ACTOR = Actor(username="city-water", role=Role.city)


def _append(session: Session, n: int) -> list[AuditEntry]:
    return [
        record(
            session,
            actor=ACTOR,
            action="change",
            resource="river",
            record_id=f"R{i:03d}",
            before={"name": f"旧{i}"},
            after={"name": f"新{i}"},
        )
        for i in range(n)
    ]


@pytest.fixture
def chain(session: Session) -> Session:
    """A session whose log holds exactly five fresh entries (on top of the towns' one)."""
    _append(session, 5)
    return session


def _seqs(session: Session) -> list[int]:
    return list(session.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)))


def test_entries_link_to_their_predecessor(chain: Session) -> None:
    entries = list(chain.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
    assert entries[0].prev_hash == GENESIS_HASH
    for before, after in itertools.pairwise(entries):
        assert after.seq == before.seq + 1
        assert after.prev_hash == before.hash
        assert entry_hash(after) == after.hash
    head = chain.get(AuditHead, 1)
    assert head is not None
    assert (head.count, head.last_hash) == (entries[-1].seq, entries[-1].hash)


def test_untouched_log_verifies(chain: Session) -> None:
    result = verify(chain)
    assert result.ok, result.problems
    assert result.entries == len(_seqs(chain))


def test_changed_entry_is_named(chain: Session) -> None:
    target = _seqs(chain)[3]
    chain.execute(
        update(AuditEntry).where(AuditEntry.seq == target).values(after='{"name":"伪造"}')
    )
    result = verify(chain)
    assert not result.ok
    assert any(f"#{target} 的内容被修改" in p for p in result.problems), result.problems


def test_deleted_middle_entry_is_named(chain: Session) -> None:
    target = _seqs(chain)[2]
    chain.execute(delete(AuditEntry).where(AuditEntry.seq == target))
    result = verify(chain)
    assert not result.ok
    assert any(f"#{target} 缺失" in p for p in result.problems), result.problems


def test_deleted_last_entries_are_caught_by_the_head(chain: Session) -> None:
    seqs = _seqs(chain)
    chain.execute(delete(AuditEntry).where(AuditEntry.seq >= seqs[-2]))
    result = verify(chain)
    assert not result.ok
    assert any(f"#{seqs[-2]}–#{seqs[-1]} 缺失" in p for p in result.problems), result.problems


def test_entry_appended_behind_the_heads_back_is_caught(chain: Session) -> None:
    last = chain.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
    assert last is not None
    forged = AuditEntry(
        seq=last.seq + 1,
        at=last.at,
        actor="intruder",
        role="admin",
        action="delete",
        outcome="ok",
        resource="river",
        hash_alg="sha256",
        prev_hash=last.hash,
    )
    forged.hash = entry_hash(forged)
    chain.add(forged)
    chain.flush()
    result = verify(chain)
    assert not result.ok
    assert any(f"#{last.seq + 1} 起为链头之后插入" in p for p in result.problems)


def test_entry_inserted_in_the_middle_breaks_the_links(chain: Session) -> None:
    seqs = _seqs(chain)
    middle = seqs[2]
    # Make room by shifting the later entries up, as an intruder would have to.
    for seq in reversed(seqs[seqs.index(middle) :]):
        chain.execute(update(AuditEntry).where(AuditEntry.seq == seq).values(seq=seq + 1))
    previous = chain.scalars(select(AuditEntry).where(AuditEntry.seq == middle - 1)).one()
    forged = AuditEntry(
        seq=middle,
        at=previous.at,
        actor="intruder",
        role="admin",
        action="change",
        outcome="ok",
        resource="project",
        hash_alg="sha256",
        prev_hash=previous.hash,
    )
    forged.hash = entry_hash(forged)
    chain.add(forged)
    chain.flush()
    problems = verify(chain).problems
    assert any(f"#{middle + 1} 与前一条目的链接断开" in p for p in problems), problems


def test_sm3_entries_verify(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "audit_hash", "sm3")
    entries = _append(session, 3)
    assert {e.hash_alg for e in entries} == {"sm3"}
    assert verify(session).ok
    session.execute(update(AuditEntry).where(AuditEntry.seq == entries[1].seq).values(actor="x"))
    assert any(f"#{entries[1].seq} 的内容被修改" in p for p in verify(session).problems)

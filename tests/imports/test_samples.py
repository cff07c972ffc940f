"""Ingesting samples from files: every format and encoding, exact values, nothing written
when any row is bad, re-sent samples skipped, one audit entry, point scope enforced."""

from __future__ import annotations

import csv
import datetime as dt
import zipfile
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import Workbook
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from gongjian.audit.models import AuditEntry
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Role
from gongjian.config import get_settings
from gongjian.db_errors import explain
from gongjian.errors import Forbidden, Invalid
from gongjian.imports.excel import MB, TooLarge, Unsupported
from gongjian.imports.models import ImportRun
from gongjian.imports.samples import SampleImporter
from gongjian.towns.models import Town
from gongjian.water.models import MonitoringPoint, River, Sample
from tests.conftest import DatabaseFactory

HEADER = ["point_id", "sampled_at", "transparency_cm", "do_mg_l", "orp_mv", "nh3n_mg_l", "depth_cm"]
CITY = Actor.system("test")
SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def _point(session: Session, n: int = 0) -> MonitoringPoint:
    return session.scalars(select(MonitoringPoint).order_by(MonitoringPoint.id).offset(n)).first()  # type: ignore[return-value]


def _rows(code: str) -> list[list[str]]:
    """Three February 2023 samples of point ``code`` with values at exact bounds."""
    return [
        [code, "2023-02-01T09:30:00", "35.5", "0.2", "-200", "15", "20"],
        [code, "2023-02-02T09:30:00+08:00", "10", "2.001", "50.01", "7.999", ""],
        [code, "2023-02-03T01:30:00Z", "", "0.199", "", "", ""],
    ]


def _csv(path: Path, rows: list[list[str]], encoding: str = "utf-8", extra: str = "") -> Path:
    with path.open("w", newline="", encoding=encoding) as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER + ([extra] if extra else []))
        writer.writerows([row + ([f"{extra}说明"] if extra else []) for row in rows])
    return path


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def _import(session: Session, path: Path, actor: Actor = CITY, *, dry_run: bool = False):  # type: ignore[no-untyped-def]
    return SampleImporter(session, actor=actor).run_file(path, dry_run=dry_run)


def test_csv_values_and_instants_are_stored_exactly(demo_session: Session, tmp_path: Path) -> None:
    point = _point(demo_session)
    result = _import(demo_session, _csv(tmp_path / "feb.csv", _rows(point.code)))
    assert (result.rows, result.added, result.skipped) == (3, 3, 0)
    stored = demo_session.scalars(
        select(Sample).where(Sample.import_id == result.import_id).order_by(Sample.sampled_at)
    ).all()
    assert [s.sampled_at for s in stored] == [
        dt.datetime(2023, 2, d, 9, 30, tzinfo=SHANGHAI) for d in (1, 2, 3)
    ]
    first, second, third = stored
    assert (first.transparency_cm, first.do_mg_l, first.orp_mv, first.nh3n_mg_l) == (
        Decimal("35.50"),
        Decimal("0.200"),
        Decimal("-200.00"),
        Decimal("15.000"),
    )
    assert first.depth_cm == Decimal("20.00")
    assert (second.do_mg_l, second.orp_mv, second.nh3n_mg_l) == (
        Decimal("2.001"),
        Decimal("50.01"),
        Decimal("7.999"),
    )
    assert (third.transparency_cm, third.do_mg_l, third.depth_cm) == (None, Decimal("0.199"), None)
    run = demo_session.get(ImportRun, result.import_id)
    assert run is not None
    assert (run.filename, run.rows, run.sha256) == ("feb.csv", 3, result.sha256)


def test_an_import_is_one_audit_entry_naming_file_checksum_and_rows(
    demo_session: Session, tmp_path: Path
) -> None:
    before = _count(demo_session, AuditEntry)
    result = _import(demo_session, _csv(tmp_path / "feb.csv", _rows(_point(demo_session).code)))
    entries = demo_session.scalars(select(AuditEntry).where(AuditEntry.seq > before)).all()
    assert len(entries) == 1
    assert entries[0].action == "import"
    assert "feb.csv" in (entries[0].detail or "")
    assert result.sha256[:12] in (entries[0].detail or "")
    assert '"rows":3' in (entries[0].after or "")


def test_resending_the_same_samples_adds_nothing(demo_session: Session, tmp_path: Path) -> None:
    path = _csv(tmp_path / "feb.csv", _rows(_point(demo_session).code))
    _import(demo_session, path)
    total = _count(demo_session, Sample)
    again = _import(demo_session, path)
    assert (again.added, again.skipped) == (0, 3)
    assert _count(demo_session, Sample) == total


def test_a_batch_partly_stored_adds_only_its_new_samples(
    demo_session: Session, tmp_path: Path
) -> None:
    code = _point(demo_session).code
    first = _import(demo_session, _csv(tmp_path / "first.csv", _rows(code)[0::2]))
    total = _count(demo_session, Sample)
    # The new sample falls between the two stored ones; the stored ones come back changed.
    resent = [[*row[:2], "99", *row[3:]] for row in _rows(code)]
    again = _import(demo_session, _csv(tmp_path / "again.csv", resent))
    assert (again.added, again.skipped) == (1, 2)
    assert _count(demo_session, Sample) == total + 1
    stored = demo_session.execute(
        select(Sample.sampled_at, Sample.transparency_cm, Sample.import_id)
        .join(MonitoringPoint, MonitoringPoint.id == Sample.point_id)
        .where(
            MonitoringPoint.code == code,
            Sample.import_id.in_([first.import_id, again.import_id]),
        )
        .order_by(Sample.sampled_at)
    ).all()
    assert [(t, i) for _, t, i in stored] == [
        (Decimal("35.50"), first.import_id),
        (Decimal("99.00"), again.import_id),
        (None, first.import_id),
    ]


def test_samples_stored_meanwhile_by_another_writer_are_skipped(
    demo_session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL the stored keys are read before the copy; a sample stored after that
    read makes the copy fail, and the batch goes through the staging table instead."""
    from gongjian.imports import pgcopy

    path = _csv(tmp_path / "feb.csv", _rows(_point(demo_session).code))
    _import(demo_session, path)
    total = _count(demo_session, Sample)
    monkeypatch.setattr(pgcopy, "copy_out", lambda _driver, _statement, into: into.touch())
    again = _import(demo_session, path)
    assert (again.added, again.skipped) == (0, 3)
    assert _count(demo_session, Sample) == total


def test_gbk_and_gb18030_files_are_read(demo_session: Session, tmp_path: Path) -> None:
    code = _point(demo_session).code
    for encoding in ("gbk", "gb18030"):
        path = _csv(tmp_path / f"{encoding}.csv", _rows(code), encoding=encoding, extra="备注")
        assert "备注".encode(encoding) in path.read_bytes()
        result = _import(demo_session, path, dry_run=True)
        assert result.rows == 3


def test_an_encoding_neither_utf8_nor_gb18030_is_refused_by_name(
    demo_session: Session, tmp_path: Path
) -> None:
    path = tmp_path / "utf16.csv"
    path.write_bytes(",".join(HEADER).encode("utf-16") + b"\xff\xfe\xff")
    with pytest.raises(Invalid) as refused:
        _import(demo_session, path)
    reason = refused.value.problems[0].reason
    assert "UTF-8" in reason
    assert "GB18030" in reason


def test_parquet_and_excel(demo_session: Session, tmp_path: Path) -> None:
    code = _point(demo_session).code
    rows = _rows(code)
    parquet = tmp_path / "feb.parquet"
    pq.write_table(
        pa.table(
            {
                "point_id": [r[0] for r in rows],
                "sampled_at": [r[1] for r in rows],
                "transparency_cm": [float(r[2]) if r[2] else None for r in rows],
                "do_mg_l": [float(r[3]) for r in rows],
                "orp_mv": [float(r[4]) if r[4] else None for r in rows],
                "nh3n_mg_l": [float(r[5]) if r[5] else None for r in rows],
            }
        ),
        parquet,
    )
    assert _import(demo_session, parquet).added == 3
    stored = demo_session.scalars(
        select(Sample.do_mg_l)
        .where(Sample.point_id == _point(demo_session).id)
        .order_by(Sample.sampled_at.desc())
        .limit(3)
    ).all()
    assert sorted(stored) == [Decimal("0.199"), Decimal("0.200"), Decimal("2.001")]
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER)
    for row in _rows(code):
        sheet.append(
            [
                row[0],
                row[1].replace("2023-02", "2023-03"),
                *[float(v) if v else None for v in row[2:]],
            ]
        )
    excel = tmp_path / "mar.xlsx"
    book.save(excel)
    assert _import(demo_session, excel).added == 3


def _workbook(path: Path, rows: list[list[str]]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER)
    for row in rows:
        sheet.append([row[0], row[1], *[float(v) if v else None for v in row[2:]]])
    book.save(path)
    return path


def _bomb(path: Path, member_mb: int) -> Path:
    """A zip that looks like a workbook, with one sheet of ``member_mb`` MB of zeros."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            for _ in range(member_mb):
                member.write(bytes(MB))
    return path


def test_an_excel_zip_bomb_is_refused_before_openpyxl_opens_it(
    session: Session, tmp_path: Path
) -> None:
    runs = _count(session, ImportRun)
    bomb = _bomb(tmp_path / "bomb.xlsx", 300)
    assert bomb.stat().st_size < MB
    with pytest.raises(TooLarge) as refused:
        _import(session, bomb)
    assert "压缩炸弹" in refused.value.problems[0].reason
    assert "upload_max_unpacked_mb" in refused.value.problems[0].reason
    assert refused.value.problems[0].file == str(bomb)
    with pytest.raises(TooLarge) as refused:
        _import(session, _bomb(tmp_path / "ratio.xlsx", 20))
    assert ":1" in refused.value.problems[0].reason
    text = tmp_path / "text.xlsx"
    text.write_text(",".join(HEADER) + "\n", encoding="utf-8")
    with pytest.raises(Unsupported):
        _import(session, text)
    assert _count(session, ImportRun) == runs


def test_an_excel_file_is_not_held_to_the_upload_size_limit(
    demo_session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _workbook(tmp_path / "large.xlsx", _rows(_point(demo_session).code))
    monkeypatch.setattr(get_settings(), "upload_max_mb", Decimal("0.001"))
    assert path.stat().st_size > 0.001 * MB
    assert _import(demo_session, path).added == 3


def test_a_file_with_any_bad_row_writes_nothing_and_names_every_bad_row(
    demo_session: Session, tmp_path: Path
) -> None:
    code = _point(demo_session).code
    rows = [
        *_rows(code),
        ["NO-SUCH", "2023-02-04T09:00:00", "30", "3", "100", "1", ""],
        [code, "not a time", "30", "3", "100", "1", ""],
        [code, "2023-02-05T09:00:00", "-1", "51", "1000.01", "inf", "-5"],
        [code, "2023-02-06T09:00:00", "", "", "", "", "30"],
        [code, "2023-02-01T09:30:00+08:00", "30", "3", "100", "1", ""],
        [code, "2023-02-07T09:00:00", "30.123", "3", "100", "1", ""],
    ]
    samples, runs, entries = (_count(demo_session, m) for m in (Sample, ImportRun, AuditEntry))
    with pytest.raises(Invalid) as refused:
        _import(demo_session, _csv(tmp_path / "bad.csv", rows))
    found = {(p.row, p.column) for p in refused.value.problems}
    assert found == {
        (5, "point_id"),
        (6, "sampled_at"),
        (7, "transparency_cm"),
        (7, "do_mg_l"),
        (7, "orp_mv"),
        (7, "nh3n_mg_l"),
        (7, "depth_cm"),
        (8, "transparency_cm,do_mg_l,orp_mv,nh3n_mg_l"),
        (9, "sampled_at"),
        (10, "transparency_cm"),
    }
    assert all(p.file and p.file.endswith("bad.csv") for p in refused.value.problems)
    assert (_count(demo_session, Sample), _count(demo_session, ImportRun)) == (samples, runs)
    assert _count(demo_session, AuditEntry) == entries


def test_a_missing_column_is_named(demo_session: Session, tmp_path: Path) -> None:
    path = tmp_path / "short.csv"
    path.write_text("point_id,sampled_at,do_mg_l\nX,2023-02-01,1\n", encoding="utf-8")
    with pytest.raises(Invalid) as refused:
        _import(demo_session, path)
    assert {(p.row, p.column) for p in refused.value.problems} == {
        (1, "transparency_cm"),
        (1, "orp_mv"),
        (1, "nh3n_mg_l"),
    }


def test_dry_run_checks_and_writes_nothing(demo_session: Session, tmp_path: Path) -> None:
    before = (_count(demo_session, Sample), _count(demo_session, ImportRun))
    result = _import(
        demo_session, _csv(tmp_path / "feb.csv", _rows(_point(demo_session).code)), dry_run=True
    )
    assert (result.dry_run, result.rows, result.import_id) == (True, 3, None)
    assert (_count(demo_session, Sample), _count(demo_session, ImportRun)) == before


def test_a_town_imports_only_its_own_rivers_points(demo_session: Session, tmp_path: Path) -> None:
    point = _point(demo_session)
    river = demo_session.get(River, point.river_id)
    assert river is not None
    own = Actor(username="own", role=Role.town, town_id=river.lead_town_id)
    other = Actor(username="other", role=Role.town, town_id=river.lead_town_id % 23 + 1)
    path = _csv(tmp_path / "feb.csv", _rows(point.code))
    with pytest.raises(Forbidden) as refused:
        _import(demo_session, path, other)
    assert point.code in refused.value.message
    refusal = demo_session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
    assert refusal is not None
    assert (refusal.actor, refusal.outcome, refusal.resource) == ("other", "refused", "sample")
    assert _import(demo_session, path, own).added == 3


def test_a_station_reports_only_its_tokens_points(demo_session: Session, tmp_path: Path) -> None:
    mine, theirs = _point(demo_session, 0), _point(demo_session, 1)
    station = Actor(username="station:甲", role=Role.station, points=frozenset({mine.id}))
    with pytest.raises(Forbidden):
        _import(demo_session, _csv(tmp_path / "theirs.csv", _rows(theirs.code)), station)
    assert _import(demo_session, _csv(tmp_path / "mine.csv", _rows(mine.code)), station).added == 3


def _interleaved(session: Session) -> list[list[str]]:
    """Five samples of two points, in the order a station sends them (by time)."""
    one, two = _point(session, 0).code, _point(session, 1).code
    return [
        [one, "2023-03-01T09:00:00", "30", "3.1", "-12.5", "1.25", "40"],
        [two, "2023-03-01T09:05:00.000120", "31", "3.2", "", "1.5", ""],
        [one, "2023-03-02T09:00:00", "32", "0.199", "100", "2", "41"],
        [two, "2023-03-02T09:05:00", "33", "3.4", "-999.99", "", "42.5"],
        [one, "2023-03-03T09:00:00.5", "34", "3.5", "5", "8.001", "43"],
    ]


def _stored_rows(session: Session, import_id: int | None) -> list[tuple[object, ...]]:
    return [
        tuple(row)
        for row in session.execute(
            select(
                MonitoringPoint.code,
                Sample.sampled_at,
                Sample.transparency_cm,
                Sample.do_mg_l,
                Sample.orp_mv,
                Sample.nh3n_mg_l,
                Sample.depth_cm,
            )
            .join(MonitoringPoint, MonitoringPoint.id == Sample.point_id)
            .where(Sample.import_id == import_id)
            .order_by(Sample.sampled_at)
        ).all()
    ]


def _expected(rows: list[list[str]]) -> list[tuple[object, ...]]:
    def number(text: str) -> Decimal | None:
        return Decimal(text) if text else None

    return [
        (
            code,
            dt.datetime.fromisoformat(at).replace(tzinfo=SHANGHAI),
            *(number(v) for v in values),
        )
        for code, at, *values in rows
    ]


@pytest.mark.parametrize("part_rows", [1, 2, 1_000])
def test_samples_copied_in_parts_arrive_each_once_and_exactly(
    demo_session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, part_rows: int
) -> None:
    """PostgreSQL takes the rows in parts of consecutive rows (a file's first data row is
    row 2, an API batch's row 1): a part boundary neither drops nor repeats a row."""
    from gongjian.imports import samples

    monkeypatch.setattr(samples, "PART_ROWS", part_rows)
    rows = _interleaved(demo_session)
    from_file = _import(demo_session, _csv(tmp_path / "march.csv", rows))
    assert (from_file.rows, from_file.added) == (5, 5)
    assert _stored_rows(demo_session, from_file.import_id) == _expected(rows)
    later = [[code, at.replace("2023-03", "2023-04"), *values] for code, at, *values in rows]
    importer = SampleImporter(demo_session, actor=CITY)
    batch = [dict(zip(HEADER, row, strict=True)) for row in later]
    from_api = importer.run_loaded("batch", samples.batch_to_duckdb(importer, batch))
    assert (from_api.rows, from_api.added) == (5, 5)
    assert _stored_rows(demo_session, from_api.import_id) == _expected(later)


def test_a_point_removed_after_the_check_refuses_the_import_in_words(
    demo_session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database keeps samples to existing points however they are written (on
    PostgreSQL by a check of each statement's new rows, not a constraint)."""
    river = demo_session.scalars(select(River).order_by(River.id)).first()
    assert river is not None
    point = MonitoringPoint(code="P-GONE", river_id=river.id, chainage_m=Decimal("5"))
    demo_session.add(point)
    demo_session.flush()
    checked = SampleImporter.validate

    def check_then_remove(importer: SampleImporter, source: str) -> int:
        rows = checked(importer, source)
        importer.session.delete(point)
        importer.session.flush()
        return rows

    monkeypatch.setattr(SampleImporter, "validate", check_then_remove)
    with pytest.raises(Invalid) as refused:
        _import(demo_session, _csv(tmp_path / "gone.csv", _rows("P-GONE")))
    assert "外键" in refused.value.message


def test_a_sample_naming_a_missing_point_or_import_is_refused(demo_session: Session) -> None:
    point = _point(demo_session)
    at = dt.datetime(2023, 5, 1, 9, tzinfo=SHANGHAI)
    for values in ({"point_id": 2_000_000_000}, {"point_id": point.id, "import_id": 2_000_000_000}):
        with pytest.raises(IntegrityError) as refused, demo_session.begin_nested():
            demo_session.execute(
                insert(Sample).values(sampled_at=at, do_mg_l=Decimal("3"), **values)
            )
        assert "外键" in explain(refused.value).message


def test_a_point_or_import_with_samples_cannot_be_deleted(
    demo_session: Session, tmp_path: Path
) -> None:
    point = _point(demo_session)
    imported = _import(demo_session, _csv(tmp_path / "feb.csv", _rows(point.code)))
    for statement in (
        delete(MonitoringPoint).where(MonitoringPoint.id == point.id),
        update(MonitoringPoint).where(MonitoringPoint.id == point.id).values(id=2_000_000_000),
        delete(ImportRun).where(ImportRun.id == imported.import_id),
    ):
        with pytest.raises(IntegrityError) as refused, demo_session.begin_nested():
            demo_session.execute(statement)
        assert "外键" in explain(refused.value).message
    assert len(_stored_rows(demo_session, imported.import_id)) == 3


def test_a_point_cannot_be_deleted_while_an_import_naming_it_is_open(
    databases: DatabaseFactory, tmp_path: Path
) -> None:
    """The import locks the points it names until it ends, as a foreign key does: a
    deletion waits (here: gives up waiting), and once the import is committed, the
    deletion is refused."""
    engine = databases.new("point_lock")
    try:
        with Session(engine) as setup:
            town = setup.scalars(select(Town).order_by(Town.id)).first()
            assert town is not None
            river = River(code="R-LOCK", name="锁河", lead_town_id=town.id, length_m=100)
            setup.add(river)
            setup.flush()
            setup.add(MonitoringPoint(code="P-LOCK", river_id=river.id, chainage_m=0))
            setup.commit()
        path = _csv(tmp_path / "lock.csv", _rows("P-LOCK"))
        with Session(engine) as importing, engine.connect() as deleting:
            assert _import(importing, path).added == 3
            if databases.backend == "postgresql":
                deleting.execute(text("SET lock_timeout = '100ms'"))
            else:
                deleting.connection.driver_connection.execute("PRAGMA busy_timeout = 100")  # type: ignore[union-attr]
            remove = delete(MonitoringPoint).where(MonitoringPoint.code == "P-LOCK")
            with pytest.raises(OperationalError):
                deleting.execute(remove)
            deleting.rollback()
            importing.commit()
            with pytest.raises(IntegrityError):
                deleting.execute(remove)
            deleting.rollback()
    finally:
        engine.dispose()

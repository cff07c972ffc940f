"""Theme parks, enterprises, the land-reserve ledger, leases and the rent index through
the API (on the demo city) and the command line (on a database of its own), with the
status codes SPEC asks for: 401 for wrong credentials, 403 (logged) for what a role or
town may not do, 404 only for what does not exist, 422 for bad input, never a 500.

API tests run inside a transaction rolled back at the end: the app's session is the
test's. Command-line tests run ``gongjian.cli.app`` with ``GONGJIAN_DATABASE_URL``
pointing at their own database.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from click.testing import Result
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, aliased
from typer.testing import CliRunner

import gongjian.db
from gongjian.audit.models import AuditEntry
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Role
from gongjian.cli import app as cli_app
from gongjian.config import get_settings
from gongjian.demo.generate import DEMO_USERS
from gongjian.renewal import enterprises, leases, reserve
from gongjian.renewal.choices import EnterpriseKind, ReserveEntryKind
from gongjian.renewal.models import Enterprise, Lease, Parcel, ReserveEntry, ThemePark
from gongjian.towns.models import Town
from gongjian.web.app import create_app
from gongjian.web.deps import get_session
from tests.conftest import DatabaseFactory

AUDITOR = Actor(username="auditor-ledger", role=Role.auditor)
PASSWORDS = {username: password for username, password, *_ in DEMO_USERS}
D = Decimal
LIST_ROUTES = (
    "/api/v1/theme-parks",
    "/api/v1/theme-parks/summary",
    "/api/v1/enterprises",
    "/api/v1/reserve",
    "/api/v1/reserve/balance",
    "/api/v1/leases",
    "/api/v1/leases/flags",
    "/api/v1/rents/index",
)


@pytest.fixture
def client(demo_session: Session, demo_engine: Engine) -> Iterator[TestClient]:
    """The web app on the demo city, its every request in the test's transaction."""
    app = create_app(demo_engine)

    def test_session() -> Iterator[Session]:
        try:
            yield demo_session
        except BaseException:
            demo_session.rollback()
            raise
        demo_session.commit()

    app.dependency_overrides[get_session] = test_session
    with TestClient(app, raise_server_exceptions=True) as test_client:
        yield test_client


def _auth(username: str) -> tuple[str, str]:
    return (username, PASSWORDS[username])


def _user(role: str, town: str | None = None) -> str:
    return next(u for u, _, r, t, _ in DEMO_USERS if r == role and (town is None or t == town))


def _town_users(session: Session, town_id: int) -> tuple[str, str]:
    """The user of town ``town_id`` and a user of another town."""
    own = session.get(Town, town_id)
    other = session.scalars(select(Town).where(Town.id != town_id).order_by(Town.code)).first()
    assert own is not None
    assert other is not None
    return _user("town", own.name), _user("town", other.name)


def _refusals(session: Session, username: str, record_id: str) -> list[AuditEntry]:
    return list(
        session.scalars(
            select(AuditEntry).where(
                AuditEntry.actor == username,
                AuditEntry.outcome == "refused",
                AuditEntry.record_id == record_id,
            )
        )
    )


@pytest.mark.parametrize("path", LIST_ROUTES)
def test_anonymous_is_refused_and_wrong_credentials_are_401(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 403
    assert client.get(path, auth=("gaigeban", "wrong-password")).status_code == 401
    assert client.get(path, auth=_auth(_user("auditor"))).status_code == 200


def test_missing_records_are_404(client: TestClient) -> None:
    auth = _auth(_user("town"))
    for path in ("/enterprises/NOPE", "/leases/NOPE", "/theme-parks/NOPE"):
        missing = client.get(f"/api/v1{path}", auth=auth)
        assert missing.status_code == 404
        assert "NOPE" in missing.json()["message"]
    city = _auth(_user("city"))
    nope_enterprise = {"jobs": 1, "version": 1}
    assert (
        client.patch("/api/v1/enterprises/NOPE", json=nope_enterprise, auth=city).status_code == 404
    )
    nope_lease = {"lessor": "x", "version": 1}
    assert client.patch("/api/v1/leases/NOPE", json=nope_lease, auth=city).status_code == 404
    body = {"parcel": "NOPE", "area_mu": "1", "valuation_wan": "1", "entry_on": "2023-01-01"}
    assert client.post("/api/v1/reserve", json=body, auth=city).status_code == 404
    assert client.get("/api/v1/enterprises", params={"town": "东升"}, auth=city).status_code == 404


def test_enterprises_through_the_api(client: TestClient, demo_session: Session) -> None:
    town = demo_session.scalars(select(Town).where(Town.name == "古镇")).one()
    own, stranger = _town_users(demo_session, town.id)
    body = {
        "code": "API-E1",
        "name": "中山市示例智造有限公司",
        "kind": "attracted",
        "town": "古镇",
        "investment_wan": "12345.67",
        "agreement_signed_on": "2023-01-20",
        "jobs": 300,
    }
    refused = client.post("/api/v1/enterprises", json=body, auth=_auth(stranger))
    assert refused.status_code == 403
    assert len(_refusals(demo_session, stranger, "API-E1")) == 1
    added = client.post("/api/v1/enterprises", json=body, auth=_auth(own))
    assert added.status_code == 201
    assert (added.json()["investment_wan"], added.json()["town"], added.json()["signed"]) == (
        "12345.67",
        "古镇",
        True,
    )
    assert client.post("/api/v1/enterprises", json=body, auth=_auth(own)).status_code == 409
    for bad in (
        {**body, "code": "API-E2", "investment_wan": "12.345"},
        {**body, "code": "API-E2", "investment_wan": "abc"},
        {**body, "code": "API-E2", "agreement_signed_on": str(dt.date.today() + dt.timedelta(3))},
        {**body, "code": "API-E2", "kind": "moved_in"},
        {**body, "code": "API-E2", "name": " "},
        {**body, "code": "API-E2", "parcel": "NOPE"},
        {**body, "code": "API-E2", "colour": "red"},
        {k: v for k, v in body.items() if k != "investment_wan"},
    ):
        answer = client.post("/api/v1/enterprises", json=bad, auth=_auth(own))
        assert answer.status_code == 422, bad
        assert answer.json()["problems"], bad
    named = client.post(
        "/api/v1/enterprises", json={**body, "code": "API-E2", "jobs": -1}, auth=_auth(own)
    )
    assert [p["column"] for p in named.json()["problems"]] == ["jobs"]
    assert demo_session.scalar(select(Enterprise.id).where(Enterprise.code == "API-E2")) is None
    path = "/api/v1/enterprises/API-E1"
    assert (
        client.patch(path, json={"jobs": 5, "version": 1}, auth=_auth(stranger)).status_code == 403
    )
    changed = client.patch(
        path, json={"actual_investment_wan": "100.5", "version": 1}, auth=_auth(own)
    )
    assert changed.status_code == 200
    assert changed.json()["actual_investment_wan"] == "100.50"
    assert client.patch(path, json={"code": "X", "version": 2}, auth=_auth(own)).status_code == 422
    read = client.get(path, auth=_auth(stranger))
    assert (read.status_code, read.json()["jobs"]) == (200, 300)
    listed = client.get(
        "/api/v1/enterprises",
        params={"town": "古镇", "kind": "attracted", "signed": "true", "limit": 500},
        auth=_auth(stranger),
    ).json()
    expected = demo_session.scalar(
        select(func.count())
        .select_from(Enterprise)
        .where(
            Enterprise.town_id == town.id,
            Enterprise.kind == EnterpriseKind.attracted.value,
            Enterprise.agreement_signed_on.is_not(None),
        )
    )
    assert listed["total"] == expected
    assert "API-E1" in [item["code"] for item in listed["items"]]
    assert all(item["signed"] and item["kind"] == "attracted" for item in listed["items"])


def test_theme_parks_and_their_summary(client: TestClient, demo_session: Session) -> None:
    city, town = _auth(_user("city")), _auth(_user("town"))
    parks = client.get("/api/v1/theme-parks", auth=town).json()
    assert parks["total"] == 10
    summary = client.get("/api/v1/theme-parks/summary", auth=town).json()
    assert [row["code"] for row in summary] == [item["code"] for item in parks["items"]]
    first = demo_session.scalars(
        select(ThemePark).where(ThemePark.code == summary[0]["code"])
    ).one()
    area = demo_session.scalar(
        select(func.sum(Parcel.area_mu)).where(Parcel.theme_park_id == first.id)
    )
    signed = demo_session.scalars(
        select(Enterprise).where(
            Enterprise.theme_park_id == first.id, Enterprise.agreement_signed_on.is_not(None)
        )
    ).all()
    row = summary[0]
    assert D(row["area_mu"]) == (area or D(0))
    assert row["attracted"] + row["expansions"] == len(signed)
    assert D(row["investment_wan"]) == sum((e.investment_wan for e in signed), D(0))
    body = {"code": "TP99", "name": "未来产业主题产业园", "theme": "未来产业"}
    assert client.post("/api/v1/theme-parks", json=body, auth=town).status_code == 403
    assert client.post("/api/v1/theme-parks", json=body, auth=city).status_code == 201
    assert client.post("/api/v1/theme-parks", json=body, auth=city).status_code == 409
    assert client.post("/api/v1/theme-parks", json={"code": "TP98"}, auth=city).status_code == 422
    patched = client.patch(
        "/api/v1/theme-parks/TP99", json={"theme": "量子科技", "version": 1}, auth=city
    )
    assert (patched.status_code, patched.json()["theme"]) == (200, "量子科技")
    assert client.get("/api/v1/theme-parks/TP99", auth=town).json()["name"] == "未来产业主题产业园"


def _unreserved_parcel(session: Session) -> Parcel:
    reserved = select(ReserveEntry.parcel_id)
    parcel = session.scalars(
        select(Parcel)
        .where(Parcel.renewal_state == "cleared", Parcel.id.not_in(reserved))
        .order_by(Parcel.code)
    ).first()
    assert parcel is not None
    return parcel


def test_the_reserve_ledger_through_the_api(client: TestClient, demo_session: Session) -> None:
    parcel = _unreserved_parcel(demo_session)
    own, stranger = _town_users(demo_session, parcel.town_id)
    body = {
        "parcel": parcel.code,
        "area_mu": str(parcel.area_mu),
        "valuation_wan": "1000.00",
        "entry_on": "2023-01-15",
        "funding_source": "土地储备专项债",
    }
    refused = client.post("/api/v1/reserve", json=body, auth=_auth(stranger))
    assert refused.status_code == 403
    assert [e.action for e in _refusals(demo_session, stranger, parcel.code)] == ["add"]
    larger = {**body, "area_mu": str(parcel.area_mu + D("0.01"))}
    too_large = client.post("/api/v1/reserve", json=larger, auth=_auth(own))
    assert too_large.status_code == 422
    assert too_large.json()["problems"][0]["column"] == "area_mu"
    added = client.post("/api/v1/reserve", json=body, auth=_auth(own))
    assert added.status_code == 201
    assert (added.json()["kind"], added.json()["parcel"]) == ("reserve_on_account", parcel.code)
    twice = client.post("/api/v1/reserve", json=body, auth=_auth(own))
    assert twice.status_code == 409
    assert "不能重复收储" in twice.json()["message"]
    beyond = client.post(
        "/api/v1/reserve/release",
        json={"parcel": parcel.code, "area_mu": str(parcel.area_mu + 1), "entry_on": "2023-01-20"},
        auth=_auth(own),
    )
    assert beyond.status_code == 422
    assert f"收储 {parcel.area_mu} 亩，已出库 0.00 亩" in beyond.text
    assert "超出 1.00 亩" in beyond.text
    early = client.post(
        "/api/v1/reserve/release",
        json={"parcel": parcel.code, "area_mu": "1", "entry_on": "2023-01-14"},
        auth=_auth(own),
    )
    assert early.status_code == 422
    released = client.post(
        "/api/v1/reserve/release",
        json={"parcel": parcel.code, "area_mu": str(parcel.area_mu), "entry_on": "2023-01-20"},
        auth=_auth(own),
    )
    assert (released.status_code, released.json()["valuation_wan"]) == (201, "1000.00")

    params = {"as_of": "2023-01-17", "parcel": parcel.code}
    mid = client.get("/api/v1/reserve/balance", params=params, auth=_auth(stranger)).json()
    assert (D(mid["area_mu"]), D(mid["valuation_wan"])) == (parcel.area_mu, D("1000.00"))
    after = client.get(
        "/api/v1/reserve/balance", params={**params, "as_of": "2023-01-20"}, auth=_auth(stranger)
    ).json()
    assert (D(after["area_mu"]), D(after["valuation_wan"])) == (D(0), D(0))

    city = client.get(
        "/api/v1/reserve/balance", params={"as_of": "2023-01-31"}, auth=_auth(stranger)
    ).json()
    assert city["scope"] == "city"
    assert D(city["area_mu"]) == sum((D(t["area_mu"]) for t in city["towns"]), D(0))
    assert D(city["valuation_wan"]) == sum((D(p["valuation_wan"]) for p in city["parcels"]), D(0))
    reserved_mu = demo_session.scalar(
        select(func.sum(ReserveEntry.area_mu)).where(
            ReserveEntry.kind == ReserveEntryKind.reserve_on_account.value,
            ReserveEntry.entry_on <= dt.date(2023, 1, 31),
        )
    )
    assert D(city["reserved_mu"]) == reserved_mu
    town_name = demo_session.get(Town, parcel.town_id).name  # type: ignore[union-attr]
    town = client.get(
        "/api/v1/reserve/balance",
        params={"as_of": "2023-01-31", "town": town_name},
        auth=_auth(own),
    ).json()
    assert town["scope"] == town_name
    assert [t["town"] for t in town["towns"]] == [town_name]
    for bad in ({"as_of": "2023-13-01"}, {"as_of": "soon"}):
        assert client.get("/api/v1/reserve/balance", params=bad, auth=_auth(own)).status_code == 422
    listed = client.get(
        "/api/v1/reserve", params={"parcel": parcel.code}, auth=_auth(stranger)
    ).json()
    assert [(e["kind"], e["entry_on"]) for e in listed["items"]] == [
        ("reserve_on_account", "2023-01-15"),
        ("release", "2023-01-20"),
    ]
    for bad_body in (
        {**body, "area_mu": "-1"},
        {**body, "entry_on": "2023-02-30"},
        {k: v for k, v in body.items() if k != "valuation_wan"},
    ):
        assert client.post("/api/v1/reserve", json=bad_body, auth=_auth(own)).status_code == 422


def test_leases_chains_and_flags_through_the_api(client: TestClient, demo_session: Session) -> None:
    parent = aliased(Lease)
    rows = demo_session.execute(
        select(Lease, parent.rent_yuan_m2_month).join(parent, parent.id == Lease.parent_lease_id)
    ).all()
    over = {lease.code for lease, rent in rows if lease.rent_yuan_m2_month * 100 > rent * 130}
    assert over
    flags = client.get("/api/v1/leases/flags", auth=_auth(_user("auditor"))).json()
    assert {f["code"] for f in flags if f["over_parent"]} == over
    for flag in flags:
        assert D(flag["markup_pct"]) > 30 or flag["over_original"]
        assert flag["chain"][-1] == flag["code"]
    markups = [max(D(f["markup_pct"]), D(f["total_markup_pct"])) for f in flags]
    assert markups == sorted(markups, reverse=True)

    sublease = next(lease for lease, _rent in rows)
    top = demo_session.get(Lease, sublease.parent_lease_id)
    assert top is not None
    own, stranger = _town_users(demo_session, sublease.town_id)
    detail = client.get(f"/api/v1/leases/{sublease.code}", auth=_auth(stranger)).json()
    assert [link["code"] for link in detail["chain"]] == [top.code, sublease.code]
    assert detail["original"] == top.code

    body = {
        "code": "API-L1",
        "parent": sublease.code,
        "lessor": sublease.lessee,
        "lessee": "中山市三房东有限公司",
        "area_m2": str(sublease.area_m2),
        "rent_yuan_m2_month": str(sublease.rent_yuan_m2_month * 2),
        "start_on": "2022-06-01",
    }
    assert client.post("/api/v1/leases", json=body, auth=_auth(stranger)).status_code == 403
    assert len(_refusals(demo_session, stranger, "API-L1")) == 1
    added = client.post("/api/v1/leases", json=body, auth=_auth(own))
    assert added.status_code == 201
    assert added.json()["parcel"] == detail["parcel"]
    chain = client.get("/api/v1/leases/API-L1", auth=_auth(own)).json()
    assert [link["code"] for link in chain["chain"]] == [top.code, sublease.code, "API-L1"]
    assert "API-L1" in {
        f["code"] for f in client.get("/api/v1/leases/flags", auth=_auth(own)).json()
    }
    loop = client.patch(
        f"/api/v1/leases/{top.code}",
        json={"parent": "API-L1", "version": top.version},
        auth=_auth(own),
    )
    assert loop.status_code == 422
    assert f"{top.code} → API-L1 → {sublease.code} → {top.code}" in loop.text
    for bad in (
        {**body, "code": "API-L2", "area_m2": str(sublease.area_m2 + 1)},
        {**body, "code": "API-L2", "rent_yuan_m2_month": "0"},
        {**body, "code": "API-L2", "end_on": "2022-05-31"},
        {**body, "code": "API-L2", "start_on": "June"},
        {**body, "code": "API-L2", "parent": None},
    ):
        assert client.post("/api/v1/leases", json=bad, auth=_auth(own)).status_code == 422, bad
    subs = client.get(
        "/api/v1/leases", params={"parcel": detail["parcel"], "subleases": "true"}, auth=_auth(own)
    ).json()
    assert "API-L1" in [item["code"] for item in subs["items"]]
    assert all(item["parent"] for item in subs["items"])


def test_rent_index_through_the_api(client: TestClient) -> None:
    auth = _auth(_user("city"))
    params = {"from": "2022-Q1", "to": "2023-Q1"}
    rows = client.get("/api/v1/rents/index", params=params, auth=auth).json()
    assert rows
    assert {row["quarter"] for row in rows} == {
        "2022-Q1",
        "2022-Q2",
        "2022-Q3",
        "2022-Q4",
        "2023-Q1",
    }
    for row in rows:
        if row["flagged"]:
            assert D(row["rise_pct"]) > 10
        if row["leases"] == 0:
            assert row["median_rent"] is None
    town = rows[0]["town"]
    own = client.get("/api/v1/rents/index", params={**params, "town": town}, auth=auth).json()
    assert own == [row for row in rows if row["town"] == town]
    without = client.get(
        "/api/v1/rents/index", params={**params, "town": town, "subleases": "false"}, auth=auth
    )
    assert without.status_code == 200
    for bad in ({"from": "2022-Q5"}, {"from": "2023-Q2", "to": "2023-Q1"}, {"to": "later"}):
        refused = client.get("/api/v1/rents/index", params=bad, auth=auth)
        assert refused.status_code == 422, bad
        assert refused.json()["problems"]


def test_openapi_describes_the_ledger_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {
        "/api/v1/theme-parks",
        "/api/v1/theme-parks/summary",
        "/api/v1/theme-parks/{code}",
        "/api/v1/enterprises",
        "/api/v1/enterprises/{code}",
        "/api/v1/reserve",
        "/api/v1/reserve/release",
        "/api/v1/reserve/balance",
        "/api/v1/leases",
        "/api/v1/leases/flags",
        "/api/v1/leases/{code}",
        "/api/v1/rents/index",
    } <= set(paths)


@contextmanager
def _statements(session: Session) -> Iterator[list[str]]:
    """The SQL statements ``session`` sends inside the block."""
    sent: list[str] = []
    connection = session.connection()

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    event.listen(connection, "before_cursor_execute", before)
    try:
        yield sent
    finally:
        event.remove(connection, "before_cursor_execute", before)


@pytest.mark.parametrize(
    "listing",
    [
        lambda s, n: enterprises.list_enterprises(s, actor=AUDITOR, limit=n),
        lambda s, n: leases.list_leases(s, actor=AUDITOR, limit=n),
        lambda s, n: reserve.list_entries(s, actor=AUDITOR, limit=n),
    ],
    ids=["enterprises", "leases", "reserve"],
)
def test_a_listing_issues_the_same_queries_whatever_its_length(
    demo_session: Session, listing: Any
) -> None:
    with _statements(demo_session) as few:
        _total, short = listing(demo_session, 2)
    with _statements(demo_session) as many:
        _total, long = listing(demo_session, 200)
    assert len(long) > len(short) == 2
    assert len(many) == len(few) <= 5


def test_flags_summary_and_balance_issue_a_fixed_number_of_queries(
    demo_session: Session,
) -> None:
    with _statements(demo_session) as flagged:
        assert leases.sublease_flags(demo_session, actor=AUDITOR)
    with _statements(demo_session) as summary:
        enterprises.theme_park_summary(demo_session, actor=AUDITOR)
    with _statements(demo_session) as balance:
        reserve.balance(demo_session, actor=AUDITOR, as_of=dt.date(2023, 1, 31))
    # flags: the subleases, one query per level of the chains (two in the demo city),
    # then the originals' rents, every code, the towns and the parcels.
    assert (len(flagged), len(summary), len(balance)) == (7, 3, 3)


# --- the command line -------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_engine(databases: DatabaseFactory) -> Iterator[Engine]:
    """A database of its own for the command line, with two parcels in 石岐."""
    engine = databases.new("ledger_cli")
    with Session(engine) as session:
        town = session.scalars(select(Town).where(Town.name == "石岐")).one()
        session.add_all(
            Parcel(code=code, town_id=town.id, area_mu=D(area))
            for code, area in (("CLI-P1", "15.00"), ("CLI-P2", "8.50"))
        )
        session.commit()
    yield engine
    engine.dispose()


@pytest.fixture
def run(cli_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """A runner whose commands use ``cli_engine``'s database (settings and engine are
    cached per process, so both are reset around the test)."""
    monkeypatch.setenv(
        "GONGJIAN_DATABASE_URL", cli_engine.url.render_as_string(hide_password=False)
    )
    monkeypatch.setenv("COLUMNS", "250")
    get_settings.cache_clear()
    monkeypatch.setattr(gongjian.db, "_engine", None)
    yield CliRunner()
    if gongjian.db._engine is not None:
        gongjian.db._engine.dispose()
    get_settings.cache_clear()


def _ok(run: CliRunner, *args: str) -> str:
    result = run.invoke(cli_app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def _json(run: CliRunner, *args: str) -> Any:
    return json.loads(_ok(run, *args))


def test_cli_theme_parks_and_enterprises(run: CliRunner, cli_engine: Engine) -> None:
    _ok(run, "theme-park", "add", "CLI-TP", "--name", "命令行主题园", "--theme", "高端装备")
    added = _ok(
        run,
        "enterprise",
        "add",
        "CLI-E1",
        "--name",
        "中山市命令行科技有限公司",
        "--kind",
        "新招引企业",
        "--investment-wan",
        "8888.88",
        "--parcel",
        "CLI-P1",
        "--theme-park",
        "CLI-TP",
        "--signed-on",
        "2023-01-10",
    )
    assert "已新增企业 CLI-E1" in added
    assert "石岐" in added

    def add_other(kind: str, investment_wan: str) -> Result:
        args = ["--name", "x", "--kind", kind, "--investment-wan", investment_wan, "--town", "石岐"]
        return run.invoke(cli_app, ["enterprise", "add", "CLI-E2", *args])

    bad = add_other("attracted", "1.234")
    assert bad.exit_code == 2
    assert "investment_wan" in bad.stderr
    assert "最多 2 位小数" in bad.stderr
    unknown = add_other("moved", "1")
    assert (unknown.exit_code, "--kind" in unknown.stderr) == (2, True)
    not_number = add_other("attracted", "lots")
    assert (not_number.exit_code, "--investment-wan" in not_number.stderr) == (2, True)
    listed = _json(run, "enterprise", "list", "--signed", "--town", "石岐", "--json")
    assert [(e["code"], e["investment_wan"], e["theme_park"]) for e in listed["items"]] == [
        ("CLI-E1", "8888.88", "CLI-TP")
    ]
    assert _json(run, "enterprise", "list", "--unsigned", "--json")["total"] == 0
    _ok(run, "enterprise", "update", "CLI-E1", "--jobs", "250", "--clear", "signed-on")
    shown = _ok(run, "enterprise", "show", "CLI-E1")
    assert "未签订" in shown
    assert "250" in shown
    (summary,) = _json(run, "theme-park", "summary", "--json")
    assert (summary["parcels"], summary["unsigned"], summary["investment_wan"]) == (0, 1, "0.00")
    table = _ok(run, "theme-park", "summary")
    assert "合计" in table
    missing = run.invoke(cli_app, ["enterprise", "show", "CLI-NONE"])
    assert (missing.exit_code, "CLI-NONE" in missing.stderr) == (1, True)
    with Session(cli_engine) as session:
        stored = session.scalars(select(Enterprise).where(Enterprise.code == "CLI-E1")).one()
        assert (stored.investment_wan, stored.jobs, stored.agreement_signed_on) == (
            D("8888.88"),
            250,
            None,
        )


def test_cli_reserve_ledger(run: CliRunner, cli_engine: Engine) -> None:
    added = _ok(
        run,
        "reserve",
        "add",
        "CLI-P2",
        "--area-mu",
        "8.5",
        "--valuation-wan",
        "900",
        "--on",
        "2022-10-01",
        "--funding-source",
        "财政资金",
    )
    assert "8.50 亩" in added
    twice = run.invoke(
        cli_app,
        [
            "reserve",
            "add",
            "CLI-P2",
            "--area-mu",
            "1",
            "--valuation-wan",
            "1",
            "--on",
            "2022-10-02",
        ],
    )
    assert twice.exit_code == 1
    assert "不能重复收储" in twice.stderr
    beyond = run.invoke(
        cli_app, ["reserve", "release", "CLI-P2", "--area-mu", "9", "--on", "2022-11-01"]
    )
    assert beyond.exit_code == 2
    assert "收储 8.50 亩，已出库 0.00 亩，本次 9.00 亩，超出 0.50 亩" in beyond.stderr
    _ok(run, "reserve", "release", "CLI-P2", "--area-mu", "3", "--on", "2022-11-01")
    found = _json(run, "reserve", "balance", "--as-of", "2022-12-31", "--json")
    assert (found["area_mu"], found["valuation_wan"], found["towns"][0]["town"]) == (
        "5.50",
        "582.35",
        "石岐",
    )
    early = _json(run, "reserve", "balance", "--as-of", "2022-10-31", "--json")
    assert early["area_mu"] == "8.50"
    assert "石岐" in _ok(run, "reserve", "balance", "--town", "石岐", "--as-of", "2022-12-31")
    listing = _ok(run, "reserve", "list", "--parcel", "CLI-P2")
    assert "挂账收储" in listing
    assert "供地出库" in listing
    with Session(cli_engine) as session:
        assert session.scalar(select(func.count()).select_from(ReserveEntry)) == 2


def test_cli_leases_flags_and_rents(run: CliRunner) -> None:
    common = ["--start-on", "2022-01-01", "--area-m2", "1000"]
    _ok(
        run,
        "lease",
        "add",
        "CLI-L0",
        "--parcel",
        "CLI-P1",
        "--lessor",
        "村集体",
        "--lessee",
        "甲公司",
        "--rent",
        "10",
        *common,
    )
    _ok(
        run,
        "lease",
        "add",
        "CLI-L1",
        "--parent",
        "CLI-L0",
        "--lessor",
        "甲公司",
        "--lessee",
        "乙公司",
        "--rent",
        "13",
        *common,
    )
    _ok(
        run,
        "lease",
        "add",
        "CLI-L2",
        "--parent",
        "CLI-L1",
        "--lessor",
        "乙公司",
        "--lessee",
        "丙公司",
        "--rent",
        "16.90",
        "--start-on",
        "2022-01-01",
        "--area-m2",
        "400",
    )
    shown = _json(run, "lease", "show", "CLI-L2", "--json")
    assert ([link["code"] for link in shown["chain"]], shown["total_markup_pct"]) == (
        ["CLI-L0", "CLI-L1", "CLI-L2"],
        "69.00",
    )
    assert "转租链" in _ok(run, "lease", "show", "CLI-L2")
    flags = _json(run, "lease", "flags", "--json")
    assert [(f["code"], f["over_parent"], f["over_original"]) for f in flags] == [
        ("CLI-L2", False, True)
    ]
    assert "CLI-L2" in _ok(run, "lease", "flags")
    loop = run.invoke(cli_app, ["lease", "update", "CLI-L0", "--parent", "CLI-L2"])
    assert loop.exit_code == 2
    assert "CLI-L0 → CLI-L2 → CLI-L1 → CLI-L0" in loop.stderr
    _ok(run, "lease", "update", "CLI-L1", "--rent", "13.01")
    assert [f["code"] for f in _json(run, "lease", "flags", "--json")] == ["CLI-L2", "CLI-L1"]
    assert "CLI-L1" in _ok(run, "lease", "list", "--subleases")
    rows = _json(run, "rents", "index", "--from", "2023-Q1", "--to", "2023-Q1", "--json")
    assert [(r["town"], r["leases"], r["median_rent"], r["flagged"]) for r in rows] == [
        ("石岐", 3, "13.01", False)
    ]
    (originals,) = _json(
        run, "rents", "index", "--from", "2023-Q1", "--to", "2023-Q1", "--no-subleases", "--json"
    )
    assert originals["median_rent"] == "10.00"
    assert "租金指数" in _ok(run, "rents", "index", "--from", "2022-Q4", "--to", "2023-Q1")
    bad = run.invoke(cli_app, ["rents", "index", "--from", "2023-Q9"])
    assert bad.exit_code == 2
    assert "--from" in bad.stderr

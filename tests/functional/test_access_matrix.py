"""The access control matrix (issue 8, item 5): every route of the app and the API, with
every role, and the outcome SPEC's roles give.

The roles: the public (no account), a town user of 石岐 (town A, whose records the
requests name), a town user of 东区 (town B, acting on A's records), the city (工改办),
the auditor (审计局) and the admin. SPEC ("Users and roles") and docs/decisions.md
("Roles") give what each may do; the table ``CASES`` below writes it out route by route.

The outcomes:

- ``ok``: allowed. A 2xx or 3xx answer (not a redirect to the sign-in page), or 409/422
  when the domain rules refuse what was asked (a state that does not allow the move, a
  record that exists already): the permission check was passed.
- ``403``: forbidden. The answer is 403, and an audit entry with outcome ``refused``
  for that actor was written by the request.
- ``404``: the record does not exist (never for one that exists but is forbidden).
- ``login``: a page for signed-in users, asked for signed out: a redirect to /login.

Every request names a real record of town A (``{river}``, ``{project}``, ...), or one
that does not exist (``NOPE``, ``999999``). The town user of A acting on them acts on its
own town's records; the town user of B on another town's. A town user reads every
town's records through the API (rankings and progress are shared), but the dashboard's
pages show a town user its own town's records only: another town's record page is a
403 page (docs/decisions.md, "Roles").
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gongjian.audit.models import AuditEntry
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Role
from gongjian.auth.models import SignInFailure
from gongjian.auth.services import add_user
from gongjian.campaign.choices import Campaign
from gongjian.campaign.models import Cadre
from gongjian.demo.generate import DEMO_USERS, load_demo
from gongjian.periods import parse_period
from gongjian.portal.models import ComplaintPhoto
from gongjian.reports.publishing import publish_briefing
from gongjian.water.models import Complaint, MonitoringPoint, PlanMeasure, River, RiverPlan
from gongjian.water.services import set_published
from gongjian.web.app import create_app
from tests.conftest import DatabaseFactory

#: The roles, in the order of the outcome columns of ``CASES``.
ROLES = ("public", "town_a", "town_b", "city", "auditor", "admin")
#: The demo account each role signs in with (the public signs in with none).
ACCOUNTS = {
    "town_a": "town-shiqi",
    "town_b": "town-dongqu",
    "city": "gaigeban",
    "auditor": "shenji",
    "admin": "admin",
}
#: The order the roles act in on each request: those refused first, so that a
#: forbidden request that slipped through would show, and the allowed writes come last.
ACTING_ORDER = ("public", "auditor", "town_b", "town_a", "city", "admin")

#: Routes the matrix leaves out, each with the reason.
EXCLUDED = {
    ("GET", "/healthz"): "the health check: no record, no role, answers everyone",
    ("GET", "/openapi.json"): "the API's description: public by design (SPEC: 'described at')",
    ("MOUNT", "/static"): "static files (CSS, scripts, vendored libraries): public assets",
}

TOWN_A = "石岐"
TOWN_B = "东区"
MISSING = "NOPE-404"
MISSING_ID = 999999
TODAY = dt.date.today().isoformat()

# Outcome rows reused by many routes (columns: public town_a town_b city auditor admin).
READ = "403 ok ok ok ok ok"  # a signed-in read: every role but the public (API)
READ_MISSING = "403 404 404 404 404 404"  # the same read of a record that does not exist
WRITE = "403 ok 403 ok 403 ok"  # a town's record: its own town, the city, the admin
WRITE_MISSING = "403 404 404 404 403 404"  # ... of a record that does not exist
OWN_MISSING = "403 404 403 404 403 404"  # a record of town A's that does not exist
CITY = "403 403 403 ok 403 ok"  # the city's alone (approve, publish, city-wide records)
CITY_MISSING = "403 403 403 404 403 404"
EVERYONE = "ok ok ok ok ok ok"
ALL_MISSING = "404 404 404 404 404 404"
PAGE = "login ok ok ok ok ok"  # a page for every signed-in role
PAGE_OWN = "login ok 403 ok ok ok"  # a town's record page: its own town only
PAGE_MISSING = "login 404 404 404 404 404"
PAGE_WRITE = "login ok 403 ok 403 ok"
PAGE_WRITE_MISSING = "login 404 404 404 403 404"
PAGE_CITY = "login 403 403 ok 403 ok"
PAGE_CITY_MISSING = "login 403 403 404 403 404"
PAGE_TOWNS_OWN = "login ok 403 ok ok ok"  # a list narrowed to town A (town=石岐)
AUDIT_LOG = "403 403 403 403 ok ok"  # the audit log: the auditor and the admin
PAGE_AUDIT_LOG = "login 403 403 403 ok ok"
USERS = "403 403 403 403 403 ok"  # user accounts: the admin alone
PAGE_USERS = "login 403 403 403 403 ok"


@dataclass(frozen=True)
class Case:
    """One request of the matrix and its outcome for each role (``ROLES`` order).

    ``url`` and the bodies may name the records of ``Records`` (``{river}``); ``{n}``
    is a number of its own for each request (new codes). ``version_of`` is the API
    path whose ``ETag`` gives the version a change is based on (sent as ``version``).
    """

    method: str
    route: str
    url: str
    expect: str
    json: dict[str, Any] | None = None
    form: dict[str, str] | None = None
    files: dict[str, tuple[str, bytes, str]] | None = None
    version_of: str | None = None

    def outcomes(self) -> dict[str, str]:
        found = self.expect.split()
        assert len(found) == len(ROLES), f"{self.route}: {len(found)} outcomes"
        return dict(zip(ROLES, found, strict=True))


def api(method: str, route: str, expect: str, url: str | None = None, **kw: Any) -> Case:
    """A case of an API route (``route`` without the /api/v1 prefix)."""
    return Case(method, "/api/v1" + route, "/api/v1" + (url or route), expect, **kw)


def page(method: str, route: str, expect: str, url: str | None = None, **kw: Any) -> Case:
    """A case of a page route."""
    return Case(method, route, url or route, expect, **kw)


P = "/api/v1/projects/{project}"

# fmt: off
CASES: tuple[Case, ...] = (
    # ---- KPIs and towns: published figures, the public included --------------------
    #              route                                   public town_a town_b city auditor admin
    api("GET", "/kpi", EVERYONE),
    api("GET", "/kpi", EVERYONE, "/kpi?town={town_a}"),
    api("GET", "/towns", EVERYONE),
    # ---- rivers: the public reads the published ones --------------------------------
    api("GET", "/rivers", EVERYONE),
    api("GET", "/rivers/{code}", EVERYONE, "/rivers/{river}"),
    api("GET", "/rivers/{code}", "404 ok ok ok ok ok", "/rivers/{hidden_river}"),
    api("GET", "/rivers/{code}", ALL_MISSING, f"/rivers/{MISSING}"),
    api("PATCH", "/rivers/{code}", WRITE, "/rivers/{river}", json={"name": "{river_name}"},
        version_of="/api/v1/rivers/{river}"),
    api("PATCH", "/rivers/{code}", WRITE_MISSING, f"/rivers/{MISSING}", json={"version": 1}),
    api("PUT", "/rivers/{code}/published", CITY, "/rivers/{river}/published",
        json={"published": True}),
    api("PUT", "/rivers/{code}/published", CITY_MISSING, f"/rivers/{MISSING}/published",
        json={"published": True}),
    api("GET", "/rivers/{code}/history", EVERYONE, "/rivers/{river}/history"),
    api("GET", "/rivers/{code}/history", ALL_MISSING, f"/rivers/{MISSING}/history"),
    api("POST", "/rivers/{code}/state", WRITE, "/rivers/{river}/state",
        json={"to_state": "completed", "on": TODAY}),
    api("POST", "/rivers/{code}/state", WRITE_MISSING, f"/rivers/{MISSING}/state",
        json={"to_state": "completed", "on": TODAY}),
    api("POST", "/rivers/{code}/corrections", CITY, "/rivers/{river}/corrections",
        json={"to_state": "entered", "on": TODAY, "reason": "权限矩阵测试"}),
    api("POST", "/rivers/{code}/corrections", CITY_MISSING, f"/rivers/{MISSING}/corrections",
        json={"to_state": "entered", "on": TODAY, "reason": "权限矩阵测试"}),
    api("POST", "/rivers/{code}/surveys", WRITE, "/rivers/{river}/surveys",
        json={"surveyed_on": TODAY, "valid_questionnaires": 10, "satisfied": 9}),
    api("POST", "/rivers/{code}/surveys", WRITE_MISSING, f"/rivers/{MISSING}/surveys",
        json={"surveyed_on": TODAY, "valid_questionnaires": 10, "satisfied": 9}),
    api("GET", "/rivers/{code}/plan", READ, "/rivers/{river}/plan"),
    api("GET", "/rivers/{code}/plan", READ_MISSING, f"/rivers/{MISSING}/plan"),
    api("GET", "/plans/overdue", READ),
    api("PATCH", "/measures/{measure_id}", WRITE, "/measures/{measure}",
        json={"state": "in_progress"}, version_of="measure"),
    api("PATCH", "/measures/{measure_id}", WRITE_MISSING, f"/measures/{MISSING_ID}",
        json={"version": 1, "state": "in_progress"}),
    api("GET", "/priorities", READ),
    api("GET", "/complaints/counts", READ, "/complaints/counts?period=2022-09"),
    api("GET", "/complaints", READ),
    # Taking a complaint by telephone: the river's lead town (town A's river), the city.
    api("POST", "/complaints", WRITE, json={"river": "{river}", "category": "odour",
        "description": "权限矩阵测试", "received_at": "2023-01-20T10:00:00+08:00"}),
    # Closing a complaint: the town it concerns (town A's), the city (409 once closed).
    api("POST", "/complaints/{receipt_no}/close", WRITE, "/complaints/{complaint}/close",
        json={}),
    api("POST", "/complaints/{receipt_no}/close", WRITE_MISSING,
        f"/complaints/{MISSING}/close", json={}),
    api("GET", "/complaints/{receipt_no}", READ, "/complaints/{complaint}"),
    api("GET", "/complaints/{receipt_no}", READ_MISSING, f"/complaints/{MISSING}"),
    # The complainant's personal data: the city, and the town the complaint concerns.
    api("GET", "/complaints/{receipt_no}/contact", WRITE, "/complaints/{complaint}/contact"),
    api("GET", "/complaints/{receipt_no}/contact", WRITE_MISSING,
        f"/complaints/{MISSING}/contact"),
    api("POST", "/assessments", CITY, json={"period": "2022-12"}),
    api("GET", "/assessments", READ),
    api("GET", "/rivers/{code}/grades", READ, "/rivers/{river}/grades?period=2022-12"),
    api("GET", "/rivers/{code}/grades", READ_MISSING, f"/rivers/{MISSING}/grades"),
    api("POST", "/baselines", CITY, json={"as_of": "2022-01-01"}),
    api("GET", "/baselines/latest", READ),
    # ---- renewal: parcels, parks, theme parks, enterprises, reserve, leases ---------
    api("GET", "/parcels", READ),
    api("POST", "/parcels", WRITE, json={"code": "ACM-PA{n}", "town": TOWN_A, "area_mu": "1"}),
    api("GET", "/parcels/{code}", READ, "/parcels/{parcel}"),
    api("GET", "/parcels/{code}", READ_MISSING, f"/parcels/{MISSING}"),
    api("PATCH", "/parcels/{code}", WRITE, "/parcels/{parcel}", json={"name": "{parcel_name}"},
        version_of="/api/v1/parcels/{parcel}"),
    api("PATCH", "/parcels/{code}", WRITE_MISSING, f"/parcels/{MISSING}", json={"version": 1}),
    api("GET", "/parks", READ),
    api("GET", "/parks/{code}", READ, "/parks/{park}"),
    api("GET", "/parks/{code}", READ_MISSING, f"/parks/{MISSING}"),
    api("PATCH", "/parks/{code}", WRITE, "/parks/{park}", json={"name": "{park_name}"},
        version_of="/api/v1/parks/{park}"),
    api("PATCH", "/parks/{code}", WRITE_MISSING, f"/parks/{MISSING}", json={"version": 1}),
    api("GET", "/parcels/{code}/history", READ, "/parcels/{parcel}/history"),
    api("GET", "/parcels/{code}/history", READ_MISSING, f"/parcels/{MISSING}/history"),
    api("POST", "/parcels/{code}/state", WRITE, "/parcels/{parcel}/state",
        json={"to_state": "plan_published", "on": TODAY, "comment_until": TODAY}),
    api("POST", "/parcels/{code}/state", WRITE_MISSING, f"/parcels/{MISSING}/state",
        json={"to_state": "plan_published", "on": TODAY}),
    api("POST", "/parcels/{code}/milestones", WRITE, "/parcels/{parcel}/milestones",
        json={"kind": "planning_application", "area_m2": "100", "on": TODAY}),
    api("POST", "/parcels/{code}/milestones", WRITE_MISSING, f"/parcels/{MISSING}/milestones",
        json={"kind": "planning_application", "area_m2": "100", "on": TODAY}),
    api("PUT", "/parcels/{code}/performance/{year}", WRITE, "/parcels/{parcel}/performance/2022",
        json={"output_per_mu": "100.00"}),
    api("PUT", "/parcels/{code}/performance/{year}", WRITE_MISSING,
        f"/parcels/{MISSING}/performance/2022", json={"output_per_mu": "100.00"}),
    api("GET", "/renewal/identification/{year}", READ, "/renewal/identification/2022"),
    api("GET", "/renewal/clusters", READ),
    api("GET", "/renewal/before-after", READ),
    api("GET", "/theme-parks", READ),
    api("POST", "/theme-parks", CITY,
        json={"code": "ACM-TP{n}", "name": "测试{n}", "theme": "测试"}),
    api("GET", "/theme-parks/summary", READ),
    api("GET", "/theme-parks/{code}", READ, "/theme-parks/{theme_park}"),
    api("GET", "/theme-parks/{code}", READ_MISSING, f"/theme-parks/{MISSING}"),
    api("PATCH", "/theme-parks/{code}", CITY, "/theme-parks/{theme_park}",
        json={"name": "{theme_park_name}"}, version_of="/api/v1/theme-parks/{theme_park}"),
    api("PATCH", "/theme-parks/{code}", CITY_MISSING, f"/theme-parks/{MISSING}",
        json={"version": 1}),
    api("GET", "/enterprises", READ),
    api("POST", "/enterprises", WRITE, json={"code": "ACM-E{n}", "name": "测试企业{n}",
        "kind": "attracted", "investment_wan": "1.00", "town": TOWN_A}),
    api("GET", "/enterprises/{code}", READ, "/enterprises/{enterprise}"),
    api("GET", "/enterprises/{code}", READ_MISSING, f"/enterprises/{MISSING}"),
    api("PATCH", "/enterprises/{code}", WRITE, "/enterprises/{enterprise}",
        json={"jobs": 10}, version_of="/api/v1/enterprises/{enterprise}"),
    api("PATCH", "/enterprises/{code}", WRITE_MISSING, f"/enterprises/{MISSING}",
        json={"version": 1, "jobs": 10}),
    api("GET", "/reserve", READ),
    api("POST", "/reserve", WRITE, json={"parcel": "{parcel}", "area_mu": "1",
        "valuation_wan": "1", "entry_on": TODAY}),
    api("POST", "/reserve", WRITE_MISSING, json={"parcel": MISSING, "area_mu": "1",
        "valuation_wan": "1", "entry_on": TODAY}),
    api("POST", "/reserve/release", WRITE, json={"parcel": "{parcel}", "area_mu": "1",
        "entry_on": TODAY}),
    api("GET", "/reserve/balance", READ),
    api("GET", "/leases", READ),
    api("POST", "/leases", WRITE, json={"code": "ACM-L{n}", "lessor": "甲", "lessee": "乙",
        "area_m2": "10", "rent_yuan_m2_month": "10", "start_on": "2022-01-01",
        "parcel": "{parcel}"}),
    api("GET", "/leases/flags", READ),
    api("GET", "/leases/{code}", READ, "/leases/{lease}"),
    api("GET", "/leases/{code}", READ_MISSING, f"/leases/{MISSING}"),
    api("PATCH", "/leases/{code}", WRITE, "/leases/{lease}", json={"lessee": "{lease_lessee}"},
        version_of="/api/v1/leases/{lease}"),
    api("PATCH", "/leases/{code}", WRITE_MISSING, f"/leases/{MISSING}", json={"version": 1}),
    api("GET", "/rents/index", READ),
    # ---- campaign: projects, batches, commitments, scores, commendation, dispatch ---
    api("GET", "/projects", READ),
    api("GET", "/projects/overdue", READ),
    api("POST", "/projects", WRITE, json={"code": "ACM-P{n}", "name": "测试项目{n}",
        "kind": "sewer", "town": TOWN_A}),
    api("GET", "/projects/{code}", READ, "/projects/{project}"),
    api("GET", "/projects/{code}", READ_MISSING, f"/projects/{MISSING}"),
    api("PATCH", "/projects/{code}", WRITE, "/projects/{project}",
        json={"owner": "测试负责人"}, version_of=P),
    api("PATCH", "/projects/{code}", WRITE_MISSING, f"/projects/{MISSING}",
        json={"version": 1, "owner": "测试负责人"}),
    api("POST", "/projects/{code}/state", WRITE, "/projects/{project}/state",
        json={"to_state": "started", "on": TODAY}),
    api("POST", "/projects/{code}/state", WRITE_MISSING, f"/projects/{MISSING}/state",
        json={"to_state": "started", "on": TODAY}),
    api("GET", "/projects/{code}/history", READ, "/projects/{project}/history"),
    api("GET", "/projects/{code}/history", READ_MISSING, f"/projects/{MISSING}/history"),
    # The audit bureau's early involvement is a field of the project, recorded by the
    # project's town or the city (the auditor writes nothing).
    api("PUT", "/projects/{code}/audit", WRITE, "/projects/{project}/audit",
        json={"joined_on": TODAY, "findings": "测试"}),
    api("PUT", "/projects/{code}/audit", WRITE_MISSING, f"/projects/{MISSING}/audit",
        json={"joined_on": TODAY}),
    api("GET", "/batches", READ),
    api("GET", "/batches/{code}", READ, "/batches/{batch}"),
    api("GET", "/batches/{code}", READ_MISSING, f"/batches/{MISSING}"),
    api("POST", "/batches", CITY, json={"code": "ACM-B{n}", "name": "测试批次{n}",
        "kind": "concentrated_start", "held_on": TODAY, "projects": []}),
    api("POST", "/batches/{code}/projects", CITY, "/batches/{batch}/projects",
        json={"projects": ["{project}"]}),
    api("POST", "/batches/{code}/projects", CITY_MISSING, f"/batches/{MISSING}/projects",
        json={"projects": ["{project}"]}),
    api("DELETE", "/batches/{code}/projects/{project}", CITY,
        "/batches/{batch}/projects/{project}"),
    api("DELETE", "/batches/{code}/projects/{project}", CITY_MISSING,
        f"/batches/{MISSING}/projects/{{project}}"),
    api("GET", "/commitments", READ),
    api("POST", "/commitments", WRITE, json={"town": TOWN_A, "year": 2023,
        "campaign": "water", "targets": {"water.rivers_entered": 1}}),
    api("GET", "/commitments/{town}/{year}/{campaign}", READ, "/commitments/{commitment}"),
    # A commitment of town A that does not exist: town B may write none of A's (403).
    api("GET", "/commitments/{town}/{year}/{campaign}", READ_MISSING,
        "/commitments/{town_a_code}/2030/water"),
    api("PUT", "/commitments/{town}/{year}/{campaign}/targets", WRITE,
        "/commitments/{commitment}/targets", json={"targets": {"renewal.attracted": 0}}),
    api("PUT", "/commitments/{town}/{year}/{campaign}/targets", OWN_MISSING,
        "/commitments/{town_a_code}/2030/water/targets",
        json={"targets": {"water.rivers_entered": 1}}),
    api("POST", "/commitments/{town}/{year}/{campaign}/sign", WRITE,
        "/commitments/{commitment}/sign", json={"signed_on": "2023-01-13"}),
    api("POST", "/commitments/{town}/{year}/{campaign}/sign", OWN_MISSING,
        "/commitments/{town_a_code}/2030/water/sign", json={"signed_on": "2023-01-13"}),
    api("POST", "/commitments/{town}/{year}/{campaign}/approve", CITY,
        "/commitments/{commitment}/approve"),
    api("POST", "/commitments/{town}/{year}/{campaign}/approve", CITY_MISSING,
        "/commitments/{town_a_code}/2030/water/approve"),
    api("GET", "/commitments/{town}/{year}/{campaign}/progress", READ,
        "/commitments/{commitment}/progress"),
    api("GET", "/commitments/{town}/{year}/{campaign}/progress", READ_MISSING,
        "/commitments/{town_a_code}/2030/water/progress"),
    api("GET", "/ranking", READ, "/ranking?year=2022"),
    api("GET", "/scores/{town}", READ, "/scores/{town_a_code}?year=2022"),
    api("GET", "/scores/{town}", READ_MISSING, f"/scores/{MISSING}?year=2022"),
    api("GET", "/score-adjustments", READ),
    api("POST", "/score-adjustments", CITY, json={"town": TOWN_A, "year": 2022,
        "campaign": "water", "points": "0", "reason": "权限矩阵测试"}),
    api("GET", "/commendations/candidates", READ, "/commendations/candidates?year=2022"),
    api("GET", "/commendations", READ),
    api("POST", "/commendations", CITY, json={"year": 2022}),
    api("POST", "/commendations/individuals", CITY, json={"year": 2022,
        "person_name": "测试", "town": TOWN_A, "citation": "权限矩阵测试"}),
    api("GET", "/dispatch/recommendation", READ, "/dispatch/recommendation?cadres=20"),
    api("GET", "/dispatches", READ),
    api("POST", "/dispatches", CITY, json={"cadre": "{cadre}", "town": TOWN_A,
        "from_on": "2023-03-01", "role": "测试"}),
    # ---- accounts, the audit log, imports, exports, stations ------------------------
    api("GET", "/users", USERS),
    api("GET", "/audit", AUDIT_LOG),
    api("GET", "/audit/verify", AUDIT_LOG),
    api("POST", "/samples", WRITE, json={"dry_run": True, "samples": [{"point_id": "{point}",
        "sampled_at": "2022-12-30T10:00:00", "do_mg_l": "3.0"}]}),
    api("GET", "/templates/{kind}.xlsx", EVERYONE, "/templates/projects.xlsx"),
    api("GET", "/exports/{kind}.xlsx", READ, "/exports/projects.xlsx?town={town_a}"),
    api("GET", "/exports/{kind}.csv", READ, "/exports/projects.csv?town={town_a}"),
    api("POST", "/imports/{kind}", WRITE, "/imports/projects?dry_run=true",
        files={"file": ("projects.csv", b"{projects_csv}", "text/csv")}),
    api("POST", "/stations", CITY, json={"name": "acm-station-{n}", "points": ["{point}"]}),
    api("GET", "/stations", READ),
    api("POST", "/stations/{name}/revoke", CITY, "/stations/{station}/revoke"),
    api("POST", "/stations/{name}/revoke", CITY_MISSING, f"/stations/{MISSING}/revoke"),
    # ---- sign-in, language, the API's documentation, the admin's user page ----------
    page("GET", "/login", EVERYONE),
    page("POST", "/login", EVERYONE, form={"username": "acm-nobody-{n}", "password": "wrong"}),
    page("GET", "/lang/{code}", EVERYONE, "/lang/zh-CN?next=/portal"),
    page("GET", "/docs", EVERYONE),
    page("GET", "/admin/users", PAGE_USERS),
    page("POST", "/admin/users/disable", PAGE_USERS, form={"username": "{victim}"}),
    page("POST", "/admin/users/enable", PAGE_USERS, form={"username": "{victim}"}),
    page("POST", "/admin/users/end-sessions", PAGE_USERS, form={"username": "{victim}"}),
    # ---- the dashboard: overview, town pages, map ----------------------------------
    page("GET", "/", PAGE),
    page("GET", "/towns/{code}", PAGE_OWN, "/towns/{town_a_code}"),
    page("GET", "/towns/{code}", PAGE_MISSING, f"/towns/{MISSING}"),
    page("GET", "/map/features.geojson", PAGE),
    # ---- record pages: a town user sees its own town's records ---------------------
    page("GET", "/complaints", PAGE),
    page("GET", "/complaints", PAGE_TOWNS_OWN, "/complaints?town={town_a}"),
    # Recording a complaint taken by telephone: a town (for the rivers it leads), the city.
    page("GET", "/complaints/new", "login ok ok ok 403 ok"),
    page("POST", "/complaints/new", PAGE_WRITE, form={"river": "{river_id}",
         "category": "odour", "description": "权限矩阵测试"}),
    page("GET", "/complaints/{receipt_no}", PAGE_OWN, "/complaints/{complaint}"),
    # The photo a citizen attached: like the contact, the city and the town concerned.
    page("GET", "/complaints/{receipt_no}/photo", PAGE_WRITE, "/complaints/{complaint}/photo"),
    page("GET", "/complaints/{receipt_no}/photo", PAGE_WRITE_MISSING,
         f"/complaints/{MISSING}/photo"),
    page("GET", "/complaints/{receipt_no}", PAGE_MISSING, f"/complaints/{MISSING}"),
    page("POST", "/complaints/{receipt_no}/close", PAGE_WRITE, "/complaints/{complaint}/close",
         form={}),
    page("POST", "/complaints/{receipt_no}/close", PAGE_WRITE_MISSING,
         f"/complaints/{MISSING}/close", form={}),
    page("GET", "/rivers", PAGE),
    page("GET", "/rivers", PAGE_TOWNS_OWN, "/rivers?town={town_a}"),
    page("GET", "/rivers/{river_id}", PAGE_OWN, "/rivers/{river_id}"),
    page("GET", "/rivers/{river_id}", PAGE_MISSING, f"/rivers/{MISSING_ID}"),
    page("POST", "/rivers/{river_id}/publish", PAGE_CITY, "/rivers/{river_id}/publish",
         form={"published": "1"}),
    page("POST", "/rivers/{river_id}/publish", PAGE_CITY_MISSING, f"/rivers/{MISSING_ID}/publish",
         form={"published": "1"}),
    page("POST", "/rivers/{river_id}/state", PAGE_WRITE, "/rivers/{river_id}/state",
         form={"to_state": "completed", "on": TODAY}),
    page("POST", "/rivers/{river_id}/state", PAGE_WRITE_MISSING, f"/rivers/{MISSING_ID}/state",
         form={"to_state": "completed", "on": TODAY}),
    page("POST", "/rivers/{river_id}/correction", PAGE_CITY, "/rivers/{river_id}/correction",
         form={"to_state": "entered", "on": TODAY, "reason": "权限矩阵测试"}),
    page("POST", "/rivers/{river_id}/correction", PAGE_CITY_MISSING,
         f"/rivers/{MISSING_ID}/correction",
         form={"to_state": "entered", "on": TODAY, "reason": "权限矩阵测试"}),
    page("GET", "/parcels", PAGE),
    page("GET", "/parcels", PAGE_TOWNS_OWN, "/parcels?town={town_a}"),
    page("GET", "/parcels/{code}", PAGE_OWN, "/parcels/{parcel}"),
    page("GET", "/parcels/{code}", PAGE_MISSING, f"/parcels/{MISSING}"),
    page("POST", "/parcels/{code}/state", PAGE_WRITE, "/parcels/{parcel}/state",
         form={"to_state": "plan_published", "on": TODAY, "comment_until": TODAY}),
    page("POST", "/parcels/{code}/state", PAGE_WRITE_MISSING, f"/parcels/{MISSING}/state",
         form={"to_state": "plan_published", "on": TODAY}),
    page("GET", "/clusters", PAGE),
    page("GET", "/enterprises", PAGE),
    page("GET", "/enterprises", PAGE_TOWNS_OWN, "/enterprises?town={town_a}"),
    page("GET", "/projects", PAGE),
    page("GET", "/projects", PAGE_TOWNS_OWN, "/projects?town={town_a}"),
    page("GET", "/projects/{code}", PAGE_OWN, "/projects/{project}"),
    page("GET", "/projects/{code}", PAGE_MISSING, f"/projects/{MISSING}"),
    page("POST", "/projects/{code}/state", PAGE_WRITE, "/projects/{project}/state",
         form={"to_state": "started", "on": TODAY}),
    page("POST", "/projects/{code}/state", PAGE_WRITE_MISSING, f"/projects/{MISSING}/state",
         form={"to_state": "started", "on": TODAY}),
    page("GET", "/batches", PAGE),
    page("GET", "/batches/{code}", PAGE, "/batches/{batch}"),
    page("GET", "/batches/{code}", PAGE_MISSING, f"/batches/{MISSING}"),
    page("GET", "/ranking", PAGE),
    # The dispatch of cadres is a city-wide record: not a town's page.
    page("GET", "/dispatch", "login 403 403 ok ok ok"),
    page("POST", "/dispatch", PAGE_CITY, form={"cadre": "{cadre}", "town": TOWN_A,
         "from_on": "2023-03-01", "role": "测试"}),
    # ---- imports (the city, the towns, the admin), exports, the audit log ----------
    page("GET", "/imports", "login ok ok ok 403 ok"),
    page("POST", "/imports", "login ok ok ok 403 ok", form={"kind": "projects"},
         files={"file": ("projects.csv", b"{projects_csv}", "text/csv")}),
    # A pending upload that is not there (never made, or expired): 410 Gone; cancelling
    # it is done already.
    page("POST", "/imports/confirm", "login 410 410 410 403 410", form={"token": MISSING}),
    page("POST", "/imports/cancel", "login ok ok ok 403 ok", form={"token": MISSING}),
    page("GET", "/exports/{kind}", PAGE, "/exports/projects"),
    page("GET", "/exports/{kind}", PAGE_TOWNS_OWN, "/exports/projects?town={town_a}"),
    page("GET", "/exports/{kind}", PAGE_AUDIT_LOG, "/exports/audit"),
    page("GET", "/exports/{kind}", PAGE_MISSING, f"/exports/{MISSING}"),
    page("GET", "/audit", PAGE_AUDIT_LOG),
    # ---- the public portal: everyone, and only what is published --------------------
    page("GET", "/portal", EVERYONE),
    page("GET", "/portal/rivers.geojson", EVERYONE),
    page("GET", "/portal/rivers/{river_id}", EVERYONE, "/portal/rivers/{river_id}"),
    page("GET", "/portal/rivers/{river_id}", ALL_MISSING, "/portal/rivers/{hidden_river_id}"),
    page("GET", "/portal/rivers/{river_id}", ALL_MISSING, f"/portal/rivers/{MISSING_ID}"),
    page("GET", "/portal/briefings/{briefing_id}", EVERYONE, "/portal/briefings/{briefing}"),
    page("GET", "/portal/briefings/{briefing_id}", ALL_MISSING,
         f"/portal/briefings/{MISSING_ID}"),
    page("GET", "/portal/briefings/{briefing_id}.docx", EVERYONE,
         "/portal/briefings/{briefing}.docx"),
    page("GET", "/portal/briefings/{briefing_id}.docx", ALL_MISSING,
         f"/portal/briefings/{MISSING_ID}.docx"),
    page("GET", "/portal/complaints/new", EVERYONE),
    # An empty complaint: the form again with its problems (422), nothing written.
    page("POST", "/portal/complaints/new", EVERYONE, form={"river": "{river_id}"}),
    page("GET", "/portal/receipts", EVERYONE, "/portal/receipts?receipt_no={complaint}"),
    page("GET", "/portal/mode/{mode}/{state}", EVERYONE, "/portal/mode/elder/on"),
    # ---- briefings: every signed-in role reads; the city writes and publishes ------
    page("GET", "/briefings", PAGE),
    page("GET", "/briefings/document", PAGE_CITY, "/briefings/document?period=bad"),
    page("POST", "/briefings/publish", PAGE_CITY, form={"period": "bad"}),
    # Last: signing out ends each role's session.
    page("POST", "/logout", "login ok ok ok ok ok"),
)
# fmt: on


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the app answers, walking included routers (newer FastAPI
    keeps them as ``_IncludedRouter`` entries of ``app.routes``); mounts as
    ``("MOUNT", path)``."""
    found: set[tuple[str, str]] = set()

    def walk(routes: list[Any], prefix: str) -> None:
        for route in routes:
            included = getattr(route, "original_router", None)
            if included is not None:
                walk(included.routes, prefix + route.include_context.prefix)
            elif getattr(route, "methods", None):
                for method in route.methods - {"HEAD"}:
                    found.add((method, prefix + route.path))
            else:
                found.add(("MOUNT", prefix + route.path))

    walk(app.routes, "")
    return found


def test_every_route_has_an_expectation() -> None:
    """A new route cannot slip in untested: each one is in ``CASES`` or ``EXCLUDED``."""
    from sqlalchemy import create_engine

    routes = app_routes(create_app(create_engine("sqlite://")))
    covered = {(case.method, case.route) for case in CASES} | set(EXCLUDED)
    assert sorted(routes - covered) == [], "routes without an expectation in CASES"
    assert sorted(covered - routes) == [], "expectations for routes the app does not have"
    for case in CASES:
        case.outcomes()


# --- the app, its database and a browser per role --------------------------------------


@dataclass
class Records:
    """The records the requests name: town A's, and the ones made for this test."""

    values: dict[str, str]
    counter: int = 0

    def fill(self, text: str) -> str:
        self.counter += 1
        return text.replace("{n}", str(self.counter)).format(**self.values)

    def fill_json(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.fill(value)
        if isinstance(value, dict):
            return {k: self.fill_json(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.fill_json(v) for v in value]
        return value


@dataclass
class Browser:
    """A role's client: signed in through /login (the public: not at all)."""

    role: str
    client: TestClient
    username: str
    csrf: str = ""


@pytest.fixture(scope="module")
def matrix_engine(databases: DatabaseFactory) -> Iterator[Engine]:
    """The small demo city (seed 7) in a database of this module's own."""
    engine = databases.new("matrix", towns=False)
    load_demo(engine, seed=7, scale="small")
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def matrix_app(matrix_engine: Engine) -> FastAPI:
    app = create_app(matrix_engine)

    @app.get("/__acm_boom", include_in_schema=False)
    def boom() -> None:  # a test-only route: an unexpected error
        raise RuntimeError("secret traceback detail")

    return app


def _password(username: str) -> str:
    return next(pw for name, pw, *_ in DEMO_USERS if name == username)


def _csrf_of(html: str) -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert found, "no csrf-token meta tag"
    return found.group(1)


def sign_in(client: TestClient, username: str, password: str) -> httpx.Response:
    page_ = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page_.text)
    assert token, page_.text
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token[1]}
    )


def browser(app: FastAPI, role: str) -> Browser:
    client = TestClient(app, follow_redirects=False)
    client.__enter__()
    if role == "public":
        return Browser(role, client, "public")
    username = ACCOUNTS[role]
    response = sign_in(client, username, _password(username))
    assert response.status_code == 303, response.text
    csrf = _csrf_of(client.get("/docs").text)
    client.headers["X-CSRF-Token"] = csrf  # what app.js sends with every request
    return Browser(role, client, username, csrf=csrf)


def _records(engine: Engine, admin: TestClient) -> Records:
    """Town A's records, and those made here: a published river of A, a project and an
    enterprise of A, a station, an account for the admin's page, a published briefing."""
    system = Actor.system("test")
    with Session(engine) as session:
        rivers = list(
            session.scalars(select(River).where(River.lead_town_id == 1).order_by(River.code))
        )
        hidden, shown = rivers[0], rivers[1]
        set_published(session, actor=system, river_id=shown.id, published=True)
        set_published(session, actor=system, river_id=hidden.id, published=False)
        point = session.scalars(
            select(MonitoringPoint.code).where(MonitoringPoint.river_id == shown.id)
        ).first()
        measure = session.scalars(
            select(PlanMeasure.id)
            .join(RiverPlan, RiverPlan.id == PlanMeasure.plan_id)
            .where(RiverPlan.river_id == shown.id)
        ).first()
        add_user(
            session,
            actor=system,
            username="acm-victim",
            password="acm-victim-password",
            role=Role.town,
            town=TOWN_B,
        )
        briefing = publish_briefing(
            session, actor=system, period=parse_period("2023-01"), campaigns=tuple(Campaign)
        )
        session.commit()
        values = {
            "town_a": TOWN_A,
            "town_a_code": "442000001",
            "river": shown.code,
            "river_name": shown.name,
            "river_id": str(shown.id),
            "hidden_river": hidden.code,
            "hidden_river_id": str(hidden.id),
            "point": str(point),
            "measure": str(measure),
            "victim": "acm-victim",
            "briefing": str(briefing.id),
        }

    def first(path: str) -> dict[str, Any]:
        response = admin.get(path)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items[0]

    parcel = first("/api/v1/parcels?town=石岐")
    park = first("/api/v1/parks?town=石岐")
    lease = first("/api/v1/leases?town=石岐")
    theme_park = first("/api/v1/theme-parks")
    batch = first("/api/v1/batches")
    made = {
        "/api/v1/projects": {"code": "ACM-P0", "name": "权限矩阵测试项目", "kind": "sewer",
                             "town": TOWN_A},
        "/api/v1/enterprises": {"code": "ACM-E0", "name": "权限矩阵测试企业",
                                "kind": "attracted", "investment_wan": "1.00", "town": TOWN_A},
        "/api/v1/stations": {"name": "acm-station", "points": [values["point"]]},
    }  # fmt: skip
    for path, body in made.items():
        response = admin.post(path, json=body)
        assert response.status_code == 201, response.text
    projects_csv = admin.get("/api/v1/exports/projects.csv?town=石岐")
    assert projects_csv.status_code == 200
    with Session(engine) as session:
        complaint = session.scalars(select(Complaint).where(Complaint.town_id == 1)).first()
        assert complaint is not None
        receipt_no = complaint.receipt_no
        session.add(  # the photo a citizen attached: its page route is in the matrix
            ComplaintPhoto(
                complaint_id=complaint.id,
                content_type="image/png",
                size_bytes=4,
                sha256="0" * 64,
                data=b"\x89PNG",
            )
        )
        session.commit()
        cadre = session.scalar(select(func.min(Cadre.code)))
    values |= {
        "parcel": parcel["code"],
        "parcel_name": parcel.get("name") or "",
        "park": park["code"],
        "park_name": park["name"],
        "lease": lease["code"],
        "lease_lessee": lease["lessee"],
        "theme_park": theme_park["code"],
        "theme_park_name": theme_park["name"],
        "batch": batch["code"],
        "project": "ACM-P0",
        "enterprise": "ACM-E0",
        "station": "acm-station",
        "commitment": "442000001/2023/renewal",
        "complaint": receipt_no,
        "cadre": str(cadre),
        "projects_csv": projects_csv.text,
    }
    return Records(values)


@dataclass
class Matrix:
    app: FastAPI
    engine: Engine
    browsers: dict[str, Browser]
    records: Records


@pytest.fixture(scope="module")
def matrix(matrix_app: FastAPI, matrix_engine: Engine) -> Iterator[Matrix]:
    browsers = {role: browser(matrix_app, role) for role in ROLES}
    records = _records(matrix_engine, browsers["admin"].client)
    yield Matrix(matrix_app, matrix_engine, browsers, records)
    for each in browsers.values():
        each.client.__exit__(None, None, None)


def refused_count(engine: Engine, actor: str) -> int:
    with Session(engine) as session:
        stmt = select(func.count()).where(
            AuditEntry.actor == actor, AuditEntry.outcome == "refused"
        )
        return session.scalar(stmt) or 0


def _version(matrix: Matrix, case: Case) -> int:
    admin = matrix.browsers["admin"].client
    if case.version_of == "measure":
        plan = admin.get(matrix.records.fill("/api/v1/rivers/{river}/plan")).json()
        wanted = int(matrix.records.values["measure"])
        return next(m["version"] for m in plan["measures"] if m["id"] == wanted)
    assert case.version_of is not None
    response = admin.get(matrix.records.fill(case.version_of))
    assert response.status_code == 200, response.text
    return int(response.headers["ETag"].strip('"'))


def send(matrix: Matrix, who: Browser, case: Case) -> httpx.Response:
    """The request of ``case`` as ``who`` sends it: the session's CSRF token in the
    header (the API) and the form (pages), the version read just before a change."""
    records = matrix.records
    url = records.fill(case.url)
    kwargs: dict[str, Any] = {}
    if case.json is not None:
        body = records.fill_json(case.json)
        if case.version_of:
            body["version"] = _version(matrix, case)
        kwargs["json"] = body
    if case.form is not None or case.files is not None:
        form = records.fill_json(case.form or {})
        if url.startswith(SIGNED_OUT_FORMS):
            token = _anonymous_token(who.client, url)
            kwargs["headers"] = {"X-CSRF-Token": token}
        else:
            token = who.csrf
        form["csrf_token"] = token
        kwargs["data"] = form
    if case.files is not None:
        kwargs["files"] = {
            name: (filename, records.fill(content.decode()).encode(), kind)
            for name, (filename, content, kind) in case.files.items()
        }
    return who.client.request(case.method, url, **kwargs)


#: Forms that carry the signed-out browser's double-submit token, whoever sends them.
SIGNED_OUT_FORMS = ("/login", "/portal/")


def _anonymous_token(client: TestClient, url: str) -> str:
    """The double-submit token of the browser's cookie (set by the sign-in page it
    showed before signing in, or by the portal's form)."""
    token = client.cookies.get("gongjian_csrf")
    if token is None:
        found = re.search(
            r'name="csrf_token" value="([^"]+)"', client.get("/portal/complaints/new").text
        )
        assert found
        token = found[1]
    return token


def outcome_of(response: httpx.Response) -> str:
    """What an answer means in the table's words."""
    status = response.status_code
    location = response.headers.get("location", "")
    if status in (302, 303, 307) and location.startswith("/login?next="):
        return "login"
    if 200 <= status < 400 or status in (409, 422):
        return "ok"
    return str(status)


def test_access_matrix(matrix: Matrix) -> None:
    """Every route, every role: the outcome in ``CASES``; every 403 is logged."""
    mismatches: list[str] = []
    logout = [case for case in CASES if case.route == "/logout"]
    for case in [c for c in CASES if c.route != "/logout"] + logout:
        expected = case.outcomes()
        for role in ACTING_ORDER:
            who = matrix.browsers[role]
            before = refused_count(matrix.engine, who.username) if expected[role] == "403" else 0
            response = send(matrix, who, case)
            got = outcome_of(response)
            where = f"{case.method} {matrix.records.fill(case.url)} as {role}"
            if got != expected[role]:
                mismatches.append(
                    f"{where}: expected {expected[role]}, got {response.status_code}"
                    f" {response.text[:160]!r}"
                )
            elif got == "403" and refused_count(matrix.engine, who.username) <= before:
                mismatches.append(f"{where}: 403 without a refused audit entry")
    size = len({(c.method, c.route) for c in CASES})
    assert mismatches == [], (
        f"{len(mismatches)} of {len(CASES) * len(ROLES)} requests ({size} routes x "
        f"{len(ROLES)} roles) differ from SPEC:\n" + "\n".join(mismatches)
    )


# --- sign-in, sign-out, refusals and unexpected errors are logged ----------------------


def _entries(engine: Engine, **where: str) -> list[AuditEntry]:
    with Session(engine) as session:
        stmt = select(AuditEntry).order_by(AuditEntry.seq)
        for column, value in where.items():
            stmt = stmt.where(getattr(AuditEntry, column) == value)
        return list(session.scalars(stmt))


def test_sign_in_and_sign_out_are_audited(matrix_app: FastAPI, matrix_engine: Engine) -> None:
    """A sign-in and a sign-out each leave an audit entry of the user."""
    username = ACCOUNTS["town_b"]
    signed_in = len(_entries(matrix_engine, actor=username, action="sign_in", outcome="ok"))
    signed_out = len(_entries(matrix_engine, actor=username, action="sign_out", outcome="ok"))
    with TestClient(matrix_app, follow_redirects=False) as client:
        assert sign_in(client, username, _password(username)).status_code == 303
        token = _csrf_of(client.get("/docs").text)
        response = client.post("/logout", data={"csrf_token": token})
        assert response.status_code == 303
        assert response.headers["location"] == "/login?signed_out=1"
        assert client.get("/").headers["location"].startswith("/login?next=")
    after_in = _entries(matrix_engine, actor=username, action="sign_in", outcome="ok")
    after_out = _entries(matrix_engine, actor=username, action="sign_out", outcome="ok")
    assert len(after_in) == signed_in + 1
    assert len(after_out) == signed_out + 1


def test_a_failed_sign_in_is_recorded(matrix_app: FastAPI, matrix_engine: Engine) -> None:
    """A wrong password is refused (the form again, no session), counted for the
    lock-out and written to the audit log as refused."""
    username = ACCOUNTS["auditor"]
    before = len(_entries(matrix_engine, action="sign_in", record_id=username, outcome="refused"))
    with TestClient(matrix_app, follow_redirects=False) as client:
        response = sign_in(client, username, "not-the-password")
        assert response.status_code == 200
        assert "gongjian_session" not in response.cookies
    refused = _entries(matrix_engine, action="sign_in", record_id=username, outcome="refused")
    assert len(refused) == before + 1
    assert refused[-1].resource == "user"
    with Session(matrix_engine) as session:
        failures = session.scalars(
            select(SignInFailure).where(SignInFailure.username == username)
        ).all()
    assert failures, "the failure is counted for the lock-out"


def test_a_refused_check_names_the_actor_and_the_record(matrix: Matrix) -> None:
    """A 403 is in the audit log with who, what and which record."""
    town_b = browser(matrix.app, "town_b")
    project = matrix.records.values["project"]
    with town_b.client:
        response = town_b.client.get(f"/projects/{project}")
    assert response.status_code == 403
    entry = _entries(matrix.engine, actor=town_b.username, outcome="refused")[-1]
    assert (entry.role, entry.action, entry.resource, entry.record_id) == (
        "town",
        "view",
        "project",
        project,
    )
    assert entry.town_id == 1


def test_an_unexpected_error_is_logged_with_an_incident_number(
    matrix: Matrix, caplog: pytest.LogCaptureFixture
) -> None:
    """An exception no route expected: the 500 page with an incident number and no
    traceback; the traceback is logged (logger ``gongjian.web``) with the same number."""
    client = matrix.browsers["city"].client
    with caplog.at_level(logging.ERROR, logger="gongjian.web"):
        response = client.get("/__acm_boom")
    assert response.status_code == 500
    assert "Traceback" not in response.text
    assert "secret traceback detail" not in response.text
    logged = [r for r in caplog.records if r.name == "gongjian.web" and r.exc_info]
    assert len(logged) == 1
    incident = re.search(r"incident (\w+)", logged[0].getMessage())
    assert incident, logged[0].getMessage()
    assert incident[1] in response.text
    assert "secret traceback detail" in caplog.text

"""The command dashboard: the city overview (``/``), a town's page (``/towns/{code}``) and
the map's records as GeoJSON (``/map/features.geojson``).

Every page reads as of ``period`` (``2023-01``, ``2023-W05``) or ``as_of`` (a date;
default today), and measures changes from the previous period's last day. Each figure
links to the records behind it, by the list pages' filters.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from markupsafe import Markup

from gongjian.campaign.choices import WWTP_KINDS, ProjectKind
from gongjian.campaign.rules import INDICATORS
from gongjian.config import get_settings
from gongjian.kpi.cache import figures_cache
from gongjian.kpi.dashboard import (
    TOWN_RIVERS_SHOWN,
    MapRecords,
    Moment,
    TownRef,
    city_overview,
    map_records,
    map_scope,
    moment,
    town_page,
)
from gongjian.kpi.services import SEWER_DONE, WWTP_STARTED
from gongjian.renewal.choices import CLEARED_OR_LATER, EnterpriseKind, RenewalState
from gongjian.water.choices import Grade, RemediationState
from gongjian.web.deps import PageActor, SessionDep
from gongjian.web.i18n import language_of, translate
from gongjian.web.templating import render, render_fragment

router = APIRouter(include_in_schema=False)

Params = list[tuple[str, str]]

#: The records behind each KPI: the list page and its filters (the shared URL contract).
KPI_RECORDS: dict[str, tuple[str, Params]] = {
    "renewal.cleared_mu": ("/parcels", [("reached", RenewalState.cleared.value)]),
    "renewal.attracted": (
        "/enterprises",
        [("kind", EnterpriseKind.attracted.value), ("signed", "1")],
    ),
    "renewal.expansions": (
        "/enterprises",
        [("kind", EnterpriseKind.expansion.value), ("signed", "1")],
    ),
    "renewal.investment_yi": ("/enterprises", [("signed", "1")]),
    "water.rivers_entered": ("/rivers", [("reached", RemediationState.entered.value)]),
    "water.rivers_completed": ("/rivers", [("reached", RemediationState.completed.value)]),
    "water.sewer_km": (
        "/projects",
        [("kind", ProjectKind.sewer.value), *(("state", s.value) for s in SEWER_DONE)],
    ),
    "water.wwtp_started": (
        "/projects",
        [*(("kind", k.value) for k in WWTP_KINDS), *(("state", s.value) for s in WWTP_STARTED)],
    ),
    "water.black_odor_reduction_pct": ("/rivers", [("baseline", "1")]),
}


def _url(path: str, params: Params) -> str:
    return f"{path}?{urlencode(params)}" if params else path


def _scope(as_of: dt.date, town: TownRef | None) -> Params:
    return ([("town", town.code)] if town else []) + [("as_of", as_of.isoformat())]


class Links:
    """The URLs a dashboard page links to, as of its day and within its town (if any)."""

    def __init__(self, as_of: dt.date, town: TownRef | None = None) -> None:
        self.as_of = as_of
        self.town = town

    def kpi(self, key: str) -> str:
        """The records behind the KPI ``key``."""
        path, params = KPI_RECORDS[key]
        return _url(path, params + _scope(self.as_of, self.town))

    def town_page(self, town: TownRef) -> str:
        return _url(f"/towns/{town.code}", [("as_of", self.as_of.isoformat())])

    def rivers(self, town: TownRef | None, grade: Grade | None = None) -> str:
        """Rivers (of ``town``) by their grade; every river when ``grade`` is None."""
        params = [("grade", grade.value)] if grade is not None else []
        return _url("/rivers", params + _scope(self.as_of, town))

    def parcels(self, town: TownRef | None, state: RenewalState | None = None) -> str:
        """Parcels (of ``town``) in ``state``; every parcel when ``state`` is None."""
        params = [("state", state.value)] if state is not None else []
        return _url("/parcels", params + _scope(self.as_of, town))

    def parcels_cleared(self, town: TownRef | None) -> str:
        reached = ("reached", RenewalState.cleared.value)
        return _url("/parcels", [reached, *_scope(self.as_of, town)])

    def features(self, town: TownRef | None) -> str:
        return _url("/map/features.geojson", _scope(self.as_of, town))

    @staticmethod
    def river(river_id: int) -> str:
        return f"/rivers/{river_id}"

    @staticmethod
    def parcel(code: str) -> str:
        return f"/parcels/{code}"

    def ranking(self) -> str:
        return _url("/ranking", [("period", f"{self.as_of:%Y-%m}")])


def _legend(request: Request) -> list[dict[str, str]]:
    """What the map's styles mean: every grade, rivers not graded yet, then parcels
    before and after clearing (the states' own labels)."""
    lang = language_of(request)
    before = [s for s in RenewalState if s not in CLEARED_OR_LATER]
    after = CLEARED_OR_LATER
    return [
        *({"style": f"grade-{grade.value}", "label": grade.label} for grade in Grade),
        {"style": "grade-ungraded", "label": translate(lang, "dashboard.grade.ungraded")},
        {
            "style": "parcel-pending",
            "label": translate(
                lang, "dashboard.map.parcels_from_to", first=before[0].label, last=before[-1].label
            ),
        },
        {
            "style": "parcel-cleared",
            "label": translate(
                lang, "dashboard.map.parcels_from_to", first=after[0].label, last=after[-1].label
            ),
        },
    ]


def _map_context(request: Request, when: Moment, town: TownRef | None) -> dict[str, Any]:
    """What every dashboard page gives its period selector, map and map tables."""
    settings = get_settings()
    return {
        "when": when,
        "map_links": Links(when.as_of, town),
        "legend": _legend(request),
        "map_settings": {
            "tiles": settings.map_tile_url,
            "attribution": settings.map_tile_attribution,
        },
        "grades": list(Grade),
        "renewal_states": list(RenewalState),
        "rivers_shown": TOWN_RIVERS_SHOWN,
    }


@router.get("/", response_class=HTMLResponse)
def overview(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    period: str | None = None,
    as_of: str | None = None,
) -> Response:
    """The city overview: headline KPIs, every town's figures, the map and its table.
    Its body is rendered once per language, moment and map and kept in the figures
    cache with the figures it shows (the page around it names the signed-in user)."""
    when = moment(period=period, as_of=as_of)
    page = city_overview(session, actor=actor, when=when)
    links = Links(when.as_of)

    def body() -> Markup:
        context = _map_context(request, when, page.map_town)
        return render_fragment(
            request, "dashboard/_overview.html", page=page, links=links, **context
        )

    key = ("overview.html", language_of(request), when, page.map_town)
    return render(
        request,
        "dashboard/overview.html",
        page=page,
        links=links,
        body=figures_cache.get(session, key, body),
    )


@router.get("/towns/{code}", response_class=HTMLResponse)
def town(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    code: str,
    period: str | None = None,
    as_of: str | None = None,
) -> Response:
    """A town's page: its KPIs, commitments with progress, score and rank, map and table
    (a town user: their own town only)."""
    when = moment(period=period, as_of=as_of)
    page = town_page(session, actor=actor, town=code, when=when)
    return render(
        request,
        "dashboard/town.html",
        page=page,
        links=Links(when.as_of, page.town),
        indicators=INDICATORS,
        **_map_context(request, when, page.town),
    )


def _feature(geometry: dict[str, Any], properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def feature_collection(records: MapRecords) -> dict[str, Any]:
    """The rivers and parcels of ``records`` that have a geometry, as GeoJSON with the
    properties ``static/js/map.js`` styles and labels them by."""
    features = [
        _feature(
            river.geometry,
            {
                "kind": "river",
                "code": river.code,
                "name": river.name,
                "town": river.town.name,
                "grade": None if river.grade is None else river.grade.value,
                "grade_label": None if river.grade is None else river.grade.label,
                "state": None if river.state is None else river.state.value,
                "state_label": None if river.state is None else river.state.label,
                "url": Links.river(river.id),
            },
        )
        for river in records.rivers
        if river.geometry
    ]
    features += [
        _feature(
            parcel.geometry,
            {
                "kind": "parcel",
                "code": parcel.code,
                "name": parcel.name or parcel.code,
                "town": parcel.town.name,
                "state": parcel.state.value,
                "state_label": parcel.state.label,
                "cleared": parcel.state in CLEARED_OR_LATER,
                "area_mu": str(parcel.area_mu),
                "url": Links.parcel(parcel.code),
            },
        )
        for parcel in records.parcels
        if parcel.geometry
    ]
    return {"type": "FeatureCollection", "features": features, "truncated": records.truncated}


@router.get("/map/features.geojson")
def map_features(
    session: SessionDep, actor: PageActor, town: str | None = None, as_of: str | None = None
) -> Response:
    """The rivers (by latest grade) and parcels (by renewal state) of a town, or of the
    city, as of a day, as GeoJSON; a town user gets their own town's only."""
    when = moment(as_of=as_of)
    scope = map_scope(session, actor=actor, town=town)
    records = map_records(session, actor=actor, town=scope, as_of=when.as_of)
    return JSONResponse(feature_collection(records), media_type="application/geo+json")

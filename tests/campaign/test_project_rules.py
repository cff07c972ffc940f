"""The pure rules of projects and batches: transitions one step forward only, the
quantities each kind reports, the overdue reading (end before start, the planned day
itself not late, days counted), which projects a batch may hold, and a batch's sums."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import NamedTuple

import pytest

from gongjian.campaign.choices import BatchKind, Campaign, OverdueReason, ProjectKind, ProjectState
from gongjian.campaign.rules import (
    QUANTITIES,
    batch_figures,
    batch_refusal,
    foreign_quantities,
    next_project_states,
    overdue,
    project_refusal,
    quantities_of,
    serves_parcels,
    serves_rivers,
)

S = ProjectState
K = ProjectKind
ORDER = list(ProjectState)
DAY = dt.date(2022, 6, 30)


@pytest.mark.parametrize("target", ORDER)
@pytest.mark.parametrize("current", ORDER)
def test_only_the_next_state_follows(current: S, target: S) -> None:
    expected = ORDER.index(target) == ORDER.index(current) + 1
    assert (target in next_project_states(current)) is expected
    if not expected:
        message = project_refusal("P-1", current, target)
        assert "P-1" in message
        for allowed in next_project_states(current):
            assert allowed.label in message
            assert allowed.value in message
        if current is S.accepted:
            assert "最后一个状态" in message


def test_accepted_is_the_end_and_every_state_has_one_way_on() -> None:
    assert next_project_states(S.accepted) == ()
    assert [next_project_states(state) for state in ORDER[:-1]] == [(s,) for s in ORDER[1:]]


@pytest.mark.parametrize(
    ("kind", "own"),
    [
        (K.sewer, {"sewer_km"}),
        (K.wwtp_new, {"capacity_kt_d"}),
        (K.wwtp_expansion, {"capacity_kt_d"}),
        (K.demolition, {"area_mu"}),
        (K.renewal_construction, {"area_mu"}),
        (K.culvert_uncovering, {"culvert_uncovered_m"}),
        (K.river_remediation, set()),
        (K.interception, set()),
        (K.dredging, set()),
        (K.water_diversion, set()),
        (K.greening, set()),
    ],
)
def test_each_kind_reports_its_own_quantities_only(kind: K, own: set[str]) -> None:
    assert {q.field for q in quantities_of(kind)} == own
    every = {q.field: Decimal(1) for q in QUANTITIES}
    refused = dict(foreign_quantities(kind, every))
    assert set(refused) == set(every) - own
    for _field, reason in refused.items():
        assert kind.label in reason
    assert foreign_quantities(kind, {field: None for field in every}) == []


def test_a_foreign_quantity_is_refused_naming_the_kinds_it_belongs_to() -> None:
    ((field, reason),) = foreign_quantities(K.greening, {"sewer_km": Decimal("2.5")})
    assert field == "sewer_km"
    assert "污水管网" in reason
    assert "碧道绿化" in reason


def test_rivers_belong_to_water_kinds_and_parcels_to_renewal_kinds() -> None:
    for kind in K:
        water = kind not in (K.demolition, K.renewal_construction)
        assert serves_rivers(kind) is water
        assert serves_parcels(kind) is not water


START, END = dt.date(2022, 3, 1), dt.date(2022, 9, 30)


@pytest.mark.parametrize(
    ("state", "as_of", "expected"),
    [
        # Before the planned start nothing is late.
        (S.planned, START - dt.timedelta(days=1), None),
        # On the planned start itself: not late, it has all that day.
        (S.approved, START, None),
        (S.approved, START + dt.timedelta(days=1), (OverdueReason.start, 1)),
        (S.planned, START + dt.timedelta(days=10), (OverdueReason.start, 10)),
        (S.started, START + dt.timedelta(days=10), None),
        # On the planned end itself: not late.
        (S.started, END, None),
        (S.started, END + dt.timedelta(days=1), (OverdueReason.end, 1)),
        (S.started, END + dt.timedelta(days=31), (OverdueReason.end, 31)),
        # Late for both: reported once, for its end.
        (S.approved, END + dt.timedelta(days=5), (OverdueReason.end, 5)),
        (S.completed, END + dt.timedelta(days=100), None),
        (S.accepted, END + dt.timedelta(days=100), None),
    ],
)
def test_overdue_reading(state: S, as_of: dt.date, expected: object) -> None:
    assert overdue(state, START, END, as_of) == expected


def test_a_date_not_planned_is_never_late() -> None:
    late = dt.date(2030, 1, 1)
    assert overdue(S.planned, None, None, late) is None
    assert overdue(S.planned, None, END, late) == (OverdueReason.end, (late - END).days)
    assert overdue(S.started, START, None, late) is None
    assert overdue(S.planned, START, None, late) == (OverdueReason.start, (late - START).days)


def test_overdue_reasons_are_end_and_start() -> None:
    assert [reason.value for reason in OverdueReason] == ["end", "start"]
    assert OverdueReason.end == "end"


@pytest.mark.parametrize("kind", list(K))
def test_a_demolition_batch_holds_demolitions_only(kind: K) -> None:
    refusal = batch_refusal(BatchKind.concentrated_demolition, "P-9", kind)
    if kind is K.demolition:
        assert refusal is None
    else:
        assert refusal is not None
        assert "P-9" in refusal
        assert kind.label in refusal
        assert K.demolition.label in refusal
    assert batch_refusal(BatchKind.concentrated_start, "P-9", kind) is None


class Row(NamedTuple):
    campaign: str
    budget_wan: Decimal | None
    area_mu: Decimal | None
    sewer_km: Decimal | None
    capacity_kt_d: Decimal | None


def test_batch_figures_are_exact_sums_by_campaign_and_in_total() -> None:
    figures = batch_figures(
        [
            Row("water", Decimal("0.10"), None, Decimal("1.105"), None),
            Row("water", Decimal("0.20"), None, None, Decimal("12.50")),
            Row("water", None, None, Decimal("2.000"), None),
            Row("renewal", Decimal("1000.01"), Decimal("33.33"), None, None),
        ]
    )
    water, renewal = figures.by_campaign[Campaign.water], figures.by_campaign[Campaign.renewal]
    assert (water.projects, water.investment_wan) == (3, Decimal("0.30"))
    assert (water.sewer_km, water.capacity_kt_d, water.area_mu) == (
        Decimal("3.105"),
        Decimal("12.50"),
        Decimal("0"),
    )
    assert (renewal.projects, renewal.investment_wan, renewal.area_mu) == (
        1,
        Decimal("1000.01"),
        Decimal("33.33"),
    )
    total = figures.total
    assert (total.projects, total.investment_wan, total.sewer_km) == (
        4,
        Decimal("1000.31"),
        Decimal("3.105"),
    )


def test_an_empty_batch_has_zeros_for_both_campaigns() -> None:
    figures = batch_figures([])
    assert set(figures.by_campaign) == set(Campaign)
    assert figures.total.projects == 0
    assert figures.total.investment_wan == 0

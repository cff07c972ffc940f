"""The briefings page (``/briefings``): the published briefings, and for the city the
form that writes a briefing for a period and campaigns (.docx, and PDF when LibreOffice
is installed) or publishes it to the portal.

Every signed-in role sees the list and downloads what was published (from the stored
data, on the portal's ``/portal/briefings/{id}.docx``). Writing (``/briefings/document``)
and publishing (``POST /briefings/publish``) are the city's: others get the 403 page,
and the refusal is logged by the services.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from gongjian.auth.actors import Actor
from gongjian.auth.choices import Action
from gongjian.auth.permissions import allowed, authorize
from gongjian.campaign.choices import Campaign
from gongjian.campaign.scoring import OVERALL, SCOPE_LABELS
from gongjian.errors import Invalid, NotFound, Problem
from gongjian.imports.api import attachment
from gongjian.periods import Period, parse_period, period_of, today
from gongjian.reports.briefings import BRIEFING, BriefingData, briefing_data, parse_campaigns
from gongjian.reports.pdf import SOFFICE
from gongjian.reports.publishing import docx_bytes, list_published, publish_briefing
from gongjian.web.deps import PageActor, SessionDep
from gongjian.web.forms import by_field
from gongjian.web.templating import render

router = APIRouter(include_in_schema=False)

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PDF_TYPE = "application/pdf"
PAGE_SIZE = 20
"""Published briefings per page."""
FORMATS = ("docx", "pdf")


def docx_download(data: BriefingData, filename: str) -> Response:
    """The .docx of ``data`` as a download named ``filename``."""
    return attachment(docx_bytes(data), DOCX_TYPE, filename)


def _pdf_bytes(data: BriefingData) -> bytes:
    """The PDF of ``data`` through LibreOffice (``reports.pdf``), in a folder of its own."""
    from gongjian.reports.docx_layout import write_briefing
    from gongjian.reports.pdf import convert_to_pdf

    with tempfile.TemporaryDirectory(prefix="gongjian-briefing-") as work:
        written = write_briefing(data, Path(work) / "briefing.docx")
        return convert_to_pdf(written).read_bytes()


def _scopes() -> list[tuple[str, str]]:
    """The campaign choices of the form: both, then each campaign."""
    return [(OVERALL, SCOPE_LABELS[OVERALL])] + [(c.value, c.label) for c in Campaign]


def _checked(period: str, campaign: str) -> tuple[Period, tuple[Campaign, ...]]:
    """The form's period and campaigns; ``Invalid`` naming each field that is wrong."""
    problems: list[Problem] = []
    chosen_period: Period | None = None
    chosen: tuple[Campaign, ...] = ()
    try:
        chosen_period = parse_period(period or "", field="period")
    except Invalid:
        problems.append(Problem("时段应为 2023-01（月）或 2023-W05（ISO 周）", column="period"))
    try:
        chosen = parse_campaigns(campaign or OVERALL)
    except Invalid:
        problems.append(Problem("请选择工改、治水或两者", column="campaign"))
    if problems or chosen_period is None:
        raise Invalid("请检查时段和攻坚类别", problems)
    return chosen_period, chosen


def _page(
    request: Request,
    session: Any,
    actor: Actor,
    *,
    page: int = 1,
    status_code: int = 200,
    form: dict[str, str] | None = None,
    error: str | None = None,
    problems: dict[str, list[str]] | None = None,
) -> Response:
    total, rows = list_published(
        session, actor=actor, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    pages = max(1, -(-total // PAGE_SIZE))
    default_period = period_of(today()).previous().label
    return render(
        request,
        "reports/briefings.html",
        status_code=status_code,
        rows=rows,
        total=total,
        page=page,
        pages=pages,
        may_write=allowed(actor, Action.publish, BRIEFING),
        pdf_available=shutil.which(SOFFICE) is not None,
        scopes=_scopes(),
        scope_label=lambda key: SCOPE_LABELS.get(key, key),
        form=form or {"period": default_period, "campaign": OVERALL},
        error=error,
        problems=problems or {},
        published=request.query_params.get("published"),
    )


@router.get("/briefings", response_class=HTMLResponse)
def briefings(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """The published briefings, latest first (every signed-in role), and for the city the
    form that writes or publishes the briefing of a period."""
    return _page(request, session, actor, page=page)


@router.get("/briefings/document")
async def briefing_document(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    period: Annotated[str, Query(max_length=20)] = "",
    campaign: Annotated[str, Query(max_length=20)] = OVERALL,
    format: Annotated[str, Query(max_length=10)] = "docx",
) -> Response:
    """The briefing of a period, written now from the records, as .docx or (with
    LibreOffice) PDF; the city only (others: the 403 page, logged). A wrong period shows
    the page again with the reason beside the field."""
    authorize(session, actor, Action.add, BRIEFING, record_id=period or None)
    form = {"period": period, "campaign": campaign}
    try:
        chosen_period, chosen = _checked(period, campaign)
    except Invalid as exc:
        return _page(
            request, session, actor, status_code=422, form=form, problems=by_field(exc.problems)
        )
    if format not in FORMATS:
        raise Invalid("文档格式无效", [Problem("可选：docx、pdf", column="format", value=format)])
    data = await run_in_threadpool(
        briefing_data, session, actor=actor, period=chosen_period, campaigns=chosen
    )
    if format == "pdf":
        if shutil.which(SOFFICE) is None:
            return _page(
                request,
                session,
                actor,
                status_code=422,
                form=form,
                error="未找到 LibreOffice（soffice），无法生成 PDF：请安装 Debian 软件包 "
                "libreoffice-writer-nogui；仍可下载 .docx",
            )
        content = await run_in_threadpool(_pdf_bytes, data)
        return attachment(content, PDF_TYPE, f"{data.title}.pdf")
    content = await run_in_threadpool(docx_bytes, data)
    return attachment(content, DOCX_TYPE, f"{data.title}.docx")


@router.post("/briefings/publish", response_class=HTMLResponse)
def briefing_publish(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    period: Annotated[str, Form(max_length=20)] = "",
    campaign: Annotated[str, Form(max_length=20)] = OVERALL,
    corrects: Annotated[str, Form(max_length=20)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Publish the briefing of a period to the portal, its figures frozen with it (the
    city only; others: the 403 page, logged); with ``corrects``, a correction of that
    published briefing, whose reason is required."""
    authorize(session, actor, Action.publish, BRIEFING, record_id=period or None)
    form = {"period": period, "campaign": campaign, "corrects": corrects, "reason": reason}
    try:
        chosen_period, chosen = _checked(period, campaign)
        corrects_id = None
        if corrects.strip():
            if not corrects.strip().isdigit():
                raise Invalid("被更正的通报编号无效", [Problem("应为通报编号", column="corrects")])
            corrects_id = int(corrects.strip())
        published = publish_briefing(
            session,
            actor=actor,
            period=chosen_period,
            campaigns=chosen,
            corrects_id=corrects_id,
            reason=reason or None,
        )
    except Invalid as exc:
        session.rollback()
        return _page(
            request,
            session,
            actor,
            status_code=422,
            form=form,
            error=exc.message,
            problems=by_field(exc.problems),
        )
    except NotFound as exc:
        session.rollback()
        return _page(
            request,
            session,
            actor,
            status_code=422,
            form=form,
            error=exc.message,
            problems={"corrects": [exc.message]},
        )
    return RedirectResponse(f"/briefings?published={published.id}", status_code=303)

"""``gongjian portal``: the public portal's integrity monitor (``portal check``)."""

from __future__ import annotations

from typing import Annotated

import typer

from gongjian.cli.common import JsonOption, command, console, echo_json, fail, table
from gongjian.config import get_settings

app = typer.Typer(help="公众门户：完整性检查（防篡改、防挂马、防针对搜索引擎的内容劫持）。")

EXIT_FOUND = 1
EXIT_UNREACHABLE = 2
ANY_ADDRESS = ("0.0.0.0", "::", "")
"""Listening addresses that mean "every interface": checked through the loopback."""


def default_base_url() -> str:
    """The portal's address from the ``host`` and ``port`` settings (what `gongjian serve`
    listens on)."""
    settings = get_settings()
    host = "127.0.0.1" if settings.host in ANY_ADDRESS else settings.host
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


@command(app, "check")
def check(
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            help="门户所在网站的地址，如 https://hechong.example.gov.cn（默认取设置 host、port）",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """以浏览器、百度蜘蛛、Googlebot 和百度来路分别抓取每个公开页面，与平台自身渲染的同一页面比较。

    发现任何差异、隐藏内容、站外跳转或违禁词时退出码为 1；网站无法访问时为 2；一切正常为 0。
    """
    from gongjian.db import get_engine
    from gongjian.portal.integrity import AGENTS, SiteUnreachable, check_portal, load_blocklist

    settings = get_settings()
    terms = load_blocklist(settings.portal_blocklist_file, settings.portal_check_terms)
    try:
        report = check_portal(get_engine(), base_url or default_base_url(), terms=terms)
    except SiteUnreachable as exc:
        raise fail(exc.message, EXIT_UNREACHABLE) from None
    if as_json:
        echo_json(report.as_json())
    else:
        labels = {agent.name: agent.label for agent in AGENTS}
        checked = f"{len(report.pages)} 个页面 × {len(report.agents)} 种访问方式"
        if report.clean:
            console.print(f"门户 {report.base_url} 未发现问题（{checked}）。")
        else:
            found = table(
                f"门户 {report.base_url} 发现 {len(report.findings)} 个问题（{checked}）",
                ("页面", "访问方式", "问题", "详情"),
                no_wrap=("页面",),
            )
            for finding in report.findings:
                found.add_row(
                    finding.page, labels[finding.agent], finding.kind.label, finding.detail
                )
            console.print(found)
    if not report.clean:
        raise typer.Exit(EXIT_FOUND)

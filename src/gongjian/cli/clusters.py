"""``gongjian clusters``: contiguous parcel clusters (连片改造) from a GeoJSON file,
without a database."""

from __future__ import annotations

import csv
import math
import os
import tempfile
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gongjian.cli.common import EXIT_INVALID, command, console, err_console, fail
from gongjian.cli.grade import problem_line
from gongjian.errors import GongjianError, Invalid

if TYPE_CHECKING:
    from gongjian.geo.clusters import ClusterRow

HEADER = ("parcel_id", "cluster_id", "cluster_area_mu", "cluster_parcels", "flagged")
"""Columns of the output CSV, in order."""


def _min_mu(text: str) -> Decimal:
    """``--min-mu`` as an exact decimal number of mu, not negative."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise fail(f"--min-mu 应为亩数，而不是“{text}”", EXIT_INVALID) from None
    if not value.is_finite() or value < 0:
        raise fail(f"--min-mu 应为不小于 0 的亩数，而不是“{text}”", EXIT_INVALID)
    return value


def _write(out: Path, rows: Sequence[ClusterRow]) -> None:
    """Write the rows to ``out`` through a temporary file in the same folder, renamed at
    the end, so that ``out`` is whole or untouched."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    except OSError as exc:
        raise GongjianError(f"无法写入 {out}：{exc.strerror}") from None
    temporary = Path(name)
    try:
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as file:
            writer = csv.writer(file)
            writer.writerow(HEADER)
            writer.writerows(
                (
                    row.parcel_id,
                    row.cluster_id,
                    f"{row.cluster_area_mu:.2f}",
                    row.cluster_parcels,
                    "true" if row.flagged else "false",
                )
                for row in rows
            )
        temporary.replace(out)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise GongjianError(f"无法写入 {out}：{exc.strerror}") from None


def register(app: typer.Typer) -> None:
    """Add the ``clusters`` command to ``app``."""

    @command(app, "clusters")
    def clusters_command(
        parcels: Annotated[
            Path,
            typer.Argument(
                help="地块文件（GeoJSON FeatureCollection，properties 含 parcel_id）",
                show_default=False,
            ),
        ],
        out: Annotated[
            Path,
            typer.Option(
                "--out",
                help="输出 CSV：parcel_id, cluster_id, cluster_area_mu, cluster_parcels, flagged",
                show_default=False,
            ),
        ],
        gap_m: Annotated[
            float, typer.Option("--gap-m", help="相距不超过此米数的地块也算相连")
        ] = 0.0,
        min_mu: Annotated[
            str, typer.Option("--min-mu", help="连片总面积达到此亩数即标记（flagged）")
        ] = "100",
        crs: Annotated[
            str, typer.Option("--crs", help="输入坐标系：wgs84、cgcs2000 或 gcj02")
        ] = "wgs84",
    ) -> None:
        """连片改造：找出相接、重叠或相距很近的连片地块，算出每片面积（亩）。

        相接、重叠或相距不超过 --gap-m 米的地块归为一片；每块地块一行写入 --out。
        输入有误时退出码为 2，逐个列出问题（要素序号从 0 起），不写出任何文件。
        """
        if not (math.isfinite(gap_m) and gap_m >= 0):
            raise fail(f"--gap-m 应为不小于 0 的米数，而不是 {gap_m}", EXIT_INVALID)
        threshold = _min_mu(min_mu)
        from gongjian.geo.choices import InputCrs

        try:
            input_crs = InputCrs.parse(crs)
        except ValueError as exc:
            raise fail(f"--crs {exc}", EXIT_INVALID) from None
        from gongjian.geo.clusters import find_clusters, summarize
        from gongjian.geo.shapes import read_features

        try:
            features = read_features(parcels, crs=input_crs)
        except Invalid as exc:
            err_console.print(f"[bold red]错误：[/]{exc.message}", highlight=False)
            for problem in exc.problems:
                typer.echo(problem_line(problem), err=True)
            raise typer.Exit(EXIT_INVALID) from None
        rows = find_clusters(
            # every feature has its parcel_id: read_features requires one by default
            [(f.parcel_id, f.geometry) for f in features if f.parcel_id is not None],
            gap_m=gap_m,
            min_mu=threshold,
        )
        _write(out, rows)
        summary = summarize(rows)
        console.print(
            f"地块 {summary.parcels} 块，连片 {summary.clusters} 片（间距 {gap_m:g} 米）；"
            f"达到 {threshold} 亩的 {summary.flagged_clusters} 片，"
            f"共 {summary.flagged_mu} 亩；结果已写入 {out}",
            highlight=False,
            soft_wrap=True,
        )

"""One typed settings object for the whole platform.

Every setting reads from the environment with the ``GONGJIAN_`` prefix (for example
``GONGJIAN_DATABASE_URL``) or from a ``.env`` file; each has a default and help text,
and ``docs/operations.md`` lists them all.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_VAR_DIR = Path("var")


class IdentificationThresholds(BaseModel):
    """The city's bounds for a low-efficiency parcel (低效认定) in one year: a parcel
    under either per-mu bound, or under the floor-area ratio, is a candidate."""

    output_per_mu: Decimal = Field(default=Decimal(100), ge=0, description="亩均产值, 万元/mu")
    tax_per_mu: Decimal = Field(default=Decimal(5), ge=0, description="亩均税收, 万元/mu")
    floor_area_ratio: Decimal = Field(default=Decimal("0.6"), ge=0, description="容积率")


class Settings(BaseSettings):
    """Settings of a gongjian installation."""

    model_config = SettingsConfigDict(env_prefix="GONGJIAN_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_VAR_DIR / 'gongjian.sqlite3'}",
        description=(
            "SQLAlchemy URL of the database. Default: a SQLite file under var/. "
            "PostgreSQL: postgresql+psycopg://user@host:5432/dbname."
        ),
    )
    timezone: str = Field(
        default="Asia/Shanghai",
        description="Time zone of the city: dates of records, 'today' and naive timestamps.",
    )
    audit_hash: Literal["sha256", "sm3"] = Field(
        default="sha256",
        description=(
            "Hash of the audit chain for new entries: sha256, or sm3 (GB/T 32905, the "
            "Chinese national standard). Entries keep the hash they were written with."
        ),
    )
    host: str = Field(default="127.0.0.1", description="Address `gongjian serve` listens on.")
    port: int = Field(default=8000, description="Port `gongjian serve` listens on.")
    web_concurrency: int = Field(
        default=10,
        ge=1,
        le=30,
        description=(
            "How many requests the server works on at once; the others wait their turn. "
            "Keep it below the database pool's 15 connections and the server's 40 threads."
        ),
    )
    web_queue_seconds: Decimal = Field(
        default=Decimal(30),
        gt=0,
        description="How long a request may wait for its turn before it is answered 503 (s).",
    )
    sqlite_busy_timeout_ms: int = Field(
        default=30_000,
        description="How long a SQLite writer waits for the write lock before giving up (ms).",
    )
    rules_file: Path | None = Field(
        default=None,
        description=(
            "Grading rules file (TOML) to use instead of the one shipped with the package "
            "(gongjian/water/rules.toml). Every stored grade records the hash of its rules."
        ),
    )
    evaluation_clean_periods: int = Field(
        default=3,
        ge=1,
        description=(
            "Effect evaluation (评估通过): how many consecutive graded periods, the latest "
            "included, must have no point graded mild or severe."
        ),
    )
    evaluation_min_questionnaires: int = Field(
        default=100,
        ge=1,
        description="Effect evaluation: fewest valid questionnaires in the public survey.",
    )
    evaluation_min_satisfied_pct: Decimal = Field(
        default=Decimal(90),
        ge=0,
        le=100,
        description="Effect evaluation: smallest share of satisfied questionnaires, in %.",
    )
    sustained_after_days: int = Field(
        default=365,
        ge=1,
        description="长治久清: days after evaluation a river must still be clean.",
    )
    priority_weights: dict[str, Decimal] = Field(
        default_factory=lambda: {
            "grade": Decimal(40),
            "severe_points": Decimal(20),
            "complaints": Decimal(2),
            "baseline": Decimal(15),
            "overdue_measures": Decimal(5),
        },
        description=(
            "Weights of the priority score (先急后缓), as JSON: grade (per grade step: "
            "none 0, insufficient 1, mild 1, severe 2), severe_points (× share of severe "
            "points), complaints (per complaint in the last 90 days), baseline (on the "
            "baseline list), overdue_measures (per overdue plan measure)."
        ),
    )
    identification_thresholds: dict[int, IdentificationThresholds] = Field(
        default_factory=dict,
        description=(
            "Low-efficiency identification (低效认定) per year, as JSON, e.g. "
            '{"2023": {"output_per_mu": 100, "tax_per_mu": 5, "floor_area_ratio": 0.6}}: '
            "a parcel is a candidate when its output or tax per mu (万元/mu) is under the "
            "year's bound, or its floor-area ratio is. A year not listed uses those figures "
            "(Zhongshan's Shenwan project)."
        ),
    )
    cluster_min_mu: Decimal = Field(
        default=Decimal(100),
        ge=0,
        description="Contiguous renewal (连片改造): smallest cluster area flagged, in mu.",
    )
    sublease_markup_pct: Decimal = Field(
        default=Decimal(30),
        ge=0,
        description=(
            "Sublandlords (二房东): a sublease whose rent exceeds its parent lease's by more "
            "than this share, in %, is flagged."
        ),
    )
    rent_rise_pct: Decimal = Field(
        default=Decimal(10),
        ge=0,
        description=(
            "Rent index: a town's quarterly median rent rising more than this share, in %, "
            "year on year is flagged."
        ),
    )
    score_weights: dict[str, Decimal] = Field(
        default_factory=lambda: {
            "indicator": Decimal(20),
            "overdue_project": Decimal(2),
            "overdue_cap": Decimal(20),
            "complained_severe_river": Decimal(3),
            "complained_cap": Decimal(15),
        },
        description=(
            "Town scoring rubric, as JSON: indicator (points for a committed indicator met in "
            "full, earned in proportion and capped at 100% of the target), overdue_project "
            "(deducted per overdue project) up to overdue_cap, complained_severe_river "
            "(deducted per severe black-odorous river with public complaints in the year) up "
            "to complained_cap. Bonuses and deductions entered by the city come on top."
        ),
    )
    commend_top_n: int = Field(
        default=3,
        ge=0,
        description=(
            "Commendation list: the best N towns of each ranking, besides every town that "
            "met all its targets."
        ),
    )
    upload_max_mb: Decimal = Field(
        default=Decimal(20), gt=0, description="Largest file an upload or import may be, in MB."
    )
    upload_max_unpacked_mb: Decimal = Field(
        default=Decimal(200),
        gt=0,
        description=(
            "Largest an .xlsx file may grow to when unpacked (it is a zip), in MB: refuses "
            "zip bombs before they are read."
        ),
    )
    upload_pending_dir: Path = Field(
        default=DEFAULT_VAR_DIR / "uploads",
        description=(
            "Where the import page keeps an uploaded file between its dry run and the "
            "user's confirmation (a folder per upload, readable by the server only)."
        ),
    )
    upload_pending_minutes: int = Field(
        default=60,
        ge=1,
        description=(
            "How long an uploaded file waits for confirmation on the import page, in "
            "minutes; after that it is deleted and must be uploaded again."
        ),
    )
    language: Literal["zh-CN", "en"] = Field(
        default="zh-CN", description="Language of messages: zh-CN (default) or en."
    )
    session_idle_minutes: int = Field(
        default=30,
        ge=1,
        description="Web sign-in: a session unused for this many minutes ends (inactivity).",
    )
    session_max_hours: int = Field(
        default=12,
        ge=1,
        description="Web sign-in: a session ends this many hours after sign-in, used or not.",
    )
    login_max_failures: int = Field(
        default=5,
        ge=1,
        description=(
            "Web sign-in lock-out: this many failed sign-ins for one username within "
            "login_window_minutes lock it out."
        ),
    )
    login_window_minutes: int = Field(
        default=15,
        ge=1,
        description="Web sign-in lock-out: the window failures are counted in, in minutes.",
    )
    login_lockout_seconds: int = Field(
        default=60,
        ge=1,
        description=(
            "Web sign-in lock-out: the first back-off, in seconds; it doubles with each "
            "further failure, up to login_lockout_max_seconds."
        ),
    )
    login_lockout_max_seconds: int = Field(
        default=3600,
        ge=1,
        description="Web sign-in lock-out: the longest back-off, in seconds (1 hour).",
    )
    trust_proxy: bool = Field(
        default=False,
        description=(
            "Behind a reverse proxy that terminates HTTPS: trust its X-Forwarded-Proto "
            "header, so session cookies are Secure and HSTS is sent. Off when the app "
            "faces browsers directly."
        ),
    )
    geometry_max_vertices: int = Field(
        default=100_000,
        gt=3,
        description=(
            "Most vertices one parcel geometry may have (all its rings together); a larger "
            "one is refused as a likely error or an attack on the server's memory."
        ),
    )
    map_tile_url: str = Field(
        default="",
        description=(
            "Tile URL template for the maps' background (e.g. a city GIS server's "
            "https://gis.example/tiles/{z}/{x}/{y}.png). Empty: the maps draw their own "
            "layers on a plain background; nothing is fetched from the web."
        ),
    )
    map_tile_attribution: str = Field(
        default="", description="Attribution text shown on the map with the tiles."
    )
    complaint_photo_max_kb: int = Field(
        default=2048,
        ge=1,
        description=(
            "Public portal: largest photo a citizen may attach to a complaint, in KB "
            "(JPEG or PNG only, recognised by content)."
        ),
    )
    complaint_rate_limit: int = Field(
        default=5,
        ge=1,
        description=(
            "Public portal: complaints one client address may submit within "
            "complaint_rate_window_minutes; beyond, it is asked politely to wait (429)."
        ),
    )
    complaint_rate_window_minutes: int = Field(
        default=60,
        ge=1,
        description="Public portal: the window complaints are counted in, in minutes.",
    )
    portal_blocklist_file: Path | None = Field(
        default=None,
        description=(
            "Portal integrity monitor (gongjian portal check): the file of terms flagged on "
            "any portal page, one a line, # for comments. Default: the list of common "
            "gambling and pornography terms shipped with the package "
            "(gongjian/portal/blocklist.txt)."
        ),
    )
    portal_check_terms: list[str] = Field(
        default_factory=list,
        description=(
            "Portal integrity monitor: further terms to flag besides the blocklist file's, "
            'as JSON, e.g. ["某赌场", "spam-brand"].'
        ),
    )


def identification_thresholds(year: int) -> IdentificationThresholds:
    """The identification bounds of ``year``: the setting's, or the defaults."""
    return get_settings().identification_thresholds.get(year, IdentificationThresholds())


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once."""
    return Settings()

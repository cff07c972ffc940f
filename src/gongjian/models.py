"""Every model, imported once so ``Base.metadata`` holds every table (Alembic, tests)."""

from gongjian.audit.models import AuditEntry, AuditHead
from gongjian.auth.models import User
from gongjian.campaign.models import (
    Batch,
    Briefing,
    Cadre,
    Commendation,
    Commitment,
    CommitmentTarget,
    Dispatch,
    Project,
    ProjectStateChange,
)
from gongjian.db import Base
from gongjian.imports.models import ImportRun
from gongjian.renewal.models import (
    Enterprise,
    Lease,
    Parcel,
    ParcelStateChange,
    Park,
    ReserveEntry,
    ThemePark,
)
from gongjian.towns.models import Town
from gongjian.water.models import (
    Baseline,
    BaselineMember,
    Complaint,
    Culvert,
    MonitoringPoint,
    PlanMeasure,
    PointGrade,
    River,
    RiverPlan,
    RiverReach,
    RiverStateChange,
    Sample,
    WaterBodyGrade,
)

__all__ = [
    "AuditEntry",
    "AuditHead",
    "Base",
    "Baseline",
    "BaselineMember",
    "Batch",
    "Briefing",
    "Cadre",
    "Commendation",
    "Commitment",
    "CommitmentTarget",
    "Complaint",
    "Culvert",
    "Dispatch",
    "Enterprise",
    "ImportRun",
    "Lease",
    "MonitoringPoint",
    "Parcel",
    "ParcelStateChange",
    "Park",
    "PlanMeasure",
    "PointGrade",
    "Project",
    "ProjectStateChange",
    "ReserveEntry",
    "River",
    "RiverPlan",
    "RiverReach",
    "RiverStateChange",
    "Sample",
    "ThemePark",
    "Town",
    "User",
    "WaterBodyGrade",
]

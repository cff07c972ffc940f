"""Campaign records: how projects are found and scoped."""

from gongjian.campaign.models import Project
from gongjian.records import RecordKind

PROJECTS = RecordKind(Project, "project", "town_id")

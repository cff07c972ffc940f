"""Routes of projects."""

from fastapi import APIRouter

from gongjian.campaign.schemas import ProjectRead, ProjectUpdate
from gongjian.campaign.services import PROJECTS
from gongjian.web.records_api import record_routes

router = APIRouter(tags=["campaign"])
record_routes(router, PROJECTS, "/projects", ProjectRead, ProjectUpdate)

"""Routes of parcels."""

from fastapi import APIRouter

from gongjian.renewal.schemas import ParcelRead, ParcelUpdate
from gongjian.renewal.services import PARCELS
from gongjian.web.records_api import record_routes

router = APIRouter(tags=["renewal"])
record_routes(router, PARCELS, "/parcels", ParcelRead, ParcelUpdate)

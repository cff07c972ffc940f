"""Routes of ingestion: monitoring stations and users post sample batches."""

from __future__ import annotations

from fastapi import APIRouter

from gongjian.imports.samples import SampleImporter, batch_to_duckdb
from gongjian.imports.schemas import ImportRead, SampleBatch
from gongjian.web.deps import ActorDep, SessionDep

router = APIRouter(tags=["imports"])


@router.post("/samples", response_model=ImportRead)
def post_samples(batch: SampleBatch, session: SessionDep, actor: ActorDep) -> ImportRead:
    """A batch of up to 10,000 samples. The whole batch is refused (422, listing every bad
    row by its position, the first being row 1) if any row is bad; samples already
    stored (same point and ``sampled_at``) are skipped. Stations authenticate with
    ``Authorization: Bearer <token>`` and may report only their token's points."""
    importer = SampleImporter(session, actor=actor)
    rows = [sample.model_dump(exclude_unset=True) for sample in batch.samples]
    sha256 = batch_to_duckdb(importer, rows)
    result = importer.run_loaded("request", sha256, dry_run=batch.dry_run)
    return ImportRead.model_validate(result, from_attributes=True)

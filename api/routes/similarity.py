"""Similarity check for course staff: the most similar pairs of handins, and archives of earlier
semesters to compare against. Students never see any of it."""

from __future__ import annotations

import csv
import io
from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, Path, Query, UploadFile, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api.crud import similarity
from api.deps import AssignmentDep, SessionDep, StaffUser
from api.models import SimilarityArchive, SimilarityDocument, SimilarityPair
from api.routes.staff import spreadsheet_safe
from api.routes.submissions import read_upload
from api.schemas import (
    SimilarityArchiveOut,
    SimilarityPage,
    SimilarityPairDetail,
    SimilarityPairOut,
    SimilarityRegionOut,
    SimilaritySide,
)
from grader.corpus import check_corpus
from grader.unpack import HandinError
from worker.queue import enqueue_archive

router = APIRouter(tags=["similarity (course staff)"])
ObjectId = Annotated[int, Path(ge=1, le=2**31 - 1)]
LABEL_PATTERN = r"^\w[\w.\- ]*$"
Label = Annotated[str, Form(min_length=1, max_length=100, pattern=LABEL_PATTERN)]


def side(document: SimilarityDocument, fraction: float, lines: int) -> SimilaritySide:
    return SimilaritySide(
        label=document.label,
        username=document.user.username if document.user else None,
        display_name=document.user.display_name if document.user else "",
        submission_id=document.submission_id,
        version=document.submission.version if document.submission else None,
        fraction=fraction,
        lines=lines,
    )


def pair_out(pair: SimilarityPair) -> SimilarityPairOut:
    return SimilarityPairOut(
        id=pair.id,
        score=pair.score,
        shared=pair.shared,
        a=side(pair.document_a, pair.fraction_a, pair.lines_a),
        b=side(pair.document_b, pair.fraction_b, pair.lines_b),
        updated_at=pair.updated_at,
    )


@router.get("/assignments/{slug}/similarity", response_model=SimilarityPage)
def similar_pairs(
    assignment: AssignmentDep,
    user: StaffUser,
    session: SessionDep,
    offset: int = Query(0, ge=0, le=2**31 - 1),
    limit: int = Query(100, ge=1, le=1000),
    q: str = Query("", max_length=100, description="only pairs with this text in a label (a username)"),
):
    """The most similar pairs of counted submissions (and archived handins), most similar first."""
    rows, total = similarity.pairs(session, assignment, offset=offset, limit=limit, q=q)
    return SimilarityPage(
        assignment=assignment.slug,
        documents=similarity.document_count(session, assignment),
        total=total,
        offset=offset,
        limit=limit,
        items=[pair_out(row) for row in rows],
    )


def csv_side(side: SimilaritySide) -> list:
    name, label = spreadsheet_safe(side.display_name), spreadsheet_safe(side.label)
    return [label, name, side.version or "", f"{side.fraction:.3f}", side.lines]


@router.get(
    "/assignments/{slug}/similarity.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "one row per similar pair"}},
)
def similarity_csv(assignment: AssignmentDep, user: StaffUser, session: SessionDep):
    rows, _ = similarity.pairs(session, assignment, limit=100_000)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["score", "shared", "a", "a_name", "a_version", "a_fraction", "a_lines"]
        + ["b", "b_name", "b_version", "b_fraction", "b_lines"]
    )
    for pair in map(pair_out, rows):
        writer.writerow([f"{pair.score:.3f}", pair.shared, *csv_side(pair.a), *csv_side(pair.b)])
    return Response(
        out.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{assignment.slug}-similarity.csv"'},
    )


@router.get("/similarity/pairs/{pair_id}", response_model=SimilarityPairDetail)
def similar_pair(pair_id: ObjectId, user: StaffUser, session: SessionDep):
    """One pair with the matching regions of both sides (file and lines)."""
    detail = similarity.pair_detail(session, pair_id)
    if detail is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such pair")
    return SimilarityPairDetail(
        **pair_out(detail.pair).model_dump(),
        regions_a=[SimilarityRegionOut(**vars(r)) for r in detail.comparison.regions_a],
        regions_b=[SimilarityRegionOut(**vars(r)) for r in detail.comparison.regions_b],
    )


async def store_archive(session, assignment, label: str, file: UploadFile) -> SimilarityArchive:
    """Checks, stores and queues an uploaded archive; an HTTPException says why one is refused."""
    data = await read_upload(file)
    try:
        await run_in_threadpool(check_corpus, data)
    except HandinError as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"this archive cannot be used: {error}") from None
    archive = await run_in_threadpool(similarity.create_archive, session, assignment, label, data)
    await run_in_threadpool(enqueue_archive, archive.id)
    return archive


@router.post(
    "/assignments/{slug}/similarity/archives",
    response_model=SimilarityArchiveOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses={400: {"description": "not a tar archive"}, 413: {"description": "too large"}},
)
async def upload_archive(
    assignment: AssignmentDep,
    user: StaffUser,
    session: SessionDep,
    label: Label,
    file: Annotated[UploadFile, File(description="a tar of earlier semesters' handin tars")],
):
    """Adds earlier handins to compare against (never scored); indexed in the background."""
    return await store_archive(session, assignment, label, file)


@router.get("/assignments/{slug}/similarity/archives", response_model=list[SimilarityArchiveOut])
def list_archives(assignment: AssignmentDep, user: StaffUser, session: SessionDep):
    return similarity.archives(session, assignment)


@router.delete("/similarity/archives/{archive_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_archive(archive_id: ObjectId, user: StaffUser, session: SessionDep):
    archive = session.get(SimilarityArchive, archive_id)
    if archive is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such archive")
    similarity.delete_archive(session, archive)

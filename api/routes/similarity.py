"""Similarity check for course staff, the JSON API (`router`) and the pages (`pages`): the most similar
pairs of handins, the clusters of students who share code, archives of earlier semesters to compare
against, and code staff mark as given. Students never see any of it. The engine, the index and the
clusters are in core/similarity/."""

from __future__ import annotations

import csv
import io
import math
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, Path, Query, Request, UploadFile, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel

from api.csrf import check_csrf
from api.deps import AssignmentDep, SessionDep, StaffUser, assignment_by_slug
from api.schemas import (
    SimilarityArchiveOut,
    SimilarityPage,
    SimilarityPairDetail,
    SimilarityPairOut,
    SimilarityRegionOut,
    SimilaritySide,
)
from api.uploads import read_upload
from api.web import StaffPageUser, render
from core.models import (
    Assignment,
    SimilarityArchive,
    SimilarityDocument,
    SimilarityGiven,
    SimilarityPair,
    User,
)
from core.queue import enqueue_archive
from core.services.grades import spreadsheet_safe
from core.similarity import index as similarity
from core.similarity.clusters import MIN_STUDENTS, Cluster, clusters
from core.similarity.corpus import check_corpus
from core.similarity.engine import Region, code_hashes
from grader.unpack import HandinError

router = APIRouter(tags=["similarity (course staff)"])
ObjectId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Label = Annotated[
    str,
    Form(min_length=1, max_length=similarity.ARCHIVE_LABEL_CHARS, pattern=similarity.ARCHIVE_LABEL_PATTERN),
]
GivenLabel = Annotated[
    str, Form(max_length=similarity.GIVEN_LABEL_CHARS, description="default: the file's name")
]
GivenCode = Annotated[str, Form(max_length=similarity.MAX_GIVEN_CHARS, description="pasted code (or a file)")]
GivenFile = Annotated[UploadFile | None, File(description="a source file (or pasted code)")]


class SimilarityMemberOut(BaseModel):
    label: str
    username: str | None
    display_name: str = ""
    submission_id: int | None
    version: int | None
    fingerprints: int  # of the shared code's fingerprints, how many this student's handin holds


class SimilarityClusterOut(BaseModel):
    students: int
    fingerprints: int  # distinct fingerprints of the shared code
    lines: int  # lines of the shared code in the first member's handin
    members: list[SimilarityMemberOut]  # the most of the shared code first
    regions: list[SimilarityRegionOut]  # where the shared code is in the first member's handin


class SimilarityGivenOut(BaseModel):
    id: int
    label: str
    lines: int
    by: str
    created_at: datetime


def identity(document: SimilarityDocument) -> dict:
    """Whose a document is: a student's counted submission, or an archived handin."""
    return {
        "label": document.label,
        "username": document.user.username if document.user else None,
        "display_name": document.user.display_name if document.user else "",
        "submission_id": document.submission_id,
        "version": document.submission.version if document.submission else None,
    }


def side(document: SimilarityDocument, fraction: float, lines: int) -> SimilaritySide:
    return SimilaritySide(**identity(document), fraction=fraction, lines=lines)


def pair_out(pair: SimilarityPair) -> SimilarityPairOut:
    return SimilarityPairOut(
        id=pair.id,
        score=pair.score,
        shared=pair.shared,
        a=side(pair.document_a, pair.fraction_a, pair.lines_a),
        b=side(pair.document_b, pair.fraction_b, pair.lines_b),
        updated_at=pair.updated_at,
    )


def cluster_out(cluster: Cluster) -> SimilarityClusterOut:
    return SimilarityClusterOut(
        students=len(cluster.members),
        fingerprints=cluster.fingerprints,
        lines=cluster.lines,
        members=[
            SimilarityMemberOut(**identity(m.document), fingerprints=m.fingerprints) for m in cluster.members
        ],
        regions=[SimilarityRegionOut(**vars(r)) for r in cluster.regions],
    )


def given_out(given: SimilarityGiven) -> SimilarityGivenOut:
    return SimilarityGivenOut(
        id=given.id,
        label=given.label,
        lines=len(given.source.splitlines()),
        by=given.by,
        created_at=given.created_at,
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


@router.get("/assignments/{slug}/similarity/clusters", response_model=list[SimilarityClusterOut])
def similar_clusters(assignment: AssignmentDep, user: StaffUser, session: SessionDep):
    """Groups of students whose handins hold the same code, the most shared code first: flagged for
    staff to read (and to mark as given if it was), never discounted."""
    return [cluster_out(c) for c in clusters(session, assignment)]


async def given_source(code: str, file: UploadFile | None) -> tuple[str, str]:
    """(default label, source) of code to mark as given: a file's or the pasted code."""
    if file is None or not file.filename:  # a form's empty file input sends a nameless part
        return "pasted code", code
    if code:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "give a file or pasted code, not both")
    data = await read_upload(file)
    if len(data) > similarity.MAX_GIVEN_CHARS:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE, f"given code is at most {similarity.MAX_GIVEN_CHARS} bytes"
        )
    return file.filename, data.decode("utf-8", "replace")


async def store_given(
    session, assignment: Assignment, user: User, label: str, code: str, file: UploadFile | None
) -> SimilarityGiven:
    """Marks code as given; the pairs of the handins that hold it are worked out again before the answer.
    An HTTPException says why the code cannot be used."""
    default_label, source = await given_source(code, file)
    if not await run_in_threadpool(code_hashes, source):
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, "no code to mark as given: a statement or two at least (12 tokens)"
        )
    return await run_in_threadpool(
        similarity.add_given, session, assignment, label.strip() or default_label, source, user.username
    )


@router.get("/assignments/{slug}/similarity/given", response_model=list[SimilarityGivenOut])
def list_given(assignment: AssignmentDep, user: StaffUser, session: SessionDep):
    return [given_out(g) for g in similarity.given_code(session, assignment)]


@router.post(
    "/assignments/{slug}/similarity/given",
    response_model=SimilarityGivenOut,
    status_code=status.HTTP_201_CREATED,
    responses={400: {"description": "no code"}, 413: {"description": "too large"}},
)
async def add_given(
    assignment: AssignmentDep,
    user: StaffUser,
    session: SessionDep,
    label: GivenLabel = "",
    code: GivenCode = "",
    file: GivenFile = None,
):
    """Marks code as given (a lecture's, a recitation's): set aside like the handout's starter code,
    in every pair and cluster."""
    return given_out(await store_given(session, assignment, user, label, code, file))


@router.delete("/similarity/given/{given_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_given(given_id: ObjectId, user: StaffUser, session: SessionDep):
    """Counts that code again."""
    given = session.get(SimilarityGiven, given_id)
    if given is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such given code")
    similarity.remove_given(session, given)


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


# --- pages ---------------------------------------------------------------------------------------

pages = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
CONTEXT = 3  # lines shown around a matching region


@pages.get("/assignments/{slug}/similarity")
def similarity_page(
    slug: str,
    request: Request,
    user: StaffPageUser,
    session: SessionDep,
    q: str = Query("", max_length=100),
    page: int = Query(1, ge=1, le=2**20),
):
    assignment = assignment_by_slug(slug, session)
    rows, total = similarity.pairs(session, assignment, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE, q=q)
    return render(
        request,
        "similarity.html",
        {
            "user": user,
            "assignment": assignment,
            "clusters": [cluster_view(session, c) for c in clusters(session, assignment)],
            "min_students": MIN_STUDENTS,
            "pairs": [pair_out(row) for row in rows],
            "total": total,
            "documents": similarity.document_count(session, assignment),
            "archives": similarity.archives(session, assignment),
            "given": [given_out(g) for g in similarity.given_code(session, assignment)],
            "q": q,
            "page": page,
            "pages": max(1, math.ceil(total / PAGE_SIZE)),
        },
    )


@pages.post("/assignments/{slug}/similarity/archives")
async def archive_form(
    slug: str,
    request: Request,
    user: StaffPageUser,
    session: SessionDep,
    label: Label,
    file: Annotated[UploadFile, File()],
    csrf_token: Annotated[str, Form()] = "",
):
    check_csrf(request, csrf_token)
    assignment = await run_in_threadpool(assignment_by_slug, slug, session)
    await store_archive(session, assignment, label, file)
    return RedirectResponse(f"/assignments/{slug}/similarity", status.HTTP_303_SEE_OTHER)


@pages.post("/assignments/{slug}/similarity/given")
async def given_form(
    slug: str,
    request: Request,
    user: StaffPageUser,
    session: SessionDep,
    label: GivenLabel = "",
    code: GivenCode = "",
    file: GivenFile = None,
    remove: Annotated[int | None, Form(ge=1, le=2**31 - 1)] = None,
    csrf_token: Annotated[str, Form()] = "",
):
    """Marks code as given or, with "remove" (its id), counts that code again."""
    check_csrf(request, csrf_token)
    assignment = await run_in_threadpool(assignment_by_slug, slug, session)
    if remove is None:
        await store_given(session, assignment, user, label, code, file)
    else:
        await run_in_threadpool(remove_given_of, session, assignment, remove)
    return RedirectResponse(f"/assignments/{slug}/similarity#given", status.HTTP_303_SEE_OTHER)


def remove_given_of(session, assignment: Assignment, given_id: int) -> None:
    given = session.get(SimilarityGiven, given_id)
    if given is None or given.assignment_id != assignment.id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such given code")
    similarity.remove_given(session, given)


def marked_lines(source: str, regions: list[Region], file: str) -> list[tuple[int | None, str, bool]]:
    """(number, text, inside a matching region) for the lines of a file near a match; a run of
    lines far from any match becomes one (None, "", False) gap. Lines are split on "\n" only, as
    the tokenizer counts them."""
    spans = sorted((r.first_line, r.last_line) for r in regions if r.file == file)
    shown: list[tuple[int | None, str, bool]] = []
    index = 0  # the first span that may still cover or follow this line
    lines = source.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line starts no line of its own
    for number, text in enumerate(lines, start=1):
        while index < len(spans) and spans[index][1] + CONTEXT < number:
            index += 1
        near = index < len(spans) and spans[index][0] - CONTEXT <= number
        if near:
            # Regions are disjoint and sorted: the first one not over yet is the only one that may cover it.
            covering = index
            while covering < len(spans) and spans[covering][1] < number:
                covering += 1
            shown.append((number, text, covering < len(spans) and spans[covering][0] <= number))
        elif not shown or shown[-1][0] is not None:
            shown.append((None, "", False))
    return shown


def listings(files: dict[str, str], regions: list[Region]) -> list[dict]:
    """Each file with a region: its path and its marked lines."""
    return [
        {"path": path, "lines": marked_lines(files.get(path, ""), regions, path)}
        for path in sorted({r.file for r in regions})
    ]


def cluster_view(session, cluster: Cluster) -> dict:
    """A cluster as the page shows it: who, how many, and the shared code in the first member's handin."""
    return {
        **cluster_out(cluster).model_dump(),
        "files": listings(similarity.sources(session, cluster.members[0].document), cluster.regions),
    }


@pages.get("/similarity/pairs/{pair_id}")
def pair_page(pair_id: ObjectId, request: Request, user: StaffPageUser, session: SessionDep):
    """Both handins side by side, each file with a match, the matching regions highlighted."""
    detail = similarity.pair_detail(session, pair_id)
    if detail is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such pair")
    pair, comparison = pair_out(detail.pair), detail.comparison
    sides = [
        {
            "who": who,
            "fraction": fraction,
            "lines": lines,
            "files": listings(files, regions),
            "regions": regions,
        }
        for who, files, regions, fraction, lines in (
            (pair.a, detail.files_a, comparison.regions_a, comparison.fraction_a, comparison.lines_a),
            (pair.b, detail.files_b, comparison.regions_b, comparison.fraction_b, comparison.lines_b),
        )
    ]
    return render(
        request,
        "similarity_pair.html",
        {
            "user": user,
            "assignment": session.get(Assignment, detail.pair.assignment_id),
            "pair": pair,
            "comparison": comparison,
            "sides": sides,
        },
    )

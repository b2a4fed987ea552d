"""Pages of the similarity check (course staff only)."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, Query, Request, UploadFile, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from api.crud import similarity
from api.csrf import check_csrf
from api.deps import SessionDep, assignment_by_slug
from api.models import Assignment
from api.routes.similarity import Label, ObjectId, pair_out, store_archive
from api.web import StaffPageUser, render
from grader.similarity import Region

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
CONTEXT = 3  # lines shown around a matching region


@router.get("/assignments/{slug}/similarity")
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
            "pairs": [pair_out(row) for row in rows],
            "total": total,
            "documents": similarity.document_count(session, assignment),
            "archives": similarity.archives(session, assignment),
            "q": q,
            "page": page,
            "pages": max(1, math.ceil(total / PAGE_SIZE)),
        },
    )


@router.post("/assignments/{slug}/similarity/archives")
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


@router.get("/similarity/pairs/{pair_id}")
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
            "files": [
                {"path": path, "lines": marked_lines(files.get(path, ""), regions, path)}
                for path in sorted({r.file for r in regions})
            ],
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

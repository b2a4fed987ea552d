"""Assignments: reading them (everyone) and changing their settings (course staff)."""

from __future__ import annotations

import mimetypes
from typing import Annotated

from fastapi import APIRouter, File, HTTPException, Path, Response, UploadFile, status
from fastapi.concurrency import run_in_threadpool

from api.deps import AssignmentDep, CurrentUser, SessionDep, StaffUser
from api.schemas import AssignmentOut, AssignmentUpdate, Instances
from core.errors import InvalidSettings
from core.services import assignments, audit

router = APIRouter(tags=["assignments"])


@router.get("/assignments", response_model=list[AssignmentOut])
def list_assignments(user: CurrentUser, session: SessionDep):
    return assignments.all_assignments(session)


@router.get("/assignments/{slug}", response_model=AssignmentOut)
def read_assignment(assignment: AssignmentDep, user: CurrentUser):
    return assignment


@router.patch("/assignments/{slug}", response_model=AssignmentOut)
def update_assignment(
    changes: AssignmentUpdate, assignment: AssignmentDep, user: StaffUser, session: SessionDep
):
    """Change deadlines, limits, penalty or scoring (course staff)."""
    try:
        assignments.update(
            session, assignment, changes.model_dump(exclude_unset=True), audit.actor_name(user)
        )
    except InvalidSettings as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
    return assignment


@router.post("/assignments/{slug}/rotate-secret", response_model=Instances)
def rotate_secret(assignment: AssignmentDep, user: StaffUser, session: SessionDep):
    """Draw new hidden test instances (course staff). Scores stay as they are until regraded."""
    return Instances(instances=assignments.rotate_secret(session, assignment))


SHOWN_INLINE = {"application/pdf", "text/plain", "text/markdown", "image/png", "image/jpeg"}


@router.get(
    "/assignments/{slug}/handout.tar",
    response_class=Response,
    responses={200: {"content": {"application/x-tar": {}}, "description": "the handout"}},
)
def download_handout(assignment: AssignmentDep, user: CurrentUser, session: SessionDep):
    """The handout: the one staff uploaded, or the course's built handout."""
    return Response(
        assignments.handout(session, assignment),
        media_type="application/x-tar",
        headers={"Content-Disposition": 'attachment; filename="handout.tar"'},
    )


@router.get(
    "/assignments/{slug}/writeup", response_class=Response, responses={404: {"description": "none yet"}}
)
def download_writeup(assignment: AssignmentDep, user: CurrentUser, session: SessionDep):
    """The writeup staff uploaded (shown in the browser when it can, e.g. a PDF)."""
    found = assignments.writeup(session, assignment)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this assignment has no writeup yet")
    name, data = found
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    shown = media_type in SHOWN_INLINE  # anything else (HTML, SVG) would run as a page of this site
    return Response(
        data,
        media_type=media_type if shown else "application/octet-stream",
        headers={
            "Content-Disposition": f'{"inline" if shown else "attachment"}; filename="{name}"',
            "Content-Security-Policy": "sandbox",  # no script of its own, even inside a PDF viewer
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.put("/assignments/{slug}/{kind}", response_model=AssignmentOut)
async def upload_assignment_file(
    kind: Annotated[str, Path(pattern="^(handout|writeup)$")],
    assignment: AssignmentDep,
    user: StaffUser,
    session: SessionDep,
    file: Annotated[UploadFile, File(description="handout.tar, or the writeup (e.g. a PDF)")],
):
    """Publish the handout (a tar) or the writeup students download from the assignment page."""
    data = await file.read()
    try:
        await run_in_threadpool(
            assignments.attach, session, assignment, kind, file.filename or kind, data, audit.actor_name(user)
        )
    except InvalidSettings as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
    return assignment

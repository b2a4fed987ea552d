"""Assignments: reading them (everyone) and changing their settings (course staff)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

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

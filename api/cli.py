"""Admin command line: users, roster import, tokens, assignments, regrades, grade export, similarity,
demo seed."""

from __future__ import annotations

import csv
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from core.db import session_factory
from core.errors import InvalidSettings
from core.models import Assignment, Role, Scoring
from core.services import assignments, audit, course, extensions, roster, standings, submissions, users

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Administer the HW1 Bonus grading service."
)
token_app = typer.Typer(no_args_is_help=True, help="Issue and revoke API tokens.")
app.add_typer(token_app, name="token")
extension_app = typer.Typer(no_args_is_help=True, help="Give one student more days on an assignment.")
app.add_typer(extension_app, name="extension")
console = Console()


def session():
    return session_factory()()


def parse_when(value: str) -> datetime:
    """ISO date-time; without a zone it is taken as UTC."""
    when = datetime.fromisoformat(value)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def need_user(db, username: str):
    user = users.get_by_username(db, username)
    if user is None:
        console.print(f"[red]no user {username!r}[/red]")
        raise typer.Exit(1)
    return user


def need_assignment(db, slug: str) -> Assignment:
    assignment = assignments.get(db, slug)
    if assignment is None:
        console.print(f"[red]no assignment {slug!r}[/red]")
        raise typer.Exit(1)
    return assignment


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
    workers: int = typer.Option(1, help="API processes"),
    proxy_headers: bool = typer.Option(False, "--proxy-headers", help="trust X-Forwarded-* (behind a proxy)"),
) -> None:
    """Run the web API with uvicorn, logging JSON lines (uvicorn's own errors included)."""
    import uvicorn

    from core.logs import uvicorn_log_config

    uvicorn.run(
        "api.main:app",
        host=host,
        port=port,
        workers=workers,
        proxy_headers=proxy_headers,
        log_config=uvicorn_log_config(),
    )


@app.command("create-user")
def create_user(
    username: str,
    role: Role = typer.Option(Role.student),
    name: str = "",
    email: str = "",
    password: str | None = typer.Option(None, help="random if omitted (printed once)"),
) -> None:
    """Create or update a user."""
    from core.security import random_password

    password = password or random_password()
    with session() as db:
        user, created = users.upsert_user(
            db, username, display_name=name, email=email, role=role, password=password
        )
        db.commit()
    console.print(f"{'created' if created else 'updated'} {user.role} {username} (password: {password})")


@app.command("import-roster")
def import_roster(
    csv_file: Path = typer.Argument(..., exists=True, help="columns: username,name,email,role"),
    passwords_out: Path | None = typer.Option(None, help="write new users' passwords here (CSV)"),
) -> None:
    """Create or update users from a roster CSV; new users get a random password. All or nothing."""
    with session() as db:
        try:
            imported = roster.import_csv(db, csv_file.read_text(), None)
        except InvalidSettings as error:
            console.print(f"[red]{error}[/red]")
            raise typer.Exit(1) from None
        db.commit()
    console.print(f"imported {imported.count} user(s), {len(imported.passwords)} new")
    if passwords_out and imported.passwords:
        with passwords_out.open("w", newline="") as handle:
            csv.writer(handle).writerows([("username", "password"), *imported.passwords])
        console.print(f"new users' passwords written to {passwords_out}")


@token_app.command("issue")
def token_issue(username: str, name: str = typer.Option("cli", help="a label for the token")) -> None:
    """Issue an API token for `python submit.py --token` (shown once)."""
    with session() as db:
        token = users.issue_token(db, need_user(db, username), name)
        db.commit()
    print(token)


@token_app.command("revoke")
def token_revoke(
    username: str, prefix: str | None = typer.Option(None, help="only the token starting so")
) -> None:
    """Revoke a user's tokens (all of them unless --prefix)."""
    with session() as db:
        count = users.revoke_tokens(db, need_user(db, username), prefix)
        db.commit()
    console.print(f"revoked {count} token(s)")


@app.command("assignment")
def assignment_upsert(
    slug: str,
    title: str = typer.Option(None, help="required for a new assignment"),
    due: str = typer.Option(None, help="due date-time, ISO 8601 (UTC unless a zone is given)"),
    late_deadline: str = typer.Option(None, help="no uploads after this; defaults to the due date"),
    penalty_per_day: float = typer.Option(None, help="fraction of the score taken per late day, e.g. 0.1"),
    penalty_cap: float = typer.Option(None, help="largest total fraction taken, e.g. 0.5"),
    max_submissions: int = typer.Option(None),
    scoring: Scoring = typer.Option(None, help="which submission counts: latest or best"),
    public_scoreboard: bool = typer.Option(None, "--public-scoreboard/--no-public-scoreboard"),
    scores_released: bool = typer.Option(
        None, "--release-scores/--hold-scores", help="show scores and feedback to students, or hold them"
    ),
) -> None:
    """Create or update an assignment."""
    with session() as db:
        assignment = assignments.get(db, slug)
        if assignment is None:
            if not (title and due):
                console.print("[red]a new assignment needs --title and --due[/red]")
                raise typer.Exit(1)
            assignment = Assignment(
                slug=slug,
                title=title,
                due_at=parse_when(due),
                late_deadline_at=parse_when(late_deadline or due),
            )
            db.add(assignment)
        changes = {
            "title": title,
            "due_at": due and parse_when(due),
            "late_deadline_at": late_deadline and parse_when(late_deadline),
            "late_penalty_per_day": penalty_per_day,
            "late_penalty_cap": penalty_cap,
            "max_submissions": max_submissions,
            "scoring": scoring,
            "public_scoreboard": public_scoreboard,
            "scores_released": scores_released,
        }
        try:
            assignments.update(
                db, assignment, {key: value for key, value in changes.items() if value is not None}
            )
        except InvalidSettings as error:
            console.print(f"[red]{error}[/red]")
            raise typer.Exit(1) from None
        console.print(
            f"assignment {slug}: due {assignment.due_at:%Y-%m-%d %H:%M} UTC, "
            f"late deadline {assignment.late_deadline_at:%Y-%m-%d %H:%M} UTC"
        )


@extension_app.command("grant")
def extension_grant(
    slug: str,
    username: str,
    days: int = typer.Argument(..., help="the due date and the late deadline both move by this"),
    reason: str = typer.Option("", help="kept in the audit trail"),
) -> None:
    """Grant (or change) a student's extension; their lateness is worked out again at once."""
    with session() as db:
        assignment, student = need_assignment(db, slug), need_user(db, username)
        try:
            extensions.grant(db, assignment, student, days, audit.CLI, reason)
        except InvalidSettings as error:
            console.print(f"[red]{error}[/red]")
            raise typer.Exit(1) from None
        due = standings.deadlines(assignment, days)
        console.print(
            f"{username} on {slug}: due {due.due_at:%Y-%m-%d %H:%M} UTC, late deadline "
            f"{due.late_deadline_at:%Y-%m-%d %H:%M} UTC ({days} day(s) more)"
        )


@extension_app.command("revoke")
def extension_revoke(slug: str, username: str, reason: str = typer.Option("")) -> None:
    """Take a student's extension back."""
    with session() as db:
        if not extensions.revoke(db, need_assignment(db, slug), need_user(db, username), audit.CLI, reason):
            console.print(f"[red]{username} has no extension on {slug}[/red]")
            raise typer.Exit(1)
    console.print(f"{username} on {slug}: extension removed")


@app.command("course")
def course_settings(
    time_zone: str = typer.Option(None, help="IANA name, e.g. America/New_York: deadlines show in it"),
    grace_days: int = typer.Option(None, min=0, max=365, help="late days each student may use unpenalised"),
) -> None:
    """Show or change the course's time zone and grace days."""
    values = {
        key: value
        for key, value in (("time_zone", time_zone), ("grace_days", grace_days))
        if value is not None
    }
    with session() as db:
        try:
            course.update(db, values, audit.CLI)
        except InvalidSettings as error:
            console.print(f"[red]{error}[/red]")
            raise typer.Exit(1) from None
        settings = course.get(db)
        console.print(
            f"course: time zone {settings.time_zone}, {settings.grace_days} grace day(s) per student"
        )


@app.command("rotate-secret")
def rotate_secret(slug: str) -> None:
    """Draw new hidden test instances for an assignment (scores stay until regraded)."""
    with session() as db:
        name = assignments.rotate_secret(db, need_assignment(db, slug))
    console.print(f"{slug} now grades on instances {name}; regrade to score earlier handins on them")


@app.command()
def regrade(
    slug: str = typer.Argument(None), submission: int = typer.Option(None, help="one submission id")
) -> None:
    """Regrade one submission, or the counted submission of every student of an assignment."""
    from core.queue import enqueue

    with session() as db:
        if submission is not None:
            if submissions.get(db, submission) is None:
                console.print(f"[red]no submission {submission}[/red]")
                raise typer.Exit(1)
            ids = [submission]
        elif slug:
            ids = submissions.counted_ids(db, need_assignment(db, slug))
        else:
            console.print("[red]give an assignment slug or --submission ID[/red]")
            raise typer.Exit(1)
        submissions.regrade(db, ids, audit.CLI)
    sent = sum(enqueue(submission_id) for submission_id in ids)
    console.print(f"queued {sent} of {len(ids)} submission(s) for regrading")


@app.command("export-grades")
def export_grades(
    slug: str, output: Path | None = typer.Option(None, "-o", help="file (default: stdout)")
) -> None:
    """Export the counted score of every student as CSV."""
    from core.services.grades import grades_csv

    with session() as db:
        lines = grades_csv(db, need_assignment(db, slug))
        if output:
            with output.open("w") as file:
                file.writelines(lines)
            console.print(f"wrote {output}")
        else:
            sys.stdout.writelines(lines)


@app.command("similarity-archive")
def similarity_archive(
    slug: str,
    label: str = typer.Argument(..., help="e.g. fall2020 (letters, digits, . - and spaces)"),
    archive: Path = typer.Argument(..., exists=True, dir_okay=False, help="a tar of earlier handin tars"),
) -> None:
    """Index earlier semesters' handins to compare against (beyond the web form's size limit)."""
    from core.similarity import index as similarity

    if not similarity.valid_archive_label(label):
        console.print("[red]the label takes up to 100 letters, digits, '.', '-' and spaces[/red]")
        raise typer.Exit(2)
    with session() as db:
        row = similarity.create_archive(db, need_assignment(db, slug), label, archive.read_bytes())
        with console.status("indexing...") as status:
            row = similarity.index_archive(
                db, row.id, progress=lambda n: status.update(f"indexed {n} handin(s)")
            )
        console.print(f"{row.label}: {row.status.value}, {row.handins_indexed} handin(s) indexed")
        if row.skipped:
            console.print(f"[yellow]skipped:[/yellow]\n{row.skipped}")
        if row.error:
            console.print(f"[red]{row.error}[/red]")
            raise typer.Exit(1)


@app.command("similarity-rebuild")
def similarity_rebuild(slug: str) -> None:
    """Index every student's counted submission again from scratch (archives are kept)."""
    from core.similarity import index as similarity

    with session() as db:
        assignment = need_assignment(db, slug)
        with console.status("indexing...") as status:
            count = similarity.rebuild(db, assignment, lambda n, of: status.update(f"indexed {n} of {of}"))
        pairs = similarity.pairs(db, assignment, limit=1)[1]
    console.print(f"indexed {count} student submission(s): {pairs} similar pair(s)")


@app.command()
def seed_demo(
    url: str | None = typer.Option(None, help="the API's address to print (default: PUBLIC_URL)"),
) -> None:
    """Create the demo course: the HW1 Bonus assignment, a TA and three students (prints their logins)."""
    from core.config import get_settings
    from core.security import random_password

    url = url or get_settings().public_url

    now = datetime.now(UTC)
    with session() as db:
        if assignments.get(db, "hw1-bonus") is None:
            db.add(
                Assignment(
                    slug="hw1-bonus",
                    title="HW1 Bonus: Adam, Dropout and BatchNorm",
                    due_at=now + timedelta(days=7),
                    late_deadline_at=now + timedelta(days=10),
                    late_penalty_per_day=0.1,
                    late_penalty_cap=0.3,
                    max_submissions=50,
                )
            )
        logins = []
        for username, name, role in (
            ("ta", "Teaching Assistant", Role.ta),
            ("alice", "Alice Liddell", Role.student),
            ("bob", "Bob Builder", Role.student),
            ("carol", "Carol Danvers", Role.student),
        ):
            password = random_password()
            user, _ = users.upsert_user(db, username, display_name=name, role=role, password=password)
            logins.append((username, role.value, password, user))
        tokens = {
            username: users.issue_token(db, user, "demo")
            for username, _, _, user in logins
            if username == "alice"
        }
        db.commit()
    table = Table(title=f"Demo course logins ({url})")
    for column in ("username", "role", "password"):
        table.add_column(column)
    for username, role, password, _ in logins:
        table.add_row(username, role, password)
    console.print(table)
    # Plain prints: rich breaks a line at the terminal's width, and a copy of the token lost its end.
    print(f"API token for alice:\n{tokens['alice']}")
    print(f"  python handout/submit.py handin.tar --server {url} --token {tokens['alice']}")

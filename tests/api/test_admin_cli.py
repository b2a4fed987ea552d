"""The admin command line, as course staff use it: roster import, tokens, grade export."""

from __future__ import annotations

import csv
import os
from datetime import timedelta

from support.service import run_cli


def test_roster_import_creates_users_and_reports_bad_rows(migrated, db, tmp_path):
    env = os.environ.copy()
    roster = tmp_path / "roster.csv"
    roster.write_text("username,name,email,role\nerin,Erin E,erin@x.edu,student\nfrank,Frank F,,ta\n")
    passwords = tmp_path / "passwords.csv"
    out = run_cli(env, "import-roster", str(roster), "--passwords-out", str(passwords))
    assert "imported 2 user(s), 2 new" in out
    rows = list(csv.DictReader(passwords.open()))
    assert [row["username"] for row in rows] == ["erin", "frank"]
    assert all(len(row["password"]) >= 12 for row in rows)
    again = run_cli(env, "import-roster", str(roster))
    assert "imported 2 user(s), 0 new" in again

    roster.write_text("username,name,email,role\ngina,G,,wizard\n")
    import subprocess
    import sys

    from support.service import PROJECT

    bad = subprocess.run(
        [sys.executable, "-m", "api", "import-roster", str(roster)],
        env=env,
        cwd=PROJECT,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1 and "line 2" in bad.stdout


def test_token_issue_and_revoke(migrated, db, app_client):
    env = os.environ.copy()
    run_cli(env, "create-user", "hank")
    token = run_cli(env, "token", "issue", "hank").strip()
    assert app_client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert "revoked 1 token(s)" in run_cli(env, "token", "revoke", "hank")
    assert app_client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_export_grades_lists_every_student(migrated, db, tmp_path):
    env = os.environ.copy()
    run_cli(env, "assignment", "hw1-bonus", "--title", "HW1 Bonus", "--due", "2030-01-01T00:00")
    run_cli(env, "create-user", "ivy")
    out = tmp_path / "grades.csv"
    run_cli(env, "export-grades", "hw1-bonus", "-o", str(out))
    rows = list(csv.DictReader(out.open()))
    assert [row["username"] for row in rows] == ["ivy"] and rows[0]["total"] == ""


def test_extensions_grace_days_and_release_from_the_cli(migrated, db, assignment, make_user, tmp_path):
    from support.reports import graded

    from core.services import submissions

    env = os.environ.copy()
    student, _ = make_user("jill")
    late = graded(db, assignment, student, assignment.due_at + timedelta(days=1.5))
    assert "late deadline" in run_cli(env, "extension", "grant", "hw1-bonus", "jill", "2", "--reason", "flu")
    db.expire_all()
    assert (submissions.get(db, late.id).late_days, submissions.get(db, late.id).score) == (0, 25.0)
    assert "extension removed" in run_cli(env, "extension", "revoke", "hw1-bonus", "jill")
    db.expire_all()
    assert submissions.get(db, late.id).score == 20.0

    assert "2 grace day(s)" in run_cli(env, "course", "--grace-days", "2", "--time-zone", "Europe/Berlin")
    db.expire_all()
    assert (submissions.get(db, late.id).grace_days, submissions.get(db, late.id).score) == (2, 25.0)
    run_cli(env, "assignment", "hw1-bonus", "--hold-scores")
    db.expire_all()
    assert assignment.scores_released is False
    out = tmp_path / "grades.csv"
    run_cli(env, "export-grades", "hw1-bonus", "-o", str(out))
    assert [(row["grace_days_used"], row["total"]) for row in csv.DictReader(out.open())] == [("2", "25.0")]

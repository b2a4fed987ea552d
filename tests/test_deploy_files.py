"""The Dockerfile and docker-compose.yml agree with the code (no Docker engine runs here to try them)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from core.config import Settings

PROJECT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((PROJECT / "docker-compose.yml").read_text())
DOCKERFILE = (PROJECT / "Dockerfile").read_text()


def instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE)
    return [
        tuple(line.split(None, 1)) for line in text.splitlines() if line.strip() and not line.startswith("#")
    ]


def test_dockerfile_installs_bubblewrap_and_the_runtime_and_runs_as_non_root():
    steps = instructions()
    froms = [arg for op, arg in steps if op == "FROM"]
    assert froms[-1].startswith("python:3.11-slim")  # the service's image
    assert froms[0] == "python:3.8-slim-bookworm AS python38"  # the 2020 runtime's interpreter
    assert "COPY --from=python38" in DOCKERFILE and "--base-python /opt/python3.8/bin/python3.8" in DOCKERFILE
    runs = " ".join(arg for op, arg in steps if op == "RUN")
    assert "bubblewrap" in runs
    assert "grader runtime build default" in runs
    users = [arg for op, arg in steps if op == "USER"]
    assert users and users[-1] not in ("root", "0")
    for op, arg in steps:
        if op == "COPY" and not arg.startswith("--from="):  # from the build context
            for source in arg.split()[:-1]:
                assert (PROJECT / source).exists(), source
    cmd = next(arg for op, arg in reversed(steps) if op == "CMD")
    assert '"-m", "api", "serve"' in cmd


def test_compose_has_the_services_with_healthchecks():
    services = COMPOSE["services"]
    assert {"postgres", "redis", "migrate", "api", "worker", "sweeper"} <= set(services)
    for name in ("postgres", "redis", "api", "worker"):
        assert "healthcheck" in services[name], name
    assert services["migrate"]["command"] == ["alembic", "upgrade", "head"]
    assert services["api"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["api"]["ports"] == ["8000:8000"]
    assert COMPOSE["volumes"].keys() >= {"pgdata", "redisdata"}
    # grading yields the CPU to the API (1024 when unset) in containers too, where nice does not reach
    assert services["worker"]["cpu_shares"] < services["api"].get("cpu_shares", 1024)


def test_compose_environment_names_real_settings_and_points_at_its_services():
    settings_fields = {name.upper() for name in Settings.model_fields}
    for name in ("api", "worker", "migrate"):
        environment = COMPOSE["services"][name]["environment"]
        unknown = set(environment) - settings_fields
        assert not unknown, f"{name} sets unknown settings {unknown}"
        assert "@postgres:5432/" in environment["DATABASE_URL"]
        assert environment["BROKER_URL"].startswith("redis://redis:6379")
    postgres = COMPOSE["services"]["postgres"]["environment"]
    database_url = COMPOSE["services"]["api"]["environment"]["DATABASE_URL"]
    assert database_url.endswith(f"/{postgres['POSTGRES_DB']}")
    assert f"{postgres['POSTGRES_USER']}:{postgres['POSTGRES_PASSWORD']}@" in database_url


def test_compose_commands_name_modules_that_exist():
    worker = COMPOSE["services"]["worker"]["command"]
    assert worker[:3] == ["celery", "-A", "worker.celery_app"]
    api = COMPOSE["services"]["api"]["command"]
    assert api[:4] == ["python", "-m", "api", "serve"]
    sweeper = COMPOSE["services"]["sweeper"]["command"]
    assert sweeper[sweeper.index("-Q") + 1] == Settings.model_fields["sweeper_queue"].default
    assert "--beat" in sweeper
    for module in ("worker/celery_app.py", "api/main.py", "api/__main__.py"):
        assert (PROJECT / module).exists()


def test_the_worker_container_can_give_each_handin_a_cgroup_as_a_non_root_user():
    worker = COMPOSE["services"]["worker"]
    entrypoint = PROJECT / worker["entrypoint"][0].removeprefix("/app/")
    assert entrypoint.exists() and entrypoint.stat().st_mode & 0o111
    script = entrypoint.read_text()
    assert worker["cgroup"] == "private" and "SYS_ADMIN" in worker["cap_add"]
    assert "remount,rw" in script and "+memory +pids" in script and "cgroup.subtree_control" in script
    # it starts as root only to delegate, then runs the worker as the image's user, without capabilities
    assert worker["user"] == "root"
    assert "setpriv --reuid=grader" in script and "--bounding-set=-all" in script
    assert "useradd --system --gid grader" in DOCKERFILE


def test_grading_workers_never_take_similarity_jobs_which_have_a_worker_of_their_own(monkeypatch):
    """In compose and `make run` alike: the embedded transport has no priorities, and grading waited
    there behind similarity jobs."""
    from core import queue

    monkeypatch.delenv("GRADING_QUEUE")
    monkeypatch.setattr(queue, "get_settings", Settings)  # the default, as compose and `make run` have it
    grading, similarity = Settings().grading_queue, queue.similarity_queue()
    consumed = {
        name: service["command"][service["command"].index("-Q") + 1]
        for name, service in COMPOSE["services"].items()
        if "-Q" in service.get("command", [])
    }
    sweeper = Settings.model_fields["sweeper_queue"].default
    assert consumed == {"worker": grading, "similarity": similarity, "sweeper": sweeper}
    makefile = (PROJECT / "Makefile").read_text()
    assert f"GRADING_QUEUE ?= {grading}\n" in makefile and f"SWEEPER_QUEUE ?= {sweeper}\n" in makefile
    serve = makefile[makefile.index("\nserve:") : makefile.index("\n\n", makefile.index("\nserve:"))]
    similarity_in_make = similarity.replace(grading, "$(GRADING_QUEUE)", 1)
    assert "-Q $(GRADING_QUEUE) " in serve and f"-Q {similarity_in_make} " in serve

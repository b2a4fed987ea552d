"""Settings of the service, in one place, read from the environment (or a .env file).

Every setting can be given as an environment variable of the same name in upper
case, e.g. DATABASE_URL=postgresql+psycopg://user@host/db BROKER_URL=redis://host:6379/0.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from grader.paths import RUNTIMES_DIR

PROJECT_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = PROJECT_DIR / "var"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # Storage and queue. The embedded defaults need nothing else running.
    database_url: str = f"sqlite:///{VAR_DIR / 'hw1grader.db'}"
    broker_url: str = f"sqla+sqlite:///{VAR_DIR / 'broker.db'}"
    grading_queue: str = "grading"  # the broker queue the workers consume

    # Web
    secret_key: str = Field("", description="signs session cookies; unset: a random one in secret_key_file")
    secret_key_file: Path = VAR_DIR / "secret_key"
    session_max_age_s: int = 8 * 3600
    secure_cookies: bool = False  # set True behind HTTPS
    public_url: str = "http://127.0.0.1:8000"
    login_attempts_per_minute: int = 10

    # Uploads
    max_upload_bytes: int = 10 * 1024 * 1024

    # Grading
    sandbox: str = "bwrap"  # bwrap | docker | unsafe-process (development only)
    # No confinement, no grading: a worker that cannot put each handin in a cgroup of its own takes no
    # grading job. True lets bwrap run without one, and unsafe-process run at all: a laptop demo only
    # (the staff pages say so while such a worker is up).
    allow_weak_sandbox: bool = False
    sandbox_wall_seconds: float = 60.0
    sandbox_cpu_seconds: int = 20  # a loop costs at most this; a correct problem uses under 0.1 s
    sandbox_idle_seconds: float = 3.0  # a problem sleeping this long without computing is stopped
    sandbox_memory_bytes: int = 1 << 30
    sandbox_processes: int = 64
    docker_image: str = "hw1-bonus-runtime:latest"
    runtimes_dir: Path = RUNTIMES_DIR
    grading_retries: int = 3  # for infrastructure errors only; a failing student is not retried
    worker_nice: int = Field(10, ge=0, le=19)  # grading yields the CPU to the web API at a deadline

    # Logs: JSON lines carrying submission_id from upload to score, or plain text
    log_format: str = Field("json", pattern="^(json|text)$")
    log_level: str = "INFO"

    # Reliability
    lease_s: int = 30  # a job's worker renews its lease this far ahead; once lapsed, the job runs again
    unsent_after_s: int = 10  # an upload whose job was not sent this long after: the sweeper sends it
    lost_after_s: int = 3600  # sent this long ago and never taken up: sent again (a last safety net)
    requeue_after_s: int = 120  # similarity jobs: stale this long, sent again
    stuck_after_s: int = 600  # an archive's indexing silent this long: sent again
    database_outage_wait_s: int = 3600  # a job waits this long for the database before it fails
    database_connect_timeout_s: float = 2.0  # a new connection (libpq takes 2 s at least)
    database_pool_timeout_s: float = 10.0  # waiting for a free pooled connection
    database_statement_timeout_s: float = 60.0  # PostgreSQL stops a statement running this long
    database_deadline_s: float = 90.0  # a statement whose answer never comes is cut after this...
    api_database_deadline_s: float = 3.0  # ...or this, in the API: an outage is answered with a 503
    sweeper_queue: str = "sweeper"  # the sweeper's own queue, with a consumer of its own
    sweep_interval_s: int = 10
    max_sweeps: int = 3  # a job lost this many times more ends as an error on our side
    broker_visibility_timeout_s: int = 3600  # Redis: an unacknowledged job is delivered again after this
    heartbeat_s: int = 10  # a worker writes that it is alive this often
    worker_gone_after_s: int = 35  # a worker silent this long is taken for dead (health, staff pages)

    @model_validator(mode="after")
    def _session_key(self) -> Settings:
        if not self.secret_key:
            try:
                self.secret_key = local_secret(self.secret_key_file)
            except OSError as error:
                raise ValueError(f"set SECRET_KEY: it is unset and {error}") from None
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def local_secret(path: Path) -> str:
    """A random key kept in `path`, made on first use and readable by its owner only: one install has
    one key (shared by its processes, kept across restarts), and no two installs share one."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False) as draft:  # mode 0600
            draft.write(secrets.token_hex(32))
        try:
            os.link(draft.name, path)  # all or nothing: a process starting meanwhile reads a whole key
        except FileExistsError:
            pass
        finally:
            os.unlink(draft.name)
    return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()

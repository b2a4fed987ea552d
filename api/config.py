"""Settings of the service, in one place, read from the environment (or a .env file).

Every setting can be given as an environment variable of the same name in upper
case, e.g. DATABASE_URL=postgresql+psycopg://user@host/db BROKER_URL=redis://host:6379/0.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
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
    secret_key: str = Field(
        "dev-insecure-change-me", description="signs session cookies; set it in production"
    )
    session_max_age_s: int = 8 * 3600
    secure_cookies: bool = False  # set True behind HTTPS
    public_url: str = "http://127.0.0.1:8000"
    login_attempts_per_minute: int = 10

    # Uploads
    max_upload_bytes: int = 10 * 1024 * 1024

    # Grading
    sandbox: str = "bwrap"  # bwrap | docker | unsafe-process (development only)
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
    requeue_after_s: int = 120  # queued this long without being picked up: send the task again
    stuck_after_s: int = 600  # running this long: the worker died; grade again
    sweep_interval_s: int = 30
    broker_visibility_timeout_s: int = 3600  # Redis: an unacknowledged job is delivered again after this

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()

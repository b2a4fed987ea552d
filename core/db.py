"""Database engine and sessions, and how long the service waits for the database.

An outage must be answered fast, never waited on: a new connection gives up after
DATABASE_CONNECT_TIMEOUT_S, a connection whose peer went silent is dropped by TCP keepalives and
tcp_user_timeout, a statement is stopped by PostgreSQL after DATABASE_STATEMENT_TIMEOUT_S, and one
whose answer never comes (a database that hangs, a proxy that stopped) is cut on this side after
DATABASE_DEADLINE_S, which no server-side timeout can do.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from core.config import get_settings

UNAVAILABLE = (OperationalError, DisconnectionError, PoolTimeout)  # what an outage raises


def unavailable(error: BaseException) -> bool:
    """Whether `error` says the database cannot be reached (rather than that it refused the data)."""
    return isinstance(error, UNAVAILABLE) or (isinstance(error, DBAPIError) and error.connection_invalidated)


def prepare_sqlite_folder(url: str) -> None:
    """Creates the folder of a SQLite database file (var/ on a fresh checkout)."""
    database = make_url(url).database
    if url.startswith("sqlite") and database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


class Deadline:
    """Cuts the socket of a PostgreSQL connection whose statement (or checkout ping) runs past
    `seconds`: psycopg then raises OperationalError and the pool drops the connection."""

    def __init__(self):
        self.seconds: float | None = None  # DATABASE_DEADLINE_S unless set (the API's is shorter)
        self.running: dict[int, tuple[float, object]] = {}  # id(dbapi connection) -> (deadline, it)
        self.lock = threading.Lock()
        self.watcher: threading.Thread | None = None

    def start(self, dbapi_connection, seconds: float | None = None) -> None:
        with self.lock:
            if self.watcher is None or not self.watcher.is_alive():  # one per process, forks included
                self.watcher = threading.Thread(target=self._watch, name="database-deadline", daemon=True)
                self.watcher.start()
            if self.seconds is None:
                self.seconds = get_settings().database_deadline_s
            deadline = time.monotonic() + min(seconds or self.seconds, self.seconds)
            self.running[id(dbapi_connection)] = (deadline, dbapi_connection)

    def end(self, dbapi_connection) -> bool:
        """Stops watching the connection; False if the deadline had already cut it."""
        with self.lock:
            return self.running.pop(id(dbapi_connection), None) is not None

    def _watch(self) -> None:
        while True:
            time.sleep(0.1)
            now = time.monotonic()
            with self.lock:
                late = [connection for deadline, connection in self.running.values() if deadline < now]
            for connection in late:
                self.end(connection)
                cut(connection)


PING_DEADLINE_S = 0.5  # a database that answers at all answers SELECT 1 in milliseconds


def cut(dbapi_connection) -> None:
    """Shuts the connection's socket down under it (a blocked read returns at once)."""
    with contextlib.suppress(OSError, AttributeError, ValueError):
        duplicate = socket.socket(fileno=os.dup(dbapi_connection.pgconn.socket))
        with duplicate:
            duplicate.shutdown(socket.SHUT_RDWR)


def watch_statements(engine: Engine, deadline: Deadline) -> None:
    """Puts every statement of `engine`, and the ping that checks out a pooled connection, under
    `deadline`."""

    @event.listens_for(engine, "before_cursor_execute")
    def _started(connection, cursor, statement, parameters, context, executemany) -> None:
        deadline.start(connection.connection.dbapi_connection)

    @event.listens_for(engine, "after_cursor_execute")
    def _ended(connection, cursor, statement, parameters, context, executemany) -> None:
        deadline.end(connection.connection.dbapi_connection)

    @event.listens_for(engine, "handle_error")
    def _failed(context) -> None:
        if context.connection is not None and context.connection.connection.dbapi_connection is not None:
            deadline.end(context.connection.connection.dbapi_connection)

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection, record, proxy) -> None:
        """pool_pre_ping under a short deadline: a connection the database closed is replaced by a new
        one (DisconnectionError); one it does not answer on means it hangs, which a new connection would
        meet again (2 s more for libpq to give up connecting): an OperationalError at once."""
        deadline.start(dbapi_connection, PING_DEADLINE_S)
        try:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except Exception as error:
            if not deadline.end(dbapi_connection):
                raise OperationalError("SELECT 1", None, error) from error
            raise DisconnectionError(str(error)) from error
        deadline.end(dbapi_connection)


DEADLINE = Deadline()


def answer_fast() -> None:
    """The API's deadline for a statement: short, so that an outage gets a 503 within seconds (the
    workers keep the longer one: they wait out an outage, and some of their statements are long)."""
    DEADLINE.seconds = get_settings().api_database_deadline_s


@lru_cache
def get_engine(url: str | None = None) -> Engine:
    settings = get_settings()
    url = url or settings.database_url
    if url.startswith("sqlite"):
        prepare_sqlite_folder(url)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection, _record) -> None:  # WAL: readers and one writer across processes
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    engine = create_engine(
        url,
        pool_size=10,
        max_overflow=20,
        pool_timeout=settings.database_pool_timeout_s,
        connect_args={
            "connect_timeout": max(2, round(settings.database_connect_timeout_s)),  # libpq's minimum is 2
            "options": f"-c statement_timeout={int(settings.database_statement_timeout_s * 1000)}",
            "keepalives": 1,
            "keepalives_idle": 5,
            "keepalives_interval": 2,
            "keepalives_count": 2,
            "tcp_user_timeout": int(settings.database_connect_timeout_s * 1500),
        },
    )
    watch_statements(engine, DEADLINE)
    return engine


@lru_cache
def session_factory(url: str | None = None) -> sessionmaker[Session]:
    return sessionmaker(get_engine(url), expire_on_commit=False)


def get_session() -> Iterator[Session]:
    """FastAPI dependency: one session per request."""
    with session_factory()() as session:
        yield session

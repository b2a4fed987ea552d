"""Alembic environment: migrates the database named by the service settings."""

from alembic import context
from sqlalchemy import engine_from_config, pool

from core.config import get_settings
from core.db import prepare_sqlite_folder
from core.models import Base

config = context.config
url = config.attributes.get("database_url") or get_settings().database_url
target_metadata = Base.metadata
prepare_sqlite_folder(url)


def run_migrations_offline() -> None:
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = engine_from_config({"sqlalchemy.url": url}, prefix="sqlalchemy.", poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

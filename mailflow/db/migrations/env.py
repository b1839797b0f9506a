"""Alembic environment: runs migrations on the connection mailflow passes in."""

from __future__ import annotations

from alembic import context

from mailflow.db.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("mailflow runs migrations through 'mailflow db upgrade', which passes a connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()

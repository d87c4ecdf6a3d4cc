"""Run Alembic from inside the bot: on the bot's own engine, in its running event loop."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

ROOT = Path(__file__).resolve().parents[2]
# The PostgreSQL advisory lock key that makes one process migrate while the others wait ("studybot").
MIGRATION_LOCK_KEY = 0x73747564_79626F74


def alembic_config(url: str | None = None) -> Config:
    """The project's Alembic config, usable from any working directory."""
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
        cfg.attributes["url"] = url  # an explicit URL beats STUDYBOT_DATABASE_URL
    return cfg


async def upgrade_to_head(engine: AsyncEngine) -> None:
    """`alembic upgrade head` on `engine`, sharing its connection (command.upgrade would call asyncio.run)."""

    def _run(connection: Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")

    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Several processes may start at once: the first upgrades, the others wait here and then find
            # the database at head. A transaction-level lock: released at commit, or if the process dies.
            await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        await connection.run_sync(_run)
    if engine.dialect.name == "sqlite":
        # The migration ran with foreign keys off (see migrations/env.py): no connection that saw it stays in
        # the pool; new ones are opened with every pragma on.
        await engine.dispose()

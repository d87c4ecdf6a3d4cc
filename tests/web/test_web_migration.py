"""Migration 0004 adds the web page tables after the practice migration and removes them again on downgrade."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic import command

from bot.db.migrate import alembic_config
from tests.integration.test_migrations import isolated, tables_in  # noqa: F401  (autouse fixture)


def test_upgrade_from_0003_adds_the_web_tables_and_downgrade_removes_them(tmp_path: Path) -> None:
    path = tmp_path / "web.db"
    cfg = alembic_config(f"sqlite+aiosqlite:///{path}")
    command.upgrade(cfg, "0003")
    assert "web_page" not in tables_in(path)
    command.upgrade(cfg, "head")
    assert {"web_page", "web_hidden_links"} <= tables_in(path)
    insert = "INSERT INTO web_page (study_id, token, enabled, public, created_at, updated_at) VALUES (?, ?, 1, 0, 0, 0)"
    with sqlite3.connect(path) as conn:
        conn.execute(insert, (1, "same-token-same-token-12"))
        with pytest.raises(sqlite3.IntegrityError):  # an address names one page only
            conn.execute(insert, (2, "same-token-same-token-12"))
        conn.rollback()
    command.downgrade(cfg, "0003")
    assert not {"web_page", "web_hidden_links"} & tables_in(path)
    assert "attendance" in tables_in(path)  # the practice tables below stay

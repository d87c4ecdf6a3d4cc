"""The /admin extension: its command tree comes and goes with the extension, and its texts come from the
catalogues under keys derived from the command's place in the tree."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from discord import app_commands

from bot.app import StudyBot
from bot.clock import FrozenClock
from bot.config import Settings
from bot.exts._glue import describe_from_catalogue
from bot.i18n.catalogue import load
from bot.runtime import create_bot, open_runtime


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[StudyBot]:
    settings = Settings(token="", database_url=f"sqlite+aiosqlite:///{tmp_path / 'admin.db'}")
    runtime = await open_runtime(settings, clock=FrozenClock(datetime(2026, 12, 1, tzinfo=UTC)))
    try:
        client = create_bot(runtime)
        async with client:
            yield client
    finally:
        await runtime.close()


async def test_admin_unloads_with_its_extension_and_reloads_cleanly(bot: StudyBot) -> None:
    await bot.load_extension("bot.exts.admin")
    assert bot.tree.get_command("admin") is not None
    assert bot.cogs == {}  # no empty cog is left behind to hold nothing

    await bot.unload_extension("bot.exts.admin")
    assert bot.tree.get_command("admin") is None

    await bot.load_extension("bot.exts.admin")  # would raise CommandAlreadyRegistered if /admin had stayed
    await bot.reload_extension("bot.exts.admin")
    assert [c.name for c in bot.tree.get_commands()] == ["admin"]


def test_descriptions_are_derived_from_the_qualified_name() -> None:
    group = app_commands.Group(name="admin", description="…")
    roster = app_commands.Group(name="roster", description="…", parent=group)

    @roster.command(name="add", description="…")
    async def add(interaction: object, name: str) -> None:  # pragma: no cover - never invoked
        del interaction, name

    describe_from_catalogue(group)

    en = load("en")
    assert group.description == en["cmd.admin.description"]
    assert roster.description == en["cmd.admin.roster.description"]
    [command] = roster.commands
    assert isinstance(command, app_commands.Command)
    assert command.description == en["cmd.admin.roster.add.description"]
    [param] = command.parameters
    assert param.description == en["cmd.admin.roster.add.opt.name.description"]

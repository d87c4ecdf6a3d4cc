"""The production error handler (`StudyBot.on_app_command_error`) through real discord.py and the stand-in.

An unexpected failure gets the short apology with an id, and the log line with the same id says which
command, server, user and options; a user error gets its own message in the reader's language. Both are
ephemeral and ping nobody, whether the command had deferred its answer or not.
"""

from __future__ import annotations

import logging
import re

import discord
import pytest
from sqlalchemy import text

from bot.offline import OfflineBot
from standin import MessageRecord

pytestmark = pytest.mark.e2e

ERROR_ID = re.compile(r"`([0-9a-f]{8})`")


def error_logs(caplog: pytest.LogCaptureFixture, error_id: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "bot.app" and error_id in r.getMessage()]


async def ask(running: OfflineBot, command: str, options: dict[str, object], *, locale: str) -> MessageRecord:
    world = running.standin.defaults
    assert world is not None
    handle = await running.standin.invoke(command, options, user_id=world.admin_user_id, locale=locale)
    reply = await handle.wait_reply(timeout=10)
    assert reply.ephemeral and reply.pings.nobody
    return reply


async def test_unexpected_failure_in_a_deferred_command_apologises_with_an_id_that_is_logged(
    running: OfflineBot, caplog: pytest.LogCaptureFixture
) -> None:
    world = running.standin.defaults
    assert world is not None
    # A real failure underneath the command: the audit table is gone, so the edit cannot be written.
    async with running.runtime.sessionmaker() as session, session.begin():
        await session.execute(text("ALTER TABLE audit RENAME TO audit_gone"))
    caplog.set_level(logging.ERROR, logger="bot.app")
    for locale, apology in (("ko", "죄송합니다"), ("en-US", "Sorry, something went wrong")):
        reply = await ask(running, "admin roster add", {"name": "홍길동"}, locale=locale)
        assert reply.content.startswith("😵 ") and apology in reply.content, reply.content
        match = ERROR_ID.search(reply.content)
        assert match is not None, reply.content
        [record] = error_logs(caplog, match.group(1))
        message = record.getMessage()
        assert "/admin roster add" in message
        assert f"guild {world.guild_id}" in message and f"user {world.admin_user_id}" in message
        assert "홍길동" in message  # the options the command was given
        assert record.exc_info is not None and "audit" in str(record.exc_info[1])
    snap = running.runtime.directory.by_guild(world.guild_id)
    assert snap is not None and not any(m.name == "홍길동" for m in snap.members)


async def test_unexpected_failure_before_any_answer_apologises_with_an_id_that_is_logged(
    running: OfflineBot, caplog: pytest.LogCaptureFixture
) -> None:
    world = running.standin.defaults
    assert world is not None

    # A command that fails before it answers, on the bot's own tree (so its own on_error handles it).
    @discord.app_commands.command(name="broken", description="Fails before answering")
    async def broken(interaction: discord.Interaction) -> None:
        raise ZeroDivisionError("division by zero in a handler")

    running.bot.tree.add_command(broken)
    await running.bot.tree.sync()
    caplog.set_level(logging.ERROR, logger="bot.app")
    reply = await ask(running, "broken", {}, locale="en-US")
    assert reply.content.startswith("😵 Sorry, something went wrong"), reply.content
    match = ERROR_ID.search(reply.content)
    assert match is not None
    [record] = error_logs(caplog, match.group(1))
    assert "/broken" in record.getMessage() and f"guild {world.guild_id}" in record.getMessage()
    assert record.exc_info is not None and isinstance(record.exc_info[1], ZeroDivisionError)


@pytest.mark.parametrize(
    ("command", "options", "locale", "expected"),
    [
        ("week", {"number": 42}, "ko", "⚠️ 42주차는 없습니다. 1부터 9주차까지"),
        ("week", {"number": 42}, "en-US", "⚠️ There is no week 42. Allowed: a week from 1 to 9."),
        ("admin roster add", {"name": "차수연"}, "ko", "⚠️ **차수연**이라는 참여자가 이미 있습니다"),
        ("admin roster add", {"name": "차수연"}, "en-US", "⚠️ There is already a member called **차수연**"),
    ],
    ids=["answer-ko", "answer-en", "deferred-ko", "deferred-en"],
)
async def test_user_error_gets_its_own_message_in_the_readers_language(
    running: OfflineBot,
    caplog: pytest.LogCaptureFixture,
    command: str,
    options: dict[str, object],
    locale: str,
    expected: str,
) -> None:
    caplog.set_level(logging.ERROR, logger="bot.app")
    reply = await ask(running, command, options, locale=locale)
    assert reply.content.startswith(expected), reply.content
    assert not [r for r in caplog.records if r.name == "bot.app" and r.levelno >= logging.ERROR]

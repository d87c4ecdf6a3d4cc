"""Kill the real `studybot run` process mid-delivery and start it again: the reminder lands exactly once.

The bot runs as a separate process (`python -m bot run --config …`) against the in-test stand-in, with the
system clock; the study is shaped so that a reminder is already due (late) when the process starts.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.clock import FrozenClock
from bot.config import Settings
from bot.core.definition import dump_definition, load_definition
from bot.db import models as db
from bot.offline import BUNDLED_STUDY, write_config
from bot.runtime import open_runtime
from bot.services.base import Actor
from standin import StandIn
from tests.e2e.procs import MESSAGES, kill, kill_after_first_post, spawn


async def prepare_study(
    tmp_path: Path, standin: StandIn, *, minutes_ahead: int = 40, reminders: bool = True, practice: str = "off"
) -> Path:
    """A study whose session starts in 40 minutes with a 1h reminder (so it is 20 minutes late now),
    imported a day ago — as if the bot had been down since before the reminder was due. `practice="checkin"`
    keeps the session-start post on (the other practice posts stay off either way)."""
    world = standin.defaults
    assert world is not None
    now = datetime.now(UTC)
    start_local = (now + timedelta(minutes=minutes_ahead)).astimezone(ZoneInfo("Asia/Seoul"))
    definition = replace(
        load_definition(BUNDLED_STUDY),
        weekday=start_local.weekday(),
        first_session=start_local.date(),
        start_time=start_local.time().replace(second=0, microsecond=0),
        reminder_offsets_minutes=(60,) if reminders else (),
    )
    study_file = tmp_path / "study.toml"
    study_file.write_text(dump_definition(definition), encoding="utf-8")
    database = tmp_path / "studybot.db"
    runtime = await open_runtime(
        Settings(token="", database_url=f"sqlite+aiosqlite:///{database}"), clock=FrozenClock(now - timedelta(days=1))
    )
    await runtime.services.definitions.import_definition(
        guild_id=world.guild_id,
        definition=definition,
        actor=Actor.cli(),
        reminder_channel_id=world.channel_id,
        ping_role_id=world.study_role_id,
    )
    # This test is about the reminder: the study's practice posts (its nudge would be due late too) are off.
    await runtime.services.attendance.update_practice(
        guild_id=world.guild_id, actor=Actor.cli(), nudge_offset=0, recap=False, checkin_post=practice == "checkin"
    )
    await runtime.close()
    return write_config(
        tmp_path / "config.toml",
        standin=standin,
        database=database,
        definition=study_file,
        guild_id=world.guild_id,
        channel_id=world.channel_id,
        ping_role_id=world.study_role_id,
    )


async def ledger(config_dir: Path) -> list[db.Delivery]:
    runtime = await open_runtime(
        Settings(token="", database_url=f"sqlite+aiosqlite:///{config_dir / 'studybot.db'}"), migrate=False
    )
    try:
        async with runtime.sessionmaker() as session:
            return list((await session.execute(select(db.Delivery))).scalars())
    finally:
        await runtime.close()


async def wait_for_status(config_dir: Path, status: str, *, timeout: float) -> list[db.Delivery]:  # noqa: ASYNC109
    """Poll the other process's ledger until every row has `status`; returns the rows."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        rows = await ledger(config_dir)
        if rows and all(r.status == status for r in rows):
            return rows
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"ledger rows did not reach {status!r}: {[(r.kind, r.status) for r in rows]}")
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("posted_before_crash", [False, True], ids=["crash-before-send", "crash-before-mark"])
async def test_killed_mid_delivery_then_restarted_delivers_once(
    tmp_path: Path, standin: StandIn, posted_before_crash: bool
) -> None:
    world = standin.defaults
    assert world is not None
    config = await prepare_study(tmp_path, standin)
    # Every send fails with a 500; with after_handling the message is stored first (Discord posted it, the
    # answer was lost), otherwise nothing is posted.
    standin.faults.server_error("POST", MESSAGES, count=None, status=500, after_handling=posted_before_crash)
    path = f"/channels/{world.channel_id}/messages"
    await kill_after_first_post(standin, config, path)
    [row] = await ledger(tmp_path)
    assert row.status == "claimed"  # claimed, never confirmed: the crash left it half-done
    assert len(standin.messages(world.channel_id)) == (1 if posted_before_crash else 0)
    standin.faults.clear()
    second = await spawn(config)
    try:
        await standin.wait_until(lambda: len(standin.messages(world.channel_id)) == 1, timeout=30)
        [row] = await wait_for_status(tmp_path, "sent", timeout=30)
        assert row.message_id == standin.messages(world.channel_id)[0].id
        # A later answer from the restarted bot: it is up and its resume is behind it; still one message.
        await standin.wait_for_session(timeout=30)
        status = await standin.invoke("admin reminders status", {}, user_id=world.admin_user_id, locale="en-US")
        await status.wait_reply(timeout=15)
        assert len(standin.messages(world.channel_id)) == 1
        assert "늦은 알림" in standin.messages(world.channel_id)[0].content
    finally:
        await kill(second)

"""/admin through real discord.py and the stand-in: moves that clash or change nothing are refused,
/schedule marks moved sessions, the audit trail shows whole values and skips no-ops, the reminder channel
must be one the bot can post in, the admin role can be cleared, and a pause does not swallow a cancel notice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot.clock import ShiftedClock
from bot.db import models as db
from bot.offline import OfflineBot
from standin import Overwrite, Perm
from tests.e2e.test_commands import ask, snapshot_tables, text_of

PLACE = "https://app.gather.town/app/AbCdEfGh12345678/pytorch-study-room?spawnToken=" + "x" * 80
WEEK2 = datetime(2026, 12, 10, 0, 0, tzinfo=UTC)  # Thursday 09:00 KST


async def admin(running: OfflineBot, command: str, options: dict[str, Any] | None = None, locale: str = "ko") -> str:
    reply = await ask(running.standin, command, options or {}, user="admin", locale=locale)
    assert reply.ephemeral
    return text_of(reply)


async def study(running: OfflineBot) -> db.Study:
    async with running.runtime.sessionmaker() as session:
        return (await session.execute(select(db.Study))).scalar_one()


async def test_moving_week_3_onto_week_2_is_refused_and_a_real_move_shows_in_schedule(running: OfflineBot) -> None:
    before = await snapshot_tables(running)

    clash = await admin(running, "admin session move", {"date": "2026-12-17", "new_date": "2026-12-10"})
    same = await admin(running, "admin session move", {"date": "2026-12-17", "new_date": "2026-12-17"}, "en-US")

    assert clash.startswith("⚠️") and "2주차 모임" in clash and "겹칩니다" in clash
    assert same.startswith("⚠️") and "already starts" in same
    assert await snapshot_tables(running) == before
    assert "🔀" not in (await ask(running.standin, "schedule")).embeds[0]["description"]

    moved = await admin(running, "admin session move", {"date": "2026-12-17", "new_date": "2026-12-18"})

    assert moved.startswith("✅")
    lines = (await ask(running.standin, "schedule")).embeds[0]["description"].splitlines()
    [marked] = [line for line in lines if "🔀" in line]
    assert marked.startswith("▫️ 3주차") and "변경" in marked


async def test_audit_shows_the_whole_changed_link_and_a_repeat_is_not_logged(running: OfflineBot) -> None:
    saved = await admin(running, "admin settings", {"place_url": PLACE})
    assert not saved.startswith("⚠️"), saved
    before = await snapshot_tables(running)
    revision = (await study(running)).revision

    again = await admin(running, "admin settings", {"place_url": PLACE}, "en-US")

    assert again.startswith("⚠️") and "Nothing changed" in again
    assert await snapshot_tables(running) == before and (await study(running)).revision == revision
    audit = await admin(running, "admin audit", {"count": 1}, "en-US")
    assert "`place_url`: <https://app.gather.town/> → <" + PLACE + ">" in audit
    assert "weekday" not in audit and "Gather Town" not in audit


async def test_a_reminder_channel_the_bot_cannot_post_in_is_refused_with_what_is_missing(running: OfflineBot) -> None:
    standin = running.standin
    world = standin.defaults
    assert world is not None
    locked = standin.add_channel(
        world.guild_id,
        "read-only",
        overwrites=[Overwrite(world.bot_role_id, 0, deny=Perm.SEND_MESSAGES | Perm.READ_MESSAGE_HISTORY)],
    )
    writable = standin.add_channel(world.guild_id, "reminders")
    before = await snapshot_tables(running)

    ko = await admin(running, "admin settings", {"channel": locked})
    en = await admin(running, "admin settings", {"channel": locked}, "en-US")

    # Without Send Messages, Discord (and discord.py's permissions_for) also withholds Embed Links.
    assert ko.startswith("⚠️") and "메시지 보내기, 링크 첨부, 메시지 기록 보기" in ko and "채널 보기" not in ko
    assert "Missing permissions: Send Messages, Embed Links, Read Message History." in en
    assert await snapshot_tables(running) == before
    assert not (await admin(running, "admin settings", {"channel": writable})).startswith("⚠️")
    assert (await study(running)).reminder_channel_id == writable


async def test_the_admin_role_can_be_set_and_cleared(running: OfflineBot) -> None:
    world = running.standin.defaults
    assert world is not None

    await admin(running, "admin settings", {"admin_role": world.study_role_id})
    assert (await study(running)).admin_role_id == world.study_role_id
    card = await admin(running, "admin settings", {"clear_admin_role": True}, "en-US")

    assert (await study(running)).admin_role_id is None
    assert "Admin role\nnot set" in card


async def test_a_cancel_notice_due_while_paused_is_posted_and_status_names_its_week(running: OfflineBot) -> None:
    world = running.standin.defaults
    assert world is not None
    await admin(running, "admin session cancel", {"date": "2026-12-10", "reason": "연말"})
    await admin(running, "admin reminders pause")

    status = await admin(running, "admin reminders status")

    assert f"<t:{int(WEEK2.timestamp())}:D> 모임 취소 안내 (원래 2주차)" in status
    assert "-주차" not in status
    clock = running.runtime.clock
    assert isinstance(clock, ShiftedClock)
    clock.set(WEEK2 - timedelta(days=1) - timedelta(seconds=1))
    await running.bot.reminders.rearm_all()
    [notice] = await running.standin.wait_for_messages(world.channel_id, 1, timeout=10)
    assert "취소" in notice.content and notice.pings.roles == frozenset({world.study_role_id})


async def test_status_says_when_the_bot_cannot_post_in_the_reminder_channel(running: OfflineBot) -> None:
    from bot.services.base import Actor
    from bot.services.settings import SettingsChange

    standin = running.standin
    world = standin.defaults
    assert world is not None
    assert "권한" not in await admin(running, "admin reminders status")
    locked = standin.add_channel(
        world.guild_id, "no-embeds", overwrites=[Overwrite(world.bot_role_id, 0, deny=Perm.EMBED_LINKS)]
    )
    # A channel set where no check runs (the config file, or before the bot's role was changed).
    await running.runtime.services.settings.update(
        guild_id=world.guild_id, actor=Actor.cli(), change=SettingsChange(channel_id=locked)
    )

    status = await admin(running, "admin reminders status", locale="en-US")

    assert "The bot lacks permissions in the reminder channel: Embed Links." in status


async def test_status_says_when_the_reminder_channel_is_gone(running: OfflineBot) -> None:
    from bot.services.base import Actor
    from bot.services.settings import SettingsChange

    world = running.standin.defaults
    assert world is not None
    await running.runtime.services.settings.update(
        guild_id=world.guild_id, actor=Actor.cli(), change=SettingsChange(channel_id=123456789012345678)
    )

    status = await admin(running, "admin reminders status", locale="en-US")

    assert "The reminder channel cannot be found" in status

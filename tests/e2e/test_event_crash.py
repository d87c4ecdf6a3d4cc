"""Kill the real `studybot run` process between "Discord created the server event" and "the bot recorded it",
again and again: after the last restart every session has exactly one event.

The stand-in creates the event and then holds its answer back, so the bot is killed (SIGKILL) with the
event existing on Discord and no row for it in the database — the window in which a crash used to leave an
orphan and the next start created a second event for the same session.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.clock import FrozenClock
from bot.config import Settings
from bot.core.definition import dump_definition, load_definition
from bot.db import models as db
from bot.delivery.event_plan import read_marker
from bot.offline import BUNDLED_STUDY, write_config
from bot.runtime import open_runtime
from bot.services.base import Actor
from standin import StandIn
from tests.e2e.procs import kill, spawn

CREATE = r"^/guilds/\d+/scheduled-events$"


async def prepare(tmp_path: Path, standin: StandIn) -> tuple[Path, str]:
    """The bundled study, starting three days from now (no reminder falls due during the test)."""
    world = standin.defaults
    assert world is not None
    now = datetime.now(UTC)
    first = (now + timedelta(days=3)).astimezone(ZoneInfo("Asia/Seoul")).date()
    definition = replace(load_definition(BUNDLED_STUDY), weekday=first.weekday(), first_session=first)
    study_file = tmp_path / "study.toml"
    study_file.write_text(dump_definition(definition), encoding="utf-8")
    database = tmp_path / "studybot.db"
    runtime = await open_runtime(
        Settings(token="", database_url=f"sqlite+aiosqlite:///{database}"), clock=FrozenClock(now)
    )
    try:
        await runtime.services.definitions.import_definition(
            guild_id=world.guild_id, definition=definition, actor=Actor.cli(), reminder_channel_id=world.channel_id
        )
        await runtime.directory.load_all()
        snap = runtime.directory.by_guild(world.guild_id)
        assert snap is not None
        public_id = snap.public_id
    finally:
        await runtime.close()
    config = write_config(
        tmp_path / "config.toml",
        standin=standin,
        database=database,
        definition=study_file,
        guild_id=world.guild_id,
        channel_id=world.channel_id,
        ping_role_id=None,
    )
    return config, public_id


async def recorded(tmp_path: Path) -> dict[str, int]:
    """The scheduled_event rows that record an event: session date → Discord event id."""
    runtime = await open_runtime(
        Settings(token="", database_url=f"sqlite+aiosqlite:///{tmp_path / 'studybot.db'}"), migrate=False
    )
    try:
        async with runtime.sessionmaker() as session:
            rows = (await session.execute(select(db.ScheduledEventLink))).scalars()
            # A row with no event id is a creation claim, not a record of an event.
            return {row.original_date.isoformat(): row.discord_event_id for row in rows if row.discord_event_id}
    finally:
        await runtime.close()


async def test_kills_between_create_and_record_leave_one_event_per_session(tmp_path: Path, standin: StandIn) -> None:
    world = standin.defaults
    assert world is not None
    config, public_id = await prepare(tmp_path, standin)
    log = tmp_path / "bot.log"

    def events() -> list[dict[str, object]]:
        return list(standin.scheduled_events(world.guild_id))

    # Two kills, each right after a create reached the stand-in and before the bot heard back.
    for round_ in (1, 2):
        hold = standin.faults.hold("POST", CREATE, count=1)
        process = await spawn(config, log=log)
        try:
            await standin.wait_until(lambda h=hold: h.held == 1, timeout=30, what="a held create")
        finally:
            await kill(process)
        standin.faults.clear()
        assert len(events()) == round_  # Discord has the new event…
        assert len(await recorded(tmp_path)) == round_ - 1  # …the bot never recorded it (round 2: adopted 1)

    process = await spawn(config, log=log)
    try:
        await standin.wait_until(lambda: len(events()) >= 4, timeout=30, what="four events")
        for _ in range(120):
            rows = await recorded(tmp_path)
            if len(rows) == 4:
                break
            await asyncio.sleep(0.25)
    finally:
        await kill(process)

    listed = events()
    markers = [read_marker(str(e.get("description") or "")) for e in listed]
    assert all(m is not None and m[0] == public_id for m in markers), log.read_text()
    dates = sorted(m[1].isoformat() for m in markers if m is not None)
    assert len(listed) == 4, [e["name"] for e in listed]
    assert len(set(dates)) == 4  # one event per session, none twice
    rows = await recorded(tmp_path)
    assert sorted(rows) == dates
    assert sorted(rows.values()) == sorted(int(str(e["id"])) for e in listed)

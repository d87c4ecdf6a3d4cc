"""Several `studybot run` processes: shards split over processes on one PostgreSQL post every reminder exactly
once and only from the owner — also when two processes are given the same shards (a rolling restart) —
while two processes on one SQLite file refuse to start, and an edit made through another process reaches a
running one within its reload period.

The bots run as separate processes (`python -m bot run --shards …`) against the in-test stand-in, with the
system clock; every study is shaped so that its reminder is already due when the processes start.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import tomli_w
from sqlalchemy import select, update

from bot.clock import FrozenClock, ShiftedClock
from bot.config import Settings
from bot.core.definition import StudyDefinition, load_definition
from bot.core.sharding import shard_of
from bot.db import models as db
from bot.offline import BUNDLED_STUDY, start_bot
from bot.runtime import open_runtime
from bot.services.base import Actor
from standin import StandIn
from tests.e2e.procs import default_world_config, kill, spawn, text_of

pytestmark = pytest.mark.e2e
SHARDS = 6
STUDIES = 60


def due_now_definition(start: datetime | None = None) -> StudyDefinition:
    """The bundled study with a session 40 minutes from now (or at `start`, a whole minute) and a 1h reminder:
    due (20 minutes ago) now, or an hour before `start`."""
    start = start or datetime.now(UTC) + timedelta(minutes=40)
    start_local = start.astimezone(ZoneInfo("Asia/Seoul"))
    return replace(
        load_definition(BUNDLED_STUDY),
        weekday=start_local.weekday(),
        first_session=start_local.date(),
        start_time=start_local.time().replace(second=0, microsecond=0),
        reminder_offsets_minutes=(60,),
    )


async def many_studies(
    standin: StandIn,
    url: str,
    *,
    count: int = STUDIES,
    definition: StudyDefinition | None = None,
    practice_off: bool = True,
) -> dict[int, int]:
    """`count` servers spread evenly over the shards, each with a study whose reminder is due (or the study
    `definition`); guild → channel. `practice_off`: the practice posts switched off, for a study whose session
    is so near that its nudge would be due too."""
    channels: dict[int, int] = {}
    for n in range(count):
        guild_id = ((5000 + n) << 22) | 7  # shard n % SHARDS
        standin.add_guild(guild_id, name=f"study server {n}")
        channels[guild_id] = standin.add_channel(guild_id, "reminders")
    definition = definition or due_now_definition()
    runtime = await open_runtime(
        Settings(token="", database_url=url), clock=FrozenClock(datetime.now(UTC) - timedelta(days=1))
    )
    together = asyncio.Semaphore(4)  # a few imports at a time: the database serves them in parallel

    async def import_one(guild_id: int, channel_id: int) -> None:
        async with together:
            await runtime.services.definitions.import_definition(
                guild_id=guild_id, definition=definition, actor=Actor.cli(), reminder_channel_id=channel_id
            )

    try:
        await asyncio.gather(*(import_one(g, c) for g, c in channels.items()))
        if practice_off:
            await runtime.directory.load_all()
            for guild_id in channels:
                # This test is about reminders: the practice posts (a nudge would be due as well) are off.
                await runtime.services.attendance.update_practice(
                    guild_id=guild_id, actor=Actor.cli(), nudge_offset=0, recap=False, checkin_post=False
                )
    finally:
        await runtime.close()
    return channels


async def move_sessions(url: str, start: datetime) -> None:
    """Every study's first session at `start` (a whole minute), one 1h reminder, its practice posts off —
    written straight into the table before any process runs (as fast for 1,000 studies as for one)."""
    shaped = due_now_definition(start)
    runtime = await open_runtime(Settings(token="", database_url=url), migrate=False)
    try:
        async with runtime.sessionmaker() as session, session.begin():
            await session.execute(
                update(db.Study).values(
                    weekday=shaped.weekday,
                    first_session=shaped.first_session,
                    start_time=shaped.start_time.strftime("%H:%M"),
                    reminder_offsets="60",
                    nudge_offset_minutes=0,
                    recap_enabled=False,
                    checkin_post_enabled=False,
                )
            )
    finally:
        await runtime.close()


async def sent_by_guild(url: str) -> dict[int, list[str]]:
    """The ledger, read from outside the processes: each study's rows' statuses by server."""
    runtime = await open_runtime(Settings(token="", database_url=url), migrate=False)
    try:
        async with runtime.sessionmaker() as session:
            query = select(db.Study.guild_id, db.Delivery.status).join(db.Study, db.Study.id == db.Delivery.study_id)
            rows = (await session.execute(query)).all()
    finally:
        await runtime.close()
    out: dict[int, list[str]] = {}
    for guild_id, status in rows:
        out.setdefault(guild_id, []).append(status)
    return out


async def wait_all_sent(url: str, guilds: set[int], *, timeout: float) -> dict[int, list[str]]:  # noqa: ASYNC109
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        ledger = await sent_by_guild(url)
        if all(ledger.get(g) == ["sent"] for g in guilds):
            return ledger
        if asyncio.get_running_loop().time() > deadline:
            missing = sorted(g for g in guilds if ledger.get(g) != ["sent"])
            raise TimeoutError(f"{len(missing)} studies not sent: {[ledger.get(g) for g in missing[:5]]}")
        await asyncio.sleep(0.2)


def shared_config(path: Path, standin: StandIn, url: str, channels: dict[int, int], *, level: str = "WARNING") -> Path:
    """One config for every process: the stand-in, the database, a `[[study]]` per server in `channels`."""
    config = {
        "discord": {
            "token": standin.app.token,
            "api_base_url": standin.api_base_url,
            "gateway_url": standin.gateway_url,
        },
        "database": {"url": url},
        "logging": {"level": level},
        "study": [{"guild_id": g, "reminder_channel_id": c} for g, c in channels.items()],
    }
    path.write_text(tomli_w.dumps(config), encoding="utf-8")
    return path


async def spawn_shards(config: Path, shards: str, log: Path) -> asyncio.subprocess.Process:
    return await spawn(config, log=log, shards=shards, database_from_env=False)


@pytest.mark.timeout(600)
async def test_shards_over_processes_post_each_reminder_once_from_the_owner(
    tmp_path: Path, standin: StandIn, pg_url: str
) -> None:
    channels = await many_studies(standin, pg_url)
    config = shared_config(tmp_path / "config.toml", standin, pg_url, channels)
    first_two = {g for g in channels if shard_of(g, SHARDS) in (0, 1)}
    assert len(first_two) == STUDIES // 3
    processes: list[asyncio.subprocess.Process] = []
    try:
        # A rolling restart's overlap: two processes given the same shards, started together, race for
        # the same due reminders. The ledger's claim lets one of them post each.
        for _ in range(2):
            processes.append(await spawn_shards(config, "0-1/6", tmp_path / "bots.log"))
        ledger = await wait_all_sent(pg_url, first_two, timeout=240)
        # Only the owners claimed: no other server's reminder was even attempted.
        assert set(ledger) == first_two
        await standin.wait_until(lambda: sum(len(standin.messages(channels[g])) for g in first_two) >= len(first_two))

        # The other shards' processes join: each of their studies is posted once, by them.
        for shards in ("2-3/6", "4-5/6"):
            processes.append(await spawn_shards(config, shards, tmp_path / "bots.log"))
        ledger = await wait_all_sent(pg_url, set(channels), timeout=240)
        assert set(ledger) == set(channels)
        await standin.wait_until(lambda: all(standin.messages(c) for c in channels.values()), timeout=30)
        posted = {g: [m.content for m in standin.messages(c)] for g, c in channels.items()}
        assert {g: len(m) for g, m in posted.items() if len(m) != 1} == {}
        assert all(processes_alive(processes))
    finally:
        for process in processes:
            await kill(process)
    for process in processes:
        assert process.returncode is not None


def processes_alive(processes: list[asyncio.subprocess.Process]) -> list[bool]:
    return [p.returncode is None for p in processes]


async def test_second_process_on_one_sqlite_file_refuses_to_start(tmp_path: Path, standin: StandIn) -> None:
    world = standin.defaults
    assert world is not None
    config = default_world_config(tmp_path, standin)
    first = await spawn(config)
    try:
        await standin.wait_for_session(timeout=30)  # the first one is serving
        log = tmp_path / "second.log"
        second = await spawn(config, log=log, database_from_env=False)
        await asyncio.wait_for(second.wait(), 60)
        assert second.returncode == 1
        message = text_of(log)
        assert "already serving the SQLite database" in message
        assert "PostgreSQL" in message
        assert "Traceback" not in message
        assert first.returncode is None  # the first one keeps serving
    finally:
        await kill(first)


async def test_edit_through_another_process_arrives_within_the_reload_period(
    tmp_path: Path, standin: StandIn, clock: ShiftedClock
) -> None:
    world = standin.defaults
    assert world is not None
    config = default_world_config(tmp_path, standin)
    text = config.read_text(encoding="utf-8").replace("[database]\n", "[database]\nreload_seconds = 1\n")
    config.write_text(text, encoding="utf-8")
    offline = await start_bot(config, standin=standin, clock=clock, backoff_base=0.05)
    try:
        assert offline.bot.reload_seconds == 1.0
        other = await open_runtime(offline.runtime.settings, clock=clock)
        try:
            renamed = replace(load_definition(BUNDLED_STUDY), name="다른 프로세스에서 바꾼 이름")
            await other.services.definitions.import_definition(
                guild_id=world.guild_id, definition=renamed, actor=Actor.cli()
            )
        finally:
            await other.close()
        loop = asyncio.get_running_loop()
        edited_at = loop.time()

        def seen() -> bool:
            snap = offline.runtime.directory.by_guild(world.guild_id)
            return snap is not None and snap.name == renamed.name

        while not seen():
            assert loop.time() - edited_at < 10, "the edit did not arrive"
            await asyncio.sleep(0.05)
        assert loop.time() - edited_at < 3  # the reload period (1 s) and a little
    finally:
        await offline.stop()

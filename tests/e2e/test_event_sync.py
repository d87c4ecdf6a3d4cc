"""Server events of the bundled study as the real bot writes them to the stand-in: descriptions that never end
in half a link, and a restart that cleans up duplicated and vanished events instead of adding more."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from bot.clock import ShiftedClock
from bot.delivery.event_plan import DESCRIPTION_LIMIT, read_marker
from bot.i18n import t
from bot.offline import start_bot, start_offline
from standin import StandIn
from standin.state import Json


def by_date(events: list[Json]) -> dict[date, list[Json]]:
    result: dict[date, list[Json]] = {}
    for event in events:
        marker = read_marker(event.get("description"))
        assert marker is not None, event
        result.setdefault(marker[1], []).append(event)
    return result


async def test_descriptions_drop_whole_material_lines_never_half_a_link(
    tmp_path: Path, standin: StandIn, clock: ShiftedClock
) -> None:
    world = standin.defaults
    assert world is not None
    offline = await start_offline(tmp_path, standin=standin, clock=clock)
    try:
        await standin.wait_until(lambda: len(standin.scheduled_events(world.guild_id)) == 4, timeout=15)
        snap = offline.runtime.directory.by_guild(world.guild_id)
        assert snap is not None
        events = sorted(standin.scheduled_events(world.guild_id), key=lambda e: e["scheduled_start_time"])
        dropped_by_week: dict[int, int] = {}
        for number, event in enumerate(events, start=1):
            description = str(event["description"])
            assert len(description) <= DESCRIPTION_LIMIT
            week = snap.week(number)
            assert week is not None
            expected = [f"• {m.title_for('ko')}: {m.url}" for m in week.materials]
            header, *body, marker = description.split("\n")
            assert header == t("ko", "events.description", study=snap.name)
            assert read_marker(marker) == (snap.public_id, date.fromisoformat(event["scheduled_start_time"][:10]))
            shown = [line for line in body if line.startswith("• ")]
            assert shown == expected[: len(shown)]  # each material line whole: its link complete
            dropped = len(expected) - len(shown)
            dropped_by_week[number] = dropped
            if dropped:
                assert body[-1] == t("ko", "events.more", count=dropped, week=number)
                assert "/자료 주차:" in body[-1]
            else:
                assert body == expected
        # Weeks 2 and 4 of the bundled study have more material than fits; weeks 1 and 3 fit.
        assert dropped_by_week[2] > 0 and dropped_by_week[4] > 0
        assert dropped_by_week[1] == 0 and dropped_by_week[3] == 0
    finally:
        await offline.stop()


async def test_restart_deletes_duplicates_and_replaces_vanished_events(
    tmp_path: Path, standin: StandIn, clock: ShiftedClock
) -> None:
    world = standin.defaults
    assert world is not None
    guild = standin.world.guilds[world.guild_id]
    offline = await start_offline(tmp_path, standin=standin, clock=clock)
    await standin.wait_until(lambda: len(guild.scheduled_events) == 4, timeout=15)
    await offline.bot.events.sync_all()  # the four are recorded once this returns
    await offline.stop()

    first, second, *_ = sorted(guild.scheduled_events.values(), key=lambda e: e["scheduled_start_time"])
    # While the bot was down: the first event exists three times — a copy with the marker (a crash between
    # create and record) and one without (left by a version that wrote no marker) — and the second was
    # deleted by hand.
    copy_id = standin.world.snowflakes.next()
    guild.scheduled_events[copy_id] = {**first, "id": str(copy_id)}
    unmarked_id = standin.world.snowflakes.next()
    legacy_description = str(first["description"]).rsplit("\n", 1)[0]
    guild.scheduled_events[unmarked_id] = {**first, "id": str(unmarked_id), "description": legacy_description}
    del guild.scheduled_events[int(second["id"])]
    gone_day = next(iter(by_date([second])))

    restarted = await start_bot(offline.config_path, standin=standin, clock=clock)
    try:

        def settled() -> bool:
            if len(guild.scheduled_events) != 4 or unmarked_id in guild.scheduled_events:
                return False
            days = by_date(list(guild.scheduled_events.values()))
            return len(days) == 4 and gone_day in days

        await standin.wait_until(settled, timeout=15, what="one event per session")
        await restarted.bot.events.sync_all()
        days = by_date(list(guild.scheduled_events.values()))
        assert all(len(events) == 1 for events in days.values())
        assert int(first["id"]) in guild.scheduled_events  # the recorded one stays, its copy is deleted
        assert copy_id not in guild.scheduled_events and unmarked_id not in guild.scheduled_events
        assert int(second["id"]) not in guild.scheduled_events
    finally:
        await restarted.stop()


async def test_a_create_retried_after_a_lost_answer_is_not_left_doubled(
    tmp_path: Path, standin: StandIn, clock: ShiftedClock
) -> None:
    # Discord creates the event but answers 500; discord.py retries the POST, which creates it again.
    world = standin.defaults
    assert world is not None
    guild = standin.world.guilds[world.guild_id]
    standin.faults.server_error("POST", r"^/guilds/\d+/scheduled-events$", count=1, after_handling=True)
    offline = await start_offline(tmp_path, standin=standin, clock=clock)
    try:
        await standin.wait_until(lambda: len(guild.scheduled_events) == 5, timeout=15, what="four events + a double")
        await offline.bot.events.sync_all()  # the next sync lists the events and deletes the double
        days = by_date(list(guild.scheduled_events.values()))
        assert len(guild.scheduled_events) == 4
        assert all(len(events) == 1 for events in days.values())
    finally:
        await offline.stop()

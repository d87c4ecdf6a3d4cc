"""The .ics feed across real edits, read back by an independent iCalendar parser (`ical`, not the library that
writes it): SEQUENCE grows with every change of an event, even two in the same minute; DTSTAMP is the time of
the last revision, not of the export; UIDs are stable within a deployment and unique across deployments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from pathlib import Path

from ical.calendar_stream import IcsCalendarStream

from bot.clock import FrozenClock
from bot.config import Settings
from bot.core.definition import load_definition
from bot.render.calendar import study_calendar
from bot.runtime import Runtime, open_runtime
from bot.services.base import Actor
from bot.services.settings import SettingsChange
from tests.conftest import ADMIN, GUILD_ID, SEED_STUDY

WEEK_2 = date(2026, 12, 10)
WEEK_3 = date(2026, 12, 17)


@dataclass(frozen=True)
class Parsed:
    uid: str
    sequence: int
    dtstamp: datetime
    start: datetime
    status: str


def parse(ics: bytes) -> dict[date, Parsed]:
    """The feed's events by the date in their UID, as `ical` reads them."""
    calendar = IcsCalendarStream.calendar_from_ics(ics.decode("utf-8"))
    events: dict[date, Parsed] = {}
    for event in calendar.events:
        day = datetime.strptime(event.uid.split("@")[0].rsplit("-", 1)[1], "%Y%m%d").date()  # noqa: DTZ007
        assert isinstance(event.dtstart, datetime)
        events[day] = Parsed(
            uid=event.uid,
            sequence=int(event.sequence or 0),
            dtstamp=event.dtstamp,
            start=event.dtstart,
            status=str(event.status.value if event.status else ""),
        )
    return events


def export(rt: Runtime) -> bytes:
    snap = rt.directory.by_guild(GUILD_ID)
    assert snap is not None
    return study_calendar(snap, now=rt.clock.now())


def clock_of(rt: Runtime) -> FrozenClock:
    assert isinstance(rt.clock, FrozenClock)
    return rt.clock


async def test_every_change_raises_sequence_even_within_one_minute(runtime: Runtime) -> None:
    clock = clock_of(runtime)
    feeds = [parse(export(runtime))]
    assert all(e.status == "CONFIRMED" for e in feeds[0].values())
    clock.advance(timedelta(minutes=5))

    # Four edits within the same minute: a new start time moves every slot, then one slot is cancelled,
    # restored and moved. Each is a new revision of the event (or of all of them) and must raise SEQUENCE.
    await runtime.services.settings.update(
        guild_id=GUILD_ID, actor=ADMIN, change=SettingsChange(start_time=time(10, 0))
    )
    feeds.append(parse(export(runtime)))
    clock.advance(timedelta(seconds=5))
    await runtime.services.sessions.cancel(guild_id=GUILD_ID, actor=ADMIN, day=WEEK_2, reason="휴강")
    feeds.append(parse(export(runtime)))
    clock.advance(timedelta(seconds=5))
    await runtime.services.sessions.restore(guild_id=GUILD_ID, actor=ADMIN, day=WEEK_2)
    feeds.append(parse(export(runtime)))
    clock.advance(timedelta(seconds=5))
    await runtime.services.sessions.move(guild_id=GUILD_ID, actor=ADMIN, day=WEEK_2, new_day=date(2026, 12, 11))
    feeds.append(parse(export(runtime)))

    initial, retimed, cancelled, restored, moved = feeds
    # The new start time is a significant change of every event.
    for day, event in retimed.items():
        assert event.sequence > initial[day].sequence
        assert event.start.hour == 10
    assert cancelled[WEEK_2].status == "CANCELLED"
    assert cancelled[WEEK_2].sequence > retimed[WEEK_2].sequence
    assert restored[WEEK_2].status == "CONFIRMED"
    assert restored[WEEK_2].sequence > cancelled[WEEK_2].sequence
    assert moved[WEEK_2].start.date() == date(2026, 12, 11)
    assert moved[WEEK_2].sequence > restored[WEEK_2].sequence
    # No event's SEQUENCE ever goes back, and every UID stays the same from export to export.
    for before, after in pairwise(feeds):
        for day, event in after.items():
            if day in before:
                assert event.sequence >= before[day].sequence
                assert event.uid == before[day].uid
    # DTSTAMP is the last revision: all four edits happened within one minute of each other.
    assert {e.dtstamp for e in moved.values()} == {clock.now()}


async def test_dtstamp_is_the_last_revision_not_the_export_time(runtime: Runtime) -> None:
    clock = clock_of(runtime)
    first = export(runtime)
    clock.advance(timedelta(days=1, minutes=7))
    second = export(runtime)
    assert first == second  # nothing changed: the same bytes, DTSTAMP included
    stamps = {e.dtstamp for e in parse(second).values()}
    assert len(stamps) == 1 and stamps.pop() < clock.now()

    await runtime.services.sessions.cancel(guild_id=GUILD_ID, actor=ADMIN, day=WEEK_3)
    edited_at = clock.now()
    clock.advance(timedelta(hours=3))
    after = parse(export(runtime))
    assert {e.dtstamp for e in after.values()} == {edited_at}
    assert export(runtime) == export(runtime)


async def test_uids_differ_between_two_deployments_of_the_same_definition(runtime: Runtime, tmp_path: Path) -> None:
    other = await open_runtime(
        Settings(token="", database_url=f"sqlite+aiosqlite:///{tmp_path / 'other-deployment.db'}"),
        clock=FrozenClock(clock_of(runtime).now()),
    )
    try:
        await other.services.definitions.import_definition(
            guild_id=GUILD_ID, definition=load_definition(SEED_STUDY), actor=Actor.cli()
        )
        await other.directory.load_all()
        ours, theirs = parse(export(runtime)), parse(export(other))
    finally:
        await other.close()
    assert ours.keys() == theirs.keys()  # the same sessions…
    assert not {e.uid for e in ours.values()} & {e.uid for e in theirs.values()}  # …under different UIDs
    # Within one deployment a UID never embeds the row id; it names the study by its public id.
    snap = runtime.directory.by_guild(GUILD_ID)
    assert snap is not None and snap.public_id
    assert all(e.uid == f"{snap.public_id}-{day:%Y%m%d}@studybot" for day, e in ours.items())

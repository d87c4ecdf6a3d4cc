"""Keep the next sessions as native Discord scheduled events (EXTERNAL, at the study's place).

discord.py 2.7 cannot set a recurrence rule, so each upcoming session is its own event; the
`scheduled_event` table remembers which Discord event stands for which session and what was last sent,
so only real changes cause API calls. Missing Manage Events is reported to admins, never raised.

Crash safety: an event is created on Discord first and recorded here second. Each event's description
ends in a marker line (study public id + session date), and before creating anything — and once per
study after every start — the guild's event list is read and the bot's own events are adopted or, when
duplicated, deleted (`event_plan.reconcile`). A kill between "created" and "recorded" therefore never
leads to a second event for the same session.

Several processes (a rolling restart's overlap) may hold the same study. Creation is claim-first: a process
inserts the session's row with no event id yet (the UNIQUE (study, session date) row is the claim) before it
asks Discord, and only the process whose insert succeeded creates the event; the others leave that session
alone while the claim is fresh. A claim older than `CLAIM_TTL` (its process died before recording) is released
and the session reconciled again: an event it did create is adopted by its marker, not created twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import aiohttp
import discord
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.core.model import StudySnapshot
from bot.core.schedule import Session, build_schedule
from bot.db.models import ScheduledEventLink
from bot.db.repositories import EventLinkRepository
from bot.delivery.event_plan import (
    EventSpec,
    FoundEvent,
    diff_events,
    event_marker,
    fingerprint,
    ongoing_dates,
    plan_events,
    read_marker,
    reconcile,
)
from bot.delivery.pacing import Priority
from bot.i18n import t
from bot.services.directory import StudyDirectory

if TYPE_CHECKING:
    from bot.app import StudyBot
    from bot.delivery.runner import ReminderRunner

log = logging.getLogger(__name__)

EVENTS_AHEAD = 4
# Scheduled-event calls draw on the process's one rate budget (the reminder runner's gate), after every
# reminder and notice waiting for a slot: a first sync of many servers runs at the full budget when nothing
# is due, and steps aside within a slot when a reminder minute comes.
PROBLEM_KEY = "events"
# A creation claim: the session's row before its event exists (event id 0, this prefix and the claim time).
CLAIM_PREFIX = "claim:"
CLAIM_TTL = timedelta(minutes=2)  # far longer than a create takes, even paced behind a fan-out


def claimed_at(printed: str) -> datetime | None:
    """When a row's creation claim was made; None for the row of an existing event."""
    if not printed.startswith(CLAIM_PREFIX):
        return None
    try:
        return datetime.fromisoformat(printed.removeprefix(CLAIM_PREFIX))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)  # unreadable: as good as stale


def event_name(snap: StudySnapshot, session: Session) -> str:
    week = snap.week(session.week or 0)
    topic = week.title_for(snap.locale) if week else ""
    return t(snap.locale, "events.name", week=session.week, topic=topic)


def event_description(snap: StudySnapshot, session: Session) -> list[str]:
    """The description's lines: a header, then one line per material (each ends in its link)."""
    week = snap.week(session.week or 0)
    lines = [t(snap.locale, "events.description", study=snap.name)]
    if week:
        lines += [f"• {m.title_for(snap.locale)}: {m.url}" for m in week.materials]
    return lines


def event_more(snap: StudySnapshot, session: Session, count: int) -> str:
    """The line that replaces material lines that do not fit: how many, and where to find them."""
    return t(snap.locale, "events.more", count=count, week=session.week or "")


def event_location(snap: StudySnapshot) -> str:
    url = snap.place.url
    return url if url and len(url) <= 100 else snap.place.name


LIVE_STATUSES = (1, 2)  # SCHEDULED, ACTIVE: the only events that can still be edited or deleted


def own_event(
    data: dict[str, Any], *, public_id: str, bot_id: int | None, unmarked: Mapping[datetime, date] | None = None
) -> FoundEvent | None:
    """`data` (an event as Discord lists it) as one of this study's events, or None if it is not one.

    Ours means: created by this bot, and its description ends in this study's marker. The creator check
    keeps the bot from adopting or deleting an event a member made by copying a description. Events that
    versions before the marker created carry none: such an event of this bot counts as the event of the
    session whose start it has (`unmarked`: start → original date), so the doubles they left are cleaned
    up too. An event with another study's marker (another deployment using the same bot) is never ours."""
    if bot_id is None or str(data.get("creator_id")) != str(bot_id):
        return None
    marker = read_marker(data.get("description"))
    if marker is None:
        try:
            start = datetime.fromisoformat(str(data.get("scheduled_start_time"))).astimezone(UTC)
        except ValueError:
            return None
        day = (unmarked or {}).get(start)
        if day is None:
            return None
        marker = (public_id, day)
    if marker[0] != public_id:
        return None
    try:
        spec = EventSpec(
            original_date=marker[1],
            name=str(data.get("name") or ""),
            description=str(data.get("description") or ""),
            location=str((data.get("entity_metadata") or {}).get("location") or ""),
            start=datetime.fromisoformat(str(data["scheduled_start_time"])).astimezone(UTC),
            end=datetime.fromisoformat(str(data["scheduled_end_time"])).astimezone(UTC),
        )
    except (KeyError, ValueError):
        return FoundEvent(event_id=int(data["id"]), original_date=marker[1], fingerprint="")
    return FoundEvent(event_id=int(data["id"]), original_date=marker[1], fingerprint=fingerprint(spec))


class EventSync:
    def __init__(
        self,
        *,
        bot: StudyBot,
        directory: StudyDirectory,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        reminders: ReminderRunner,
    ) -> None:
        self.bot = bot
        self.directory = directory
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.reminders = reminders
        self._locks: dict[int, asyncio.Lock] = {}
        self._reconciled: set[int] = set()  # studies whose links were checked against Discord since start
        self.gate = reminders.gate  # one budget per process; events wait behind reminders

    async def on_study_changed(self, study_id: int, timing: bool) -> None:
        if self.bot.is_ready():
            await self.sync(study_id)

    async def sync_all(self) -> None:
        for snap in self.directory.all():
            try:
                await self.sync(snap.id)
            except Exception:
                log.exception("server events of study %s could not be synced", snap.id)

    def desired(self, snap: StudySnapshot) -> list[EventSpec]:
        schedule = build_schedule(snap.recurrence, snap.changes, snap.week_count)
        return plan_events(
            schedule,
            now=self.clock.now(),
            count=EVENTS_AHEAD,
            name_for=lambda s: event_name(snap, s),
            description_for=lambda s: event_description(snap, s),
            more_for=lambda s, count: event_more(snap, s, count),
            marker_for=lambda s: event_marker(snap.public_id, s.original_date),
            location=event_location(snap),
        )

    async def sync(self, study_id: int) -> None:
        lock = self._locks.setdefault(study_id, asyncio.Lock())
        async with lock:
            snap = self.directory.by_id(study_id)
            if snap is None or self.bot.get_guild(snap.guild_id) is None:
                return
            try:
                await self._sync(snap)
            except discord.Forbidden:
                self.reminders.problems.note(study_id, PROBLEM_KEY, "events.no_permission")
                return
            except (TimeoutError, discord.HTTPException, aiohttp.ClientError, OSError) as exc:
                log.warning("event sync for study %s failed: %s", study_id, exc)
                self.reminders.problems.note(study_id, PROBLEM_KEY, "events.failed", error=str(exc)[:150])
                return
            self.reminders.problems.note(study_id, PROBLEM_KEY, None)

    async def _sync(self, snap: StudySnapshot) -> None:
        async with self.sessionmaker() as session:
            rows = await EventLinkRepository.for_study(session, study_id=snap.id)
        links: dict[date, tuple[int, str]] = {}
        busy: set[date] = set()  # sessions another process is creating an event for right now
        now = self.clock.now()
        for link in rows:
            claimed = claimed_at(link.fingerprint)
            if claimed is None:
                links[link.original_date] = (link.discord_event_id, link.fingerprint)
            elif self.reminders.shared and now - claimed < CLAIM_TTL:
                busy.add(link.original_date)
            else:
                # One process alone never meets a claim of its own here (a study syncs under its lock, and a
                # failed create releases its claim): any it finds was left by a killed run. With several
                # processes, a claim is another's until it is stale.
                log.info("study %s: releasing a stale event claim for %s", snap.id, link.original_date)
                await self._release(snap.id, link.original_date)
        if busy:
            self._sync_again(snap.id, after=CLAIM_TTL)  # the claim is recorded by then, or stale
        schedule = build_schedule(snap.recurrence, snap.changes, snap.week_count)
        desired = [spec for spec in self.desired(snap) if spec.original_date not in busy]
        if snap.id not in self._reconciled or any(spec.original_date not in links for spec in desired):
            links = await self._reconcile(snap, links, desired, skip=busy)
            self._reconciled.add(snap.id)
        actions = diff_events(desired, links, keep=ongoing_dates(schedule, now=self.clock.now()))
        http = self.bot.http
        for event_id in actions.delete:
            try:
                async with self.gate.slot(Priority.EVENT):
                    await http.delete_scheduled_event(snap.guild_id, event_id)
            except discord.NotFound:
                pass  # already gone (deleted by hand or ended): just forget it
            await self._forget(snap.id, event_id)
        for event_id, spec in actions.update:
            try:
                async with self.gate.slot(Priority.EVENT):
                    await http.edit_scheduled_event(snap.guild_id, event_id, **self._payload(spec))
            except discord.NotFound:
                await self._forget(snap.id, event_id)
                actions.create.append(spec)
                continue
            await self._remember(snap.id, spec, event_id)
        if actions.create:
            # discord.py retries a create answered with a 5xx, and the failed attempt may have created the
            # event all the same: the next sync lists the guild's events again to delete any such double.
            self._reconciled.discard(snap.id)
        for spec in actions.create:
            if not await self._claim(snap.id, spec.original_date):
                continue  # another process holds the claim: it creates this one
            try:
                async with self.gate.slot(Priority.EVENT):
                    data = await http.create_guild_scheduled_event(snap.guild_id, **self._payload(spec))
            except BaseException:
                # Maybe created all the same: the released session is reconciled (adopted by marker) next time.
                await asyncio.shield(self._release(snap.id, spec.original_date))
                raise
            await self._remember(snap.id, spec, int(data["id"]))

    def _sync_again(self, study_id: int, *, after: timedelta) -> None:
        """Sync the study once more after `after` (on the reminder runner's scheduler, which a stop shuts down)."""
        scheduler = self.reminders.scheduler
        if not scheduler.running:
            return
        scheduler.add_job(
            self.sync,
            trigger=DateTrigger(run_date=datetime.now(UTC) + after + timedelta(seconds=1)),
            args=[study_id],
            id=f"events:again:{study_id}",
            replace_existing=True,
            misfire_grace_time=None,
            coalesce=True,
        )

    async def _reconcile(
        self,
        snap: StudySnapshot,
        links: dict[date, tuple[int, str]],
        desired: list[EventSpec],
        *,
        skip: set[date] | frozenset[date] = frozenset(),
    ) -> dict[date, tuple[int, str]]:
        """Check the recorded links against the guild's events; adopt or delete the bot's unrecorded ones.
        Events of the sessions in `skip` (claimed by another process, which records them) are left alone."""
        async with self.gate.slot(Priority.EVENT):
            raw: Any = await self.bot.http.get_scheduled_events(snap.guild_id, False)
        listed: list[dict[str, Any]] = list(raw)
        bot_id = self.bot.user.id if self.bot.user else None
        starts = {spec.start.astimezone(UTC): spec.original_date for spec in desired}
        live = [e for e in listed if int(e.get("status", 1)) in LIVE_STATUSES]
        found = [
            event
            for event in (own_event(e, public_id=snap.public_id, bot_id=bot_id, unmarked=starts) for e in live)
            if event is not None and event.original_date not in skip
        ]
        result = reconcile(
            links,
            found,
            listed_ids={int(e["id"]) for e in live},
            desired={spec.original_date: fingerprint(spec) for spec in desired},
        )
        for event_id in result.delete:
            log.info("study %s: deleting duplicate server event %s", snap.id, event_id)
            try:
                async with self.gate.slot(Priority.EVENT):
                    await self.bot.http.delete_scheduled_event(snap.guild_id, event_id)
            except discord.NotFound:
                pass
        for event_id in result.forget:
            await self._forget(snap.id, event_id)
        for day, event_id, printed in result.adopt:
            log.info("study %s: adopting server event %s for %s", snap.id, event_id, day)
            await self._record(snap.id, day, event_id, printed)
        return result.links

    @staticmethod
    def _payload(spec: EventSpec) -> dict[str, Any]:
        return {
            "name": spec.name,
            "description": spec.description,
            "entity_type": discord.EntityType.external.value,
            "privacy_level": discord.PrivacyLevel.guild_only.value,
            "entity_metadata": {"location": spec.location},
            "scheduled_start_time": spec.start.astimezone(UTC).isoformat(),
            "scheduled_end_time": spec.end.astimezone(UTC).isoformat(),
        }

    async def _remember(self, study_id: int, spec: EventSpec, event_id: int) -> None:
        await self._record(study_id, spec.original_date, event_id, fingerprint(spec))

    async def _record(self, study_id: int, day: date, event_id: int, printed: str) -> None:
        """The session's row now names `event_id` (replacing a claim or an older event's row)."""
        try:
            async with self.sessionmaker() as session, session.begin():
                await session.execute(
                    delete(ScheduledEventLink).where(
                        ScheduledEventLink.study_id == study_id, ScheduledEventLink.original_date == day
                    )
                )
                session.add(
                    ScheduledEventLink(
                        study_id=study_id, original_date=day, discord_event_id=event_id, fingerprint=printed
                    )
                )
        except IntegrityError:
            # Another process recorded the session at the same moment (both adopted one listed event): its row
            # stands, and the next sync reconciles the two if they named different events.
            log.info("study %s: the event of %s was recorded by another process", study_id, day)

    async def _claim(self, study_id: int, day: date) -> bool:
        """Claim the creation of the session's event; False when another process holds the row already."""
        printed = CLAIM_PREFIX + self.clock.now().isoformat()
        try:
            async with self.sessionmaker() as session, session.begin():
                session.add(
                    ScheduledEventLink(study_id=study_id, original_date=day, discord_event_id=0, fingerprint=printed)
                )
        except IntegrityError:
            return False
        return True

    async def _release(self, study_id: int, day: date) -> None:
        """Drop the session's creation claim (not a recorded event's row)."""
        async with self.sessionmaker() as session, session.begin():
            await session.execute(
                delete(ScheduledEventLink).where(
                    ScheduledEventLink.study_id == study_id,
                    ScheduledEventLink.original_date == day,
                    ScheduledEventLink.discord_event_id == 0,
                )
            )

    async def _forget(self, study_id: int, event_id: int) -> None:
        async with self.sessionmaker() as session, session.begin():
            await session.execute(
                delete(ScheduledEventLink).where(
                    ScheduledEventLink.study_id == study_id, ScheduledEventLink.discord_event_id == event_id
                )
            )

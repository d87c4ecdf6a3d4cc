"""Keep the next sessions as native Discord scheduled events (EXTERNAL, at the study's place).

discord.py 2.7 cannot set a recurrence rule, so each upcoming session is its own event; the
`scheduled_event` table remembers which Discord event stands for which session and what was last sent,
so only real changes cause API calls. Missing Manage Events is reported to admins, never raised.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC
from typing import TYPE_CHECKING, Any

import aiohttp
import discord
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.core.model import StudySnapshot
from bot.core.schedule import Session, build_schedule
from bot.db.models import ScheduledEventLink
from bot.db.repositories import EventLinkRepository
from bot.delivery.event_plan import EventSpec, diff_events, fingerprint, ongoing_dates, plan_events
from bot.delivery.pacing import RateGate
from bot.i18n import t
from bot.services.directory import StudyDirectory

if TYPE_CHECKING:
    from bot.app import StudyBot
    from bot.delivery.runner import ReminderRunner

log = logging.getLogger(__name__)

EVENTS_AHEAD = 4
# Scheduled-event calls share Discord's 50 requests/s with reminders (paced at 45/s): events get the rest.
# A first sync of 1,000 servers therefore takes ~22 minutes, which is fine: events are not time-critical.
EVENTS_PER_SECOND = 3.0
PROBLEM_KEY = "events"


def event_name(snap: StudySnapshot, session: Session) -> str:
    week = snap.week(session.week or 0)
    topic = week.title_for(snap.locale) if week else ""
    return t(snap.locale, "events.name", week=session.week, topic=topic)


def event_description(snap: StudySnapshot, session: Session) -> str:
    week = snap.week(session.week or 0)
    lines = [t(snap.locale, "events.description", study=snap.name)]
    if week:
        lines += [f"• {m.title_for(snap.locale)}: {m.url}" for m in week.materials]
    return "\n".join(lines)


def event_location(snap: StudySnapshot) -> str:
    url = snap.place.url
    return url if url and len(url) <= 100 else snap.place.name


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
        self.gate = RateGate(EVENTS_PER_SECOND)

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
            links = {
                link.original_date: link for link in await EventLinkRepository.for_study(session, study_id=snap.id)
            }
        schedule = build_schedule(snap.recurrence, snap.changes, snap.week_count)
        actions = diff_events(
            self.desired(snap),
            {day: (link.discord_event_id, link.fingerprint) for day, link in links.items()},
            keep=ongoing_dates(schedule, now=self.clock.now()),
        )
        http = self.bot.http
        for event_id in actions.delete:
            try:
                await self.gate.wait()
                await http.delete_scheduled_event(snap.guild_id, event_id)
            except discord.NotFound:
                pass  # already gone (deleted by hand or ended): just forget it
            await self._forget(snap.id, event_id)
        for event_id, spec in actions.update:
            try:
                await self.gate.wait()
                await http.edit_scheduled_event(snap.guild_id, event_id, **self._payload(spec))
            except discord.NotFound:
                await self._forget(snap.id, event_id)
                actions.create.append(spec)
                continue
            await self._remember(snap.id, spec, event_id)
        for spec in actions.create:
            await self.gate.wait()
            data = await http.create_guild_scheduled_event(snap.guild_id, **self._payload(spec))
            await self._remember(snap.id, spec, int(data["id"]))

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
        async with self.sessionmaker() as session, session.begin():
            await session.execute(
                delete(ScheduledEventLink).where(
                    ScheduledEventLink.study_id == study_id, ScheduledEventLink.original_date == spec.original_date
                )
            )
            session.add(
                ScheduledEventLink(
                    study_id=study_id,
                    original_date=spec.original_date,
                    discord_event_id=event_id,
                    fingerprint=fingerprint(spec),
                )
            )

    async def _forget(self, study_id: int, event_id: int) -> None:
        async with self.sessionmaker() as session, session.begin():
            await session.execute(
                delete(ScheduledEventLink).where(
                    ScheduledEventLink.study_id == study_id, ScheduledEventLink.discord_event_id == event_id
                )
            )

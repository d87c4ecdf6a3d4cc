"""Study settings: reminder channel and role, weekly time, place, offsets, language; pause and resume."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Any

from bot.core import validation as rules
from bot.db import models as db
from bot.db.repositories import SessionChangeRepository
from bot.errors import UserError
from bot.services.base import Actor, Service
from bot.services.directory import offsets_to_db

WEEKDAYS = rules.WEEKDAYS


@dataclass(frozen=True, slots=True)
class SettingsChange:
    """What `/admin settings` may change; None leaves a value as it is."""

    channel_id: int | None = None
    ping_role_id: int | None = None
    clear_ping_role: bool = False
    admin_role_id: int | None = None
    clear_admin_role: bool = False
    weekday: int | None = None
    start_time: time | None = None
    duration_minutes: int | None = None
    place_name: str | None = None
    place_url: str | None = None
    offsets: tuple[timedelta, ...] | None = None
    locale: str | None = None
    first_session: date | None = None

    def empty(self) -> bool:
        flags = ("clear_ping_role", "clear_admin_role")
        return not any(getattr(self, name) for name in flags) and all(
            getattr(self, name) is None for name in self.__slots__ if name not in flags
        )


def settings_state(study: db.Study) -> dict[str, Any]:
    return {
        "channel": study.reminder_channel_id,
        "ping_role": study.ping_role_id,
        "admin_role": study.admin_role_id,
        "weekday": WEEKDAYS[study.weekday],
        "start_time": study.start_time,
        "duration": study.duration_minutes,
        "place": study.location_name,
        "place_url": study.location_url,
        "offsets": study.reminder_offsets,
        "locale": study.locale,
        "first_session": study.first_session.isoformat(),
        "paused": study.paused,
    }


class SettingsService(Service):
    async def update(self, *, guild_id: int | None, actor: Actor, change: SettingsChange) -> dict[str, Any]:
        if change.empty():
            raise UserError("settings.nothing_to_change")
        # The rulebook's checks, the same the definition file and the config go through.
        place_name = rules.clean_name(change.place_name, field="place") if change.place_name is not None else None
        place_url = rules.clean_url(change.place_url, field="place_url") if change.place_url is not None else None
        if change.duration_minutes is not None:
            rules.check_duration(change.duration_minutes, field="duration")
        locale = rules.check_locale(change.locale, field="language") if change.locale is not None else None
        if guild_id is not None:
            rules.check_ping_role(change.ping_role_id, guild_id=guild_id, field="role")
            rules.check_ping_role(change.admin_role_id, guild_id=guild_id, field="admin_role")
        if change.first_session is not None:
            rules.check_date_range(change.first_session, self.clock.now().date(), field="first_session")
        async with self.edit_study(guild_id) as (session, study):
            before = settings_state(study)
            weekday = study.weekday if change.weekday is None else change.weekday
            if change.first_session is not None:
                first_session = rules.check_first_session(change.first_session, weekday, field="first_session")
            else:
                # Only the weekday changed: the schedule starts on the first such day on or after the stored
                # first session, so that is the date stored (and shown) — never a date stored nowhere.
                first_session = rules.first_on_weekday(study.first_session, weekday)
            if change.weekday is not None and change.weekday != study.weekday:
                pending = [
                    c
                    for c in await SessionChangeRepository.for_study(session, study_id=study.id)
                    if c.original_date >= self.clock.now().date() and (c.cancelled or c.moved_to is not None)
                ]
                if pending:
                    # Cancellations and moves are keyed by the old weekday's dates: they would silently stop
                    # applying (and could not be restored). Make the admin decide about them first.
                    dates = ", ".join(c.original_date.isoformat() for c in pending[:10])
                    raise UserError("settings.weekday_has_changes", dates=dates)
            if change.channel_id is not None:
                study.reminder_channel_id = change.channel_id
            if change.clear_ping_role:
                study.ping_role_id = None
            elif change.ping_role_id is not None:
                study.ping_role_id = change.ping_role_id
            if change.clear_admin_role:
                study.admin_role_id = None
            elif change.admin_role_id is not None:
                study.admin_role_id = change.admin_role_id
            if change.weekday is not None:
                study.weekday = change.weekday
            if change.start_time is not None:
                study.start_time = change.start_time.strftime("%H:%M")
            if change.duration_minutes is not None:
                study.duration_minutes = change.duration_minutes
            if place_name is not None:
                study.location_name = place_name
            if place_url is not None:
                study.location_url = place_url
            if change.offsets is not None:
                study.reminder_offsets = offsets_to_db(change.offsets)
            if locale is not None:
                study.locale = locale
            study.first_session = first_session
            after = settings_state(study)
            self.audit(
                session,
                study=study,
                actor=actor,
                action="settings.update",
                target="settings",
                before=before,
                after=after,
            )
        return after

    async def set_paused(self, *, guild_id: int | None, actor: Actor, paused: bool) -> None:
        async with self.edit_study(guild_id) as (session, study):
            if study.paused == paused:
                raise UserError("reminders.already_paused" if paused else "reminders.not_paused")
            study.paused = paused
            self.audit(
                session,
                study=study,
                actor=actor,
                action="reminders.pause" if paused else "reminders.resume",
                target="reminders",
                before={"paused": not paused},
                after={"paused": paused},
            )

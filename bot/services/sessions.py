"""Session use cases: cancel, move or restore one session (named by its regular date)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.core.model import Recurrence, SessionChange
from bot.core.schedule import Session, build_schedule, overlapping, session_on, slot_start
from bot.core.validation import REASON_MAX, check_date_range, clean_text
from bot.db import models as db
from bot.db.repositories import SessionChangeRepository
from bot.errors import UserError
from bot.services.base import Actor, Service
from bot.services.directory import parse_hhmm


def change_state(change: db.SessionChange | None) -> dict[str, Any] | None:
    if change is None:
        return None
    return {
        "cancelled": change.cancelled,
        "moved_to": change.moved_to.isoformat() if change.moved_to else None,
        "reason": change.reason,
    }


def recurrence_of(study: db.Study) -> Recurrence:
    return Recurrence(
        weekday=study.weekday,
        start_time=parse_hhmm(study.start_time),
        duration=timedelta(minutes=study.duration_minutes),
        timezone=study.timezone,
        first_date=study.first_session,
    )


def change_of(row: db.SessionChange) -> SessionChange:
    return SessionChange(original_date=row.original_date, cancelled=row.cancelled, moved_to=row.moved_to)


def clash_after(
    rec: Recurrence, changes: list[SessionChange], change: SessionChange, week_count: int
) -> Session | None:
    """The session that `change` (replacing any change of its date) would put its session on top of."""
    others = [c for c in changes if c.original_date != change.original_date]
    after = build_schedule(rec, [*others, change], week_count)
    changed = session_on(after, change.original_date)
    return overlapping(after, changed) if changed is not None else None


class SessionService(Service):
    def _slot(self, guild_id: int | None, day: date) -> Session:
        snap = self.snapshot(guild_id)
        schedule = build_schedule(snap.recurrence, snap.changes, snap.week_count)
        slot = session_on(schedule, day)
        if slot is None:
            dates = ", ".join(s.original_date.isoformat() for s in schedule if s.end > self.clock.now())[:300]
            raise UserError("session.not_a_session", date=day.isoformat(), dates=dates or "-")
        if slot.start <= self.clock.now():
            raise UserError("session.past", date=day.isoformat())
        return slot

    async def cancel(self, *, guild_id: int | None, actor: Actor, day: date, reason: str = "") -> Session:
        slot = self._slot(guild_id, day)
        if slot.cancelled:
            raise UserError("session.already_cancelled", date=day.isoformat())
        await self._write(guild_id, actor, day, "session.cancel", cancelled=True, moved_to=None, reason=reason)
        return slot

    async def move(
        self,
        *,
        guild_id: int | None,
        actor: Actor,
        day: date,
        new_day: date,
        new_time: time | None = None,
        reason: str = "",
    ) -> datetime:
        """Move the session of `day` to `new_day` (at `new_time`, default the usual time).

        Refused, with nothing written: a move that changes nothing (the session already starts then), a move
        back to the usual time (that is a restore, which also clears the 🔀 mark), and a move onto the time of
        another session that is not cancelled. The clash check reads the session changes inside the locked
        transaction, so two admins moving sessions onto the same slot at once cannot both succeed."""
        self._slot(guild_id, day)
        snap = self.snapshot(guild_id)
        start_time = new_time or snap.recurrence.start_time
        check_date_range(new_day, self.clock.now().date(), field="new_date")
        moved_to = datetime.combine(new_day, start_time, tzinfo=ZoneInfo(snap.recurrence.timezone))
        if moved_to <= self.clock.now():
            raise UserError("session.move_in_past", when=moved_to.strftime("%Y-%m-%d %H:%M"))
        when = f"<t:{int(moved_to.timestamp())}:F>"

        def check(rec: Recurrence, changes: list[SessionChange]) -> None:
            current = session_on(build_schedule(rec, changes, snap.week_count), day)
            if current is None or current.start <= self.clock.now():
                raise UserError("session.past", date=day.isoformat())
            if not current.cancelled and current.start == moved_to:
                raise UserError("session.move_no_change", date=day.isoformat(), when=when)
            if moved_to == slot_start(rec, day):
                raise UserError("session.move_to_usual", date=day.isoformat())
            clash = clash_after(rec, changes, SessionChange(day, cancelled=False, moved_to=moved_to), snap.week_count)
            if clash is not None:
                raise UserError(
                    "session.move_clash",
                    when=when,
                    week=clash.week,
                    other=f"<t:{int(clash.start.timestamp())}:F>",
                )

        await self._write(
            guild_id, actor, day, "session.move", cancelled=False, moved_to=moved_to, reason=reason, check=check
        )
        return moved_to

    async def _write(
        self,
        guild_id: int | None,
        actor: Actor,
        day: date,
        action: str,
        *,
        cancelled: bool,
        moved_to: datetime | None,
        reason: str,
        check: Callable[[Recurrence, list[SessionChange]], None] | None = None,
    ) -> None:
        """Record a cancellation or a move of the slot on `day`, with its audit row.

        Cancelling a moved session keeps its new time: the cancel notice is timed against the start the
        members were last told about. `check` sees the study's weekly slot and its session changes as
        stored, inside the locked transaction, and raises to refuse the edit."""
        why = clean_text(reason, field="reason", limit=REASON_MAX) if reason.strip() else ""
        async with self.edit_study(guild_id) as (session, study):
            if check is not None:
                rows = await SessionChangeRepository.for_study(session, study_id=study.id)
                check(recurrence_of(study), [change_of(row) for row in rows])
            change = await SessionChangeRepository.on(session, study_id=study.id, original_date=day)
            before = change_state(change)
            now = self.clock.now()
            if change is None:
                change = db.SessionChange(
                    study_id=study.id, original_date=day, created_at=now, revision=0, cancelled=False
                )
                session.add(change)
            change.revision = (change.revision or 0) + 1
            change.updated_at = now
            change.cancelled = cancelled
            if not cancelled:
                change.moved_to = moved_to
            change.reason = why
            self.audit(
                session,
                study=study,
                actor=actor,
                action=action,
                target=day.isoformat(),
                before=before,
                after=change_state(change),
            )

    async def restore(self, *, guild_id: int | None, actor: Actor, day: date) -> None:
        """Put the session of `day` back at its usual time — refused when another session has been moved
        onto that time meanwhile (the two would overlap)."""
        self._slot(guild_id, day)
        week_count = self.snapshot(guild_id).week_count
        async with self.edit_study(guild_id) as (session, study):
            change = await SessionChangeRepository.on(session, study_id=study.id, original_date=day)
            if change is None or not (change.cancelled or change.moved_to):
                raise UserError("session.nothing_to_restore", date=day.isoformat())
            rows = await SessionChangeRepository.for_study(session, study_id=study.id)
            rec = recurrence_of(study)
            clash = clash_after(rec, [change_of(r) for r in rows], SessionChange(day, cancelled=False), week_count)
            if clash is not None:
                raise UserError(
                    "session.restore_clash",
                    date=day.isoformat(),
                    week=clash.week,
                    other=f"<t:{int(clash.start.timestamp())}:F>",
                )
            before = change_state(change)
            # The row stays, neither cancelled nor moved: its revision (the calendar's SEQUENCE) never goes back.
            change.cancelled = False
            change.moved_to = None
            change.reason = ""
            change.revision = (change.revision or 0) + 1
            change.updated_at = self.clock.now()
            self.audit(
                session,
                study=study,
                actor=actor,
                action="session.restore",
                target=day.isoformat(),
                before=before,
                after=change_state(change),
            )

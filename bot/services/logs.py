"""Study logs (스터디로그): each member's notes for a week — a link (GitHub, blog, any http(s) page) and a note.

A log is keyed by the session's *original* date, like attendance: when a session is cancelled the weeks
after it shift to later dates, and a moved session keeps its identity, so a log stays with the session it
was written for. "This week" is the same week `/week` shows: the first session that has not ended
(a cancelled one is skipped to the next). Members write only their own logs and must be linked to a
roster entry first.

Logs are not part of the in-memory snapshot (they grow every week): `/log board` and `/log mine` read
them per request with one indexed query each. Every change goes through `Service.edit_study` (study row
locked, one transaction, one audit row).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from bot.core.model import Member, StudySnapshot
from bot.core.schedule import Session, build_schedule, current_index, session_for_week, upcoming_or_ongoing
from bot.core.validation import clean_text, clean_url
from bot.db import models as db
from bot.db.repositories import MemberRepository, StudyLogRepository
from bot.errors import UserError
from bot.services.base import Actor, Service

NOTE_MAX = 200
LOGS_PER_WEEK_MAX = 5  # per member and week: notes plus a blog post or two, not a link dump
LOG_REF = re.compile(r"^(?:id:)?(\d{1,18})$")


@dataclass(frozen=True, slots=True)
class LogEntry:
    id: int
    member_id: int
    member_name: str
    original_date: date
    week: int | None  # None when the session was cancelled after the log was written
    url: str
    note: str
    created_at: datetime


def linked_member(snap: StudySnapshot, user_id: int) -> Member:
    """The roster entry linked to this Discord account, or a user error saying how to get linked."""
    for member in snap.members:
        if member.discord_user_id == user_id:
            return member
    raise UserError("log.not_linked")


def this_week(schedule: Sequence[Session], now: datetime) -> Session | None:
    """The week `/week` calls "this week": the first session that has not ended, cancelled ones skipped."""
    index = current_index(schedule, now)
    if index is None:
        return None
    return upcoming_or_ongoing(schedule, now, after=index)


def week_session(snap: StudySnapshot, week: int | None, now: datetime) -> Session:
    """The session a log is for: week `week` (1..N), or this week when none is given."""
    schedule = build_schedule(snap.recurrence, snap.changes, snap.week_count)
    if week is None:
        found = this_week(schedule, now)
        if found is None:
            raise UserError("log.no_current_week", max=snap.week_count)
        return found
    if not 1 <= week <= snap.week_count:
        raise UserError("error.week_range", week=week, max=snap.week_count)
    found = session_for_week(schedule, week)
    if found is None:  # cannot happen for 1..N; kept so a broken schedule is a clear refusal
        raise UserError("error.week_range", week=week, max=snap.week_count)
    return found


def _entry(row: db.StudyLog, names: dict[int, str], weeks: dict[date, int | None]) -> LogEntry:
    return LogEntry(
        id=row.id,
        member_id=row.member_id,
        member_name=names.get(row.member_id, "?"),
        original_date=row.original_date,
        week=weeks.get(row.original_date),
        url=row.url,
        note=row.note,
        created_at=row.created_at,
    )


class LogService(Service):
    def _weeks(self, snap: StudySnapshot) -> dict[date, int | None]:
        schedule = build_schedule(snap.recurrence, snap.changes, snap.week_count)
        return {s.original_date: s.week for s in schedule}

    async def add(
        self,
        *,
        guild_id: int | None,
        user_id: int,
        actor: Actor,
        url: str,
        week: int | None = None,
        note: str | None = None,
    ) -> LogEntry:
        link = clean_url(url, field="link")
        text = clean_text(note, field="note", limit=NOTE_MAX) if note and note.strip() else ""
        snap = self.snapshot(guild_id)
        linked_member(snap, user_id)
        session = week_session(snap, week, self.clock.now())
        async with self.edit_study(guild_id) as (db_session, study):
            # Checked again under the lock: an admin may have unlinked the account meanwhile.
            member = await MemberRepository.by_user(db_session, study_id=study.id, user_id=user_id)
            if member is None:
                raise UserError("log.not_linked")
            existing = await StudyLogRepository.find(
                db_session, study_id=study.id, member_id=member.id, original_date=session.original_date
            )
            if any(row.url == link for row in existing):
                raise UserError("log.duplicate", week=session.week)
            if len(existing) >= LOGS_PER_WEEK_MAX:
                raise UserError("log.too_many", week=session.week, limit=LOGS_PER_WEEK_MAX)
            row = db.StudyLog(
                study_id=study.id,
                member_id=member.id,
                original_date=session.original_date,
                url=link,
                note=text,
                created_at=self.clock.now(),
            )
            db_session.add(row)
            await db_session.flush()
            after = {"week": session.week, "session": session.original_date.isoformat(), "url": link, "note": text}
            self.audit(
                db_session, study=study, actor=actor, action="log.add", target=member.name, before=None, after=after
            )
            entry = _entry(row, {member.id: member.name}, {session.original_date: session.week})
        return entry

    async def remove(self, *, guild_id: int | None, user_id: int, actor: Actor, ref: str) -> LogEntry:
        """Remove one of the caller's own logs, named by its id (as `/log remove` autocompletes it)."""
        match = LOG_REF.match(ref.strip())
        if match is None:
            raise UserError("log.unknown", ref=ref.strip()[:40])
        snap = self.snapshot(guild_id)
        linked_member(snap, user_id)
        weeks = self._weeks(snap)
        async with self.edit_study(guild_id) as (db_session, study):
            member = await MemberRepository.by_user(db_session, study_id=study.id, user_id=user_id)
            if member is None:
                raise UserError("log.not_linked")
            row = await StudyLogRepository.own(
                db_session, study_id=study.id, member_id=member.id, log_id=int(match.group(1))
            )
            if row is None:
                raise UserError("log.unknown", ref=ref.strip()[:40])
            entry = _entry(row, {member.id: member.name}, weeks)
            await db_session.delete(row)
            before = {"week": entry.week, "session": entry.original_date.isoformat(), "url": entry.url}
            self.audit(
                db_session, study=study, actor=actor, action="log.remove", target=member.name, before=before, after=None
            )
        return entry

    async def set_nudge(self, *, guild_id: int | None, user_id: int, actor: Actor, on: bool) -> bool:
        """Whether the weekly nudge may ping the caller (it only ever pings linked members who said yes)."""
        linked_member(self.snapshot(guild_id), user_id)
        async with self.edit_study(guild_id) as (db_session, study):
            member = await MemberRepository.by_user(db_session, study_id=study.id, user_id=user_id)
            if member is None:
                raise UserError("log.not_linked")
            before = member.nudge_opt_in
            member.nudge_opt_in = on
            self.audit(
                db_session,
                study=study,
                actor=actor,
                action="log.nudge",
                target=member.name,
                before={"nudge": before},
                after={"nudge": on},
            )
        return on

    # --- reads --------------------------------------------------------------------------------------
    async def mine(self, *, guild_id: int | None, user_id: int) -> tuple[Member, list[LogEntry]]:
        snap = self.snapshot(guild_id)
        member = linked_member(snap, user_id)
        weeks = self._weeks(snap)
        async with self.sessionmaker() as db_session:
            rows = await StudyLogRepository.find(db_session, study_id=snap.id, member_id=member.id)
        entries = [_entry(row, {member.id: member.name}, weeks) for row in rows]
        return member, sorted(entries, key=lambda e: (e.original_date, e.id))

    async def for_session(self, *, study_id: int, day: date, snap: StudySnapshot) -> list[LogEntry]:
        names = {m.id: m.name for m in snap.members}
        weeks = self._weeks(snap)
        async with self.sessionmaker() as db_session:
            rows = await StudyLogRepository.find(db_session, study_id=study_id, original_date=day)
        return [_entry(row, names, weeks) for row in rows]

    async def posted(self, *, study_id: int) -> set[tuple[int, date]]:
        """Every (member id, session date) with at least one log: what the progress picture marks."""
        async with self.sessionmaker() as db_session:
            return await StudyLogRepository.posted(db_session, study_id=study_id)

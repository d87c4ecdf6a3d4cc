"""Attendance use cases: check-in, roster claims, admin corrections, records and per-session facts.

A member's own check-in is one INSERT in its own short transaction — no study lock, no snapshot refresh —
because 200 members press the button within the same second; the UNIQUE (study, member, session) row is
what makes a second press harmless. Everything an admin changes (mark, unmark, excuse, confirming a claim)
and every claim goes through `edit_study`: the study row locked, an audit row, the change published.

Attendance is not in the snapshot (it grows every week); it is read per request.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.attendance import (
    AttendanceStatus,
    CheckinRefusal,
    CheckinSource,
    History,
    checkin_status,
    member_history,
    session_to_check_in,
)
from bot.core.model import Member, StudySnapshot
from bot.core.schedule import Session, build_schedule, local, session_for_week, session_on
from bot.db import models as db
from bot.db.repositories import (
    AttendanceRepository,
    MemberRepository,
    RecordsRepository,
    RosterClaimRepository,
    StudyLogRepository,
)
from bot.errors import UserError
from bot.foreground import turn
from bot.services.base import Actor, Service

log = logging.getLogger(__name__)


class NotLinked(UserError):
    """The Discord account is not linked to a roster entry: the member may claim a name."""

    def __init__(self) -> None:
        super().__init__("attendance.not_linked")


@dataclass(frozen=True, slots=True)
class CheckinResult:
    session: Session
    status: AttendanceStatus
    already: bool  # a second press: nothing was written
    member: str


@dataclass(frozen=True, slots=True)
class SessionFacts:
    """What the nudge and the recap need beyond the snapshot: one session's check-ins and logs."""

    attendance: dict[int, AttendanceStatus] = field(default_factory=dict)  # member id → status
    logs: dict[int, list[str]] = field(default_factory=dict)  # member id → URLs


@dataclass(frozen=True, slots=True)
class StudyRecords:
    """The whole record of a study: attendance rows and study log rows (as stored)."""

    attendance: list[db.Attendance]
    logs: list[db.StudyLog]


def schedule_of(snap: StudySnapshot) -> list[Session]:
    return build_schedule(snap.recurrence, snap.changes, snap.week_count)


def linked_member(snap: StudySnapshot, user_id: int) -> Member | None:
    return next((m for m in snap.members if m.discord_user_id == user_id), None)


class CheckinWriter:
    """Group commit for check-ins: presses that arrive while a write is in flight go out together in the
    next transaction, one INSERT … ON CONFLICT DO NOTHING for the whole batch.

    200 members pressing within a second would otherwise be 200 transactions queued on the database's write
    lock (about 14 ms each on SQLite: the last answer after ~3 s). Batches form by themselves — no timer:
    the first press writes alone, the ones arriving meanwhile share the next transaction. Each caller learns
    whether its row was written (False: the member had already checked in for that session).
    """

    KEY = ("study_id", "member_id", "original_date")
    SPACING = 0.025  # seconds between the starts of two transactions in a burst

    def __init__(self, sessionmaker: Any) -> None:
        self.sessionmaker = sessionmaker
        self._pending: list[tuple[dict[str, Any], asyncio.Future[bool]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def insert(self, values: dict[str, Any]) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((values, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="checkin-writer")
        return await future

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        started = -self.SPACING
        while self._pending:
            # A burst: no more than one transaction per SPACING — every transaction costs the event loop the
            # same ~1–2 ms of SQLAlchemy work, however few rows it holds, so fewer and fuller batches leave
            # the loop to everyone else (bench/practice.py). A lone press still writes at once.
            wait = started + self.SPACING - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            await turn()  # a command being answered goes first (bot.foreground)
            started = loop.time()
            batch, self._pending = self._pending, []
            try:
                written = await self._write([values for values, _ in batch])
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for values, future in batch:
                key = tuple(values[k] for k in self.KEY)
                if not future.done():
                    future.set_result(key in written)
                    # One answer per turn of the loop: a command that arrives meanwhile waits for one press's
                    # answer, not for the whole batch's (bench/practice.py: `/week`'s p99 during a burst).
                    await asyncio.sleep(0)
                written.discard(key)  # a second press in the same batch is "already"

    async def _write(self, rows: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
        unique = list({tuple(r[k] for k in self.KEY): r for r in reversed(rows)}.values())
        table = cast(Table, db.Attendance.__table__)  # Core, not the ORM's bulk path: a third of the work
        # A connection, not an ORM session: one INSERT needs no identity map or unit of work (the session's
        # bookkeeping added 10–25 % to a transaction's event-loop time in bench/practice.py's burst).
        engine: AsyncEngine = self.sessionmaker.kw["bind"]
        async with engine.begin() as connection:
            insert = postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert
            statement = (
                insert(table)
                .on_conflict_do_nothing(index_elements=list(self.KEY))
                .returning(table.c.study_id, table.c.member_id, table.c.original_date)
            )
            result = await connection.execute(statement, unique)
            return {tuple(row) for row in result.all()}


class _PressFacts:
    """What every press of one snapshot needs, computed once per snapshot (snapshots are immutable and
    replaced on every change): the schedule and the roster by Discord account."""

    __slots__ = ("by_user", "schedule", "snap")

    def __init__(self, snap: StudySnapshot) -> None:
        self.snap = snap
        self.schedule = schedule_of(snap)
        self.by_user = {m.discord_user_id: m for m in snap.members if m.discord_user_id is not None}


class AttendanceService(Service):
    def _press_facts(self, snap: StudySnapshot) -> _PressFacts:
        cache: dict[int, _PressFacts] | None = getattr(self, "_press_cache", None)
        if cache is None:
            cache = {}
            self._press_cache = cache
        facts = cache.get(snap.id)
        if facts is None or facts.snap is not snap:
            facts = cache[snap.id] = _PressFacts(snap)
        return facts

    def on_checkin(self, listener: Callable[[int], None]) -> None:
        """`listener(study_id)` after a member's check-in was written. A check-in is not a study edit (no
        snapshot refresh, no directory listeners), so whatever shows attendance live hears of it here."""
        listeners: list[Callable[[int], None]] | None = getattr(self, "_checkin_listeners", None)
        if listeners is None:
            listeners = []
            self._checkin_listeners: list[Callable[[int], None]] = listeners
        listeners.append(listener)

    def _writer(self) -> CheckinWriter:
        writer: CheckinWriter | None = getattr(self, "_checkin_writer", None)
        if writer is None:
            writer = self._checkin_writer = CheckinWriter(self.sessionmaker)
        return writer

    # --- check-in --------------------------------------------------------------------------------------
    async def check_in(
        self, *, guild_id: int | None, user_id: int, original_date: date | None, source: CheckinSource
    ) -> CheckinResult:
        """Record the caller's check-in: for the session named by `original_date` (the button), or the one
        whose window is open now (`/checkin`). Raises UserError (outside the window, cancelled, not linked)."""
        snap = self.snapshot(guild_id)
        now = self.clock.now()
        facts = self._press_facts(snap)
        schedule = facts.schedule
        if original_date is None:
            found = session_to_check_in(schedule, snap.practice, now)
            if isinstance(found, CheckinRefusal):
                raise UserError(found.key, **found.params)
            session = found
        else:
            maybe = session_on(schedule, original_date)
            if maybe is None:
                raise UserError("attendance.unknown_session", date=original_date.isoformat())
            session = maybe
        status = checkin_status(session, snap.practice, now)
        if isinstance(status, CheckinRefusal):
            raise UserError(status.key, **status.params)
        member = facts.by_user.get(user_id)
        if member is None:
            raise NotLinked()
        values = {
            "study_id": snap.id,
            "member_id": member.id,
            "original_date": session.original_date,
            "status": status.value,
            "checked_in_at": now,
            "source": source.value,
            "updated_at": now,
        }
        if not await self._writer().insert(values):
            async with self.sessionmaker() as session_:
                existing = await AttendanceRepository.get(
                    session_, study_id=snap.id, member_id=member.id, original_date=session.original_date
                )
            kept = AttendanceStatus(existing.status) if existing is not None else status
            return CheckinResult(session, kept, True, member.name)
        for listener in getattr(self, "_checkin_listeners", ()):
            try:
                listener(snap.id)
            except Exception:
                log.exception("check-in listener failed for study %s", snap.id)
        return CheckinResult(session, status, False, member.name)

    # --- claims ----------------------------------------------------------------------------------------
    async def claim(self, *, guild_id: int | None, actor: Actor, name: str) -> str:
        """A pending claim of roster entry `name` by the caller's account; replaces the caller's earlier
        claim. An admin confirms it (`/admin roster confirm`)."""
        if actor.user_id is None:
            raise UserError("claim.needs_account")
        user_id = actor.user_id
        async with self.edit_study(guild_id) as (session, study):
            mine = await MemberRepository.by_user(session, study_id=study.id, user_id=user_id)
            if mine is not None:
                raise UserError("claim.already_linked", name=mine.name)
            member = await MemberRepository.by_name(session, study_id=study.id, name=name.strip())
            if member is None:
                raise UserError("roster.unknown", name=name.strip()[:100])
            if member.discord_user_id is not None:
                raise UserError("claim.taken", name=member.name)
            other = await RosterClaimRepository.by_member(session, study_id=study.id, member_id=member.id)
            if other is not None and other.discord_user_id != user_id:
                raise UserError("claim.pending_other", name=member.name)
            previous = await RosterClaimRepository.by_user(session, study_id=study.id, user_id=user_id)
            before = None
            if previous is not None:
                before = {"member_id": previous.member_id}
                previous.member_id = member.id
                previous.created_at = self.clock.now()
            else:
                session.add(
                    db.RosterClaim(
                        study_id=study.id, member_id=member.id, discord_user_id=user_id, created_at=self.clock.now()
                    )
                )
            self.audit(
                session,
                study=study,
                actor=actor,
                action="roster.claim",
                target=member.name,
                before=before,
                after={"member": member.name, "user": user_id},
            )
            result = member.name
        return result

    async def confirm_claim(self, *, guild_id: int | None, actor: Actor, name: str) -> tuple[str, int]:
        """Link the roster entry to the account that claimed it; (name, user id)."""
        async with self.edit_study(guild_id) as (session, study):
            member = await MemberRepository.by_name(session, study_id=study.id, name=name.strip())
            if member is None:
                raise UserError("roster.unknown", name=name.strip()[:100])
            claim = await RosterClaimRepository.by_member(session, study_id=study.id, member_id=member.id)
            if claim is None:
                raise UserError("claim.none", name=member.name)
            owner = await MemberRepository.by_user(session, study_id=study.id, user_id=claim.discord_user_id)
            if owner is not None and owner.id != member.id:
                raise UserError("roster.user_taken", user=f"<@{claim.discord_user_id}>", name=owner.name)
            before = {"user": member.discord_user_id}
            member.discord_user_id = claim.discord_user_id
            user_id = claim.discord_user_id
            await session.delete(claim)
            self.audit(
                session,
                study=study,
                actor=actor,
                action="roster.confirm",
                target=member.name,
                before=before,
                after={"user": user_id},
            )
            result = (member.name, user_id)
        return result

    async def pending_claims(self, *, guild_id: int | None) -> list[tuple[str, int]]:
        """(roster name, claiming user id) of every pending claim."""
        snap = self.snapshot(guild_id)
        names = {m.id: m.name for m in snap.members}
        async with self.sessionmaker() as session:
            claims = await RosterClaimRepository.for_study(session, study_id=snap.id)
        return [(names.get(c.member_id, "?"), c.discord_user_id) for c in claims]

    # --- admin corrections -----------------------------------------------------------------------------
    async def set_status(
        self, *, guild_id: int | None, actor: Actor, name: str, week: int, status: AttendanceStatus | None
    ) -> tuple[str, int]:
        """Mark (present/late/absent), excuse, or — with None — remove a member's record for a week."""
        snap = self.snapshot(guild_id)
        if not 1 <= week <= snap.week_count:
            raise UserError("error.week_range", week=week, max=snap.week_count)
        session_ = session_for_week(schedule_of(snap), week)
        if session_ is None:
            raise UserError("error.week_range", week=week, max=snap.week_count)
        now = self.clock.now()
        if (
            status is not None
            and status is not AttendanceStatus.EXCUSED
            and session_.start - snap.practice.checkin_opens > now
        ):
            raise UserError("attendance.mark_future", week=week)
        async with self.edit_study(guild_id) as (session, study):
            member = await MemberRepository.by_name(session, study_id=study.id, name=name.strip())
            if member is None:
                raise UserError("roster.unknown", name=name.strip()[:100])
            row = await AttendanceRepository.get(
                session, study_id=study.id, member_id=member.id, original_date=session_.original_date
            )
            before = None if row is None else row.status
            if status is None:
                if row is None:
                    raise UserError("attendance.nothing_to_unmark", name=member.name, week=week)
                await session.delete(row)
            elif row is None:
                session.add(
                    db.Attendance(
                        study_id=study.id,
                        member_id=member.id,
                        original_date=session_.original_date,
                        status=status.value,
                        checked_in_at=None,
                        source=CheckinSource.ADMIN.value,
                        updated_at=now,
                    )
                )
            else:
                row.status = status.value
                row.source = CheckinSource.ADMIN.value
                row.updated_at = now
            self.audit(
                session,
                study=study,
                actor=actor,
                action="attendance.unmark" if status is None else f"attendance.{status.value}",
                target=f"{member.name} W{week}",
                before=before,
                after=None if status is None else status.value,
            )
            result = (member.name, week)
        return result

    # --- settings --------------------------------------------------------------------------------------
    async def update_practice(
        self,
        *,
        guild_id: int | None,
        actor: Actor,
        checkin_opens: int | None = None,
        checkin_grace: int | None = None,
        nudge_offset: int | None = None,
        recap: bool | None = None,
        checkin_post: bool | None = None,
    ) -> None:
        """Change the check-in window, the grace, the nudge (minutes before; 0 = off), recap and post."""
        for option, value, high in (
            ("checkin_opens", checkin_opens, PRACTICE_MINUTES_MAX),
            ("checkin_grace", checkin_grace, PRACTICE_MINUTES_MAX),
            ("nudge", nudge_offset, NUDGE_MINUTES_MAX),
        ):
            if value is not None and not 0 <= value <= high:
                raise UserError("practice.bad_minutes", option=option, value=value, max=high)
        async with self.edit_study(guild_id) as (session, study):
            before = _practice_state(study)
            if checkin_opens is not None:
                study.checkin_opens_minutes = checkin_opens
            if checkin_grace is not None:
                study.checkin_grace_minutes = checkin_grace
            if nudge_offset is not None:
                study.nudge_offset_minutes = nudge_offset
            if recap is not None:
                study.recap_enabled = recap
            if checkin_post is not None:
                study.checkin_post_enabled = checkin_post
            self.audit(
                session,
                study=study,
                actor=actor,
                action="practice.settings",
                target="",
                before=before,
                after=_practice_state(study),
            )

    # --- reading ---------------------------------------------------------------------------------------
    async def statuses(self, *, study_id: int) -> dict[int, dict[date, AttendanceStatus]]:
        """member id → session date → stored status."""
        async with self.sessionmaker() as session:
            rows = await AttendanceRepository.for_study(session, study_id=study_id)
        out: defaultdict[int, dict[date, AttendanceStatus]] = defaultdict(dict)
        for row in rows:
            out[row.member_id][row.original_date] = AttendanceStatus(row.status)
        return dict(out)

    async def log_dates(self, *, study_id: int) -> dict[int, set[date]]:
        """member id → the sessions they posted a study log for."""
        async with self.sessionmaker() as session:
            rows = await RecordsRepository.logs(session, study_id=study_id)
        out: defaultdict[int, set[date]] = defaultdict(set)
        for row in rows:
            out[row.member_id].add(row.original_date)
        return dict(out)

    async def histories(self, snap: StudySnapshot) -> list[tuple[Member, History]]:
        stored = await self.statuses(study_id=snap.id)
        schedule = schedule_of(snap)
        now = self.clock.now()
        return [(m, member_history(schedule, stored.get(m.id, {}), now)) for m in snap.members]

    async def session_facts(self, *, study_id: int, original_date: date) -> SessionFacts:
        async with self.sessionmaker() as session:
            rows = await AttendanceRepository.for_session(session, study_id=study_id, original_date=original_date)
            logs = await StudyLogRepository.for_session(session, study_id=study_id, original_date=original_date)
        by_member: defaultdict[int, list[str]] = defaultdict(list)
        for log_row in logs:
            by_member[log_row.member_id].append(log_row.url)
        return SessionFacts(
            attendance={row.member_id: AttendanceStatus(row.status) for row in rows}, logs=dict(by_member)
        )

    async def records(self, *, study_id: int) -> StudyRecords:
        async with self.sessionmaker() as session:
            attendance = list(await AttendanceRepository.for_study(session, study_id=study_id))
            logs = list(await RecordsRepository.logs(session, study_id=study_id))
        return StudyRecords(attendance, logs)

    async def export_records(self, *, guild_id: int) -> dict[str, str]:
        """The text of attendance.csv (one row per member and session that counts, absences included) and
        logs.csv; the caller writes them as UTF-8 with a byte-order mark, so Excel opens Korean names."""
        snap = self.snapshot(guild_id)
        records = await self.records(study_id=snap.id)
        schedule = schedule_of(snap)
        now = self.clock.now()
        tz = snap.recurrence.timezone
        by_key = {(r.member_id, r.original_date): r for r in records.attendance}
        stored: defaultdict[int, dict[date, AttendanceStatus]] = defaultdict(dict)
        for row in records.attendance:
            stored[row.member_id][row.original_date] = AttendanceStatus(row.status)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            ["week", "session_date", "session_start", "member", "discord_user_id", "status", "checked_in_at", "source"]
        )
        for member in snap.members:
            history = member_history(schedule, stored.get(member.id, {}), now)
            for record in history.records:
                if record.status is None:
                    continue
                stored_row = by_key.get((member.id, record.session.original_date))
                writer.writerow(
                    [
                        record.week,
                        record.session.original_date.isoformat(),
                        _local(record.session.start, tz),
                        member.name,
                        member.discord_user_id or "",
                        record.status.value,
                        _local(stored_row.checked_in_at, tz) if stored_row and stored_row.checked_in_at else "",
                        stored_row.source if stored_row is not None else "",
                    ]
                )
        files = {"attendance.csv": out.getvalue()}
        names = {m.id: m.name for m in snap.members}
        weeks = {s.original_date: s.week for s in schedule}
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["week", "session_date", "member", "url", "note", "created_at"])
        for log_row in records.logs:
            writer.writerow(
                [
                    weeks.get(log_row.original_date) or "",
                    log_row.original_date.isoformat(),
                    names.get(log_row.member_id, ""),
                    log_row.url,
                    log_row.note,
                    _local(log_row.created_at, tz),
                ]
            )
        files["logs.csv"] = out.getvalue()
        return files


PRACTICE_MINUTES_MAX = 24 * 60
NUDGE_MINUTES_MAX = 7 * 24 * 60


def _practice_state(study: db.Study) -> dict[str, object]:
    return {
        "checkin_opens": study.checkin_opens_minutes,
        "checkin_grace": study.checkin_grace_minutes,
        "nudge": study.nudge_offset_minutes,
        "recap": study.recap_enabled,
        "checkin_post": study.checkin_post_enabled,
    }


def _local(moment: datetime, timezone: str) -> str:
    return local(moment, timezone).isoformat(timespec="minutes")

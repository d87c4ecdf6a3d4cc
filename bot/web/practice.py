"""The page's practice sections — attendance grid, study-log board, progress picture, curriculum stages and the
study guide — from an in-memory copy of each study's attendance and log records.

Attendance and logs are not in the study snapshot (they grow every week), and the web server must never touch
the database or the bot's event loop. So the bot's loop keeps `PracticeRecords` per study here: all of them
read at start (two queries), and one study's again whenever it changes — every practice edit (a log added or
removed, an admin's correction, a claim) is a study edit published through the directory's listeners, and a
member's own check-in, which is deliberately not a study edit, is announced by the attendance service. Bursts
(200 members checking in within a second) are coalesced: one reload per study in flight, another only if
something happened meanwhile.

Everything the page shows is then computed by pure functions from the snapshot, the records, the reader's
language and `now`, with the same rules as `/attendance`, `/log board`, `/progress` and `/guide`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.core.attendance import AttendanceStatus, member_history, rate_of_week
from bot.core.guide import section_from_data
from bot.core.model import StudySnapshot
from bot.core.schedule import Session, build_schedule, local
from bot.db import models as db
from bot.i18n import t
from bot.services.logs import this_week
from bot.web.extras import (
    AttendanceGrid,
    AttendanceRow,
    GuideSection,
    LogEntry,
    LogWeek,
    PageExtras,
    Stage,
)
from bot.web.page import moment_bucket

log = logging.getLogger(__name__)

# As `bot.render.progress` draws them (not imported here: it loads matplotlib, needed only where pictures are).
MEMBERS_PER_IMAGE = 100
MAX_IMAGES = 10


@dataclass(frozen=True, slots=True)
class LogRow:
    id: int
    member_id: int
    original_date: date
    url: str
    note: str


@dataclass(frozen=True, slots=True)
class PracticeRecords:
    """One study's attendance and study logs as stored (plain values: picklable, immutable)."""

    study_id: int
    attendance: Mapping[tuple[int, date], str] = field(default_factory=dict)  # (member, session date) → status
    logs: tuple[LogRow, ...] = ()
    version: int = 0


EMPTY = PracticeRecords(0)


# --- pure: records + snapshot → what the page shows ------------------------------------------------------


def attendance_grid(snap: StudySnapshot, records: PracticeRecords, *, now: datetime) -> AttendanceGrid | None:
    """`/attendance`'s grid: members × sessions whose check-in has opened (a check-in shows at once). A
    cancelled session is a column of its own, marked and counted for nothing; a moved one counts at its new
    time (the schedule resolves both)."""
    schedule = build_schedule(snap.recurrence, snap.changes, snap.week_count)
    started = [s for s in schedule if s.start - snap.practice.checkin_opens <= now]
    if not started or not snap.members:
        return None
    stored: dict[int, dict[date, AttendanceStatus]] = {}
    for (member_id, day), status in records.attendance.items():
        stored.setdefault(member_id, {})[day] = AttendanceStatus(status)
    histories = [(m, member_history(schedule, stored.get(m.id, {}), now)) for m in snap.members]
    rows = []
    by_week_all: list[dict[date, AttendanceStatus | None]] = []
    for member, history in histories:
        by_day = {r.session.original_date: r.status for r in history.records}
        by_week_all.append(by_day)
        cells = tuple(
            "cancelled" if s.cancelled else (found.value if (found := by_day.get(s.original_date)) else "")
            for s in started
        )
        rate = history.rate
        rows.append(AttendanceRow(member.id, member.name, cells, "–" if rate is None else f"{round(rate * 100)}%"))
    week_rates = []
    for s in started:
        if s.cancelled:
            week_rates.append("")
            continue
        rate = rate_of_week([by_day.get(s.original_date) for by_day in by_week_all])
        week_rates.append("–" if rate is None else f"{round(rate * 100)}%")
    return AttendanceGrid(
        weeks=tuple(None if s.cancelled else s.week for s in started),
        rows=tuple(rows),
        week_rates=tuple(week_rates),
    )


def log_board(snap: StudySnapshot, records: PracticeRecords, *, now: datetime) -> tuple[LogWeek, ...]:
    """`/log board` for every week up to this one (newest first): who posted, with their links and notes.
    Logs of a session cancelled after they were written belong to no week and are not shown, as in Discord."""
    schedule = build_schedule(snap.recurrence, snap.changes, snap.week_count)
    current = this_week(schedule, now)
    last = current.original_date if current is not None else None
    held = [s for s in schedule if not s.cancelled and s.week is not None and (last is None or s.original_date <= last)]
    names = {m.id: m.name for m in snap.members}
    order = {m.id: index for index, m in enumerate(snap.members)}
    by_day: dict[date, list[LogRow]] = {}
    for row in records.logs:
        if row.member_id in names:
            by_day.setdefault(row.original_date, []).append(row)
    weeks = []
    for session in reversed(held):
        assert session.week is not None
        found = sorted(by_day.get(session.original_date, ()), key=lambda r: (order[r.member_id], r.id))
        weeks.append(
            LogWeek(session.week, tuple(LogEntry(r.member_id, names[r.member_id], r.url, r.note) for r in found))
        )
    return tuple(weeks)


def guide_parts(snap: StudySnapshot, lang: str) -> tuple[tuple[Stage, ...], tuple[GuideSection, ...]]:
    """`/guide` as the page shows it: the curriculum stages and the guide's sections, in the reader's language."""
    data: Mapping[str, Any] = snap.guide.for_locale(lang) if snap.guide is not None else {}
    if not data:
        return (), ()
    section = section_from_data(data)
    stages = tuple(Stage(s.title, s.first_week, s.last_week) for s in section.stages)
    parts = []
    if section.purpose:
        parts.append(GuideSection("", section.purpose))
    if section.practice:
        parts.append(GuideSection(t(lang, "guide.practice"), section.practice))
    if section.stages:
        lines = []
        for stage in section.stages:
            weeks = (
                t(lang, "guide.week", week=stage.first_week)
                if stage.first_week == stage.last_week
                else t(lang, "guide.weeks", first=stage.first_week, last=stage.last_week)
            )
            lines.append(f"{weeks} · {stage.title}" + (f"\n{stage.about}" if stage.about else ""))
        parts.append(GuideSection(t(lang, "guide.stages"), "\n\n".join(lines)))
    parts += [GuideSection(f"🧰 {fw.name}", fw.notes) for fw in section.frameworks]
    return stages, tuple(parts)


def progress_pages(snap: StudySnapshot, records: PracticeRecords, *, lang: str, now: datetime) -> list[Any]:
    """The `/progress` picture's pages (ProgressData) for the whole study, built as `/progress` builds them."""
    from bot.core.guide import stage_titles
    from bot.render.progress import build_progress, progress_labels, split_progress

    schedule = build_schedule(snap.recurrence, snap.changes, snap.week_count)
    if not snap.members or not any(not s.cancelled for s in schedule):
        return []
    stages = stage_titles(snap.guide.for_locale(lang)) if snap.guide is not None else {}
    data = build_progress(
        labels=progress_labels(snap.name, local(now, snap.recurrence.timezone).date(), lang),
        sessions=schedule,
        members=[(m.id, m.name) for m in snap.members],
        attendance=records.attendance,
        logs={(r.member_id, r.original_date) for r in records.logs},
        stages=stages,
        now=now,
        timezone=snap.recurrence.timezone,
    )
    return split_progress(data, page_label=t(lang, "progress.page", first="{first}", last="{last}", total="{total}"))


def progress_key(snap: StudySnapshot, records: PracticeRecords, schedule: Sequence[Session], now: datetime) -> Hashable:
    """Changes exactly when the picture would: the study, its records, the day, and which sessions ended."""
    ended = sum(1 for s in schedule if s.end <= now)
    return (
        snap.id,
        snap.revision,
        snap.updated_at,
        records.version,
        local(now, snap.recurrence.timezone).date(),
        ended,
    )


class PracticeExtras:
    """The page's extras provider: `(snapshot, lang) → PageExtras` from the in-memory records.

    Called from the web server (whatever thread or process it runs in); computed once per study, language,
    records version and stretch of time between the study's session boundaries, then served from a small memo.
    `records_for` is any lookup of the latest records by study id."""

    MEMO_MAX = 4096

    def __init__(self, records_for: Callable[[int], PracticeRecords | None], clock: Clock) -> None:
        self.records_for = records_for
        self.clock = clock
        self._memo: dict[Hashable, PageExtras] = {}

    def __call__(self, snap: StudySnapshot, lang: str) -> PageExtras:
        records = self.records_for(snap.id) or PracticeRecords(snap.id)
        now = self.clock.now()
        bucket = moment_bucket(snap, now)
        key = (snap.id, snap.revision, snap.updated_at, records.version, lang, bucket)
        found = self._memo.get(key)
        if found is None:
            found = self.build(snap, records, lang, now, version=(records.version, lang, bucket))
            if len(self._memo) >= self.MEMO_MAX:
                self._memo.clear()
            self._memo[key] = found
        return found

    @staticmethod
    def build(
        snap: StudySnapshot, records: PracticeRecords, lang: str, now: datetime, *, version: Hashable = 0
    ) -> PageExtras:
        schedule = build_schedule(snap.recurrence, snap.changes, snap.week_count)
        stages, guide = guide_parts(snap, lang)
        held = any(not s.cancelled for s in schedule)
        pages = min(-(-len(snap.members) // MEMBERS_PER_IMAGE), MAX_IMAGES) if held else 0
        return PageExtras(
            attendance=attendance_grid(snap, records, now=now),
            logs=log_board(snap, records, now=now),
            progress_pages=pages,
            progress=functools.cache(lambda: progress_pages(snap, records, lang=lang, now=now)) if pages else None,
            progress_key=progress_key(snap, records, schedule, now) if pages else None,
            stages=stages,
            guide=guide,
            version=version,
        )


# --- the bot's side: reading the records and keeping them current ----------------------------------------


async def read_records(
    sessionmaker: async_sessionmaker[AsyncSession], study_id: int | None = None
) -> dict[int, PracticeRecords]:
    """Every study's records (two queries in all), or one study's."""
    attendance_q = select(
        db.Attendance.study_id, db.Attendance.member_id, db.Attendance.original_date, db.Attendance.status
    )
    logs_q = select(
        db.StudyLog.study_id,
        db.StudyLog.id,
        db.StudyLog.member_id,
        db.StudyLog.original_date,
        db.StudyLog.url,
        db.StudyLog.note,
    ).order_by(db.StudyLog.id)
    if study_id is not None:
        attendance_q = attendance_q.where(db.Attendance.study_id == study_id)
        logs_q = logs_q.where(db.StudyLog.study_id == study_id)
    attendance: dict[int, dict[tuple[int, date], str]] = {}
    logs: dict[int, list[LogRow]] = {}
    async with sessionmaker() as session:
        for sid, member_id, day, status in (await session.execute(attendance_q)).all():
            attendance.setdefault(sid, {})[(member_id, day)] = status
        for sid, log_id, member_id, day, url, note in (await session.execute(logs_q)).all():
            logs.setdefault(sid, []).append(LogRow(log_id, member_id, day, url, note or ""))
    ids = set(attendance) | set(logs)
    if study_id is not None:
        ids.add(study_id)
    return {sid: PracticeRecords(sid, attendance.get(sid, {}), tuple(logs.get(sid, ()))) for sid in ids}


RecordsListener = Callable[[PracticeRecords], None]


class PracticeCache:
    """The bot loop's copy of every study's records. Entries are replaced, never mutated, so any reader (the web
    server's thread) sees a consistent value without locks."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        self._by_study: dict[int, PracticeRecords] = {}
        self._version = 0
        self._dirty: set[int] = set()
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._listeners: list[RecordsListener] = []
        self.loaded = False

    def subscribe(self, listener: RecordsListener) -> None:
        """`listener(records)` after a study's records were read again."""
        self._listeners.append(listener)

    def get(self, study_id: int) -> PracticeRecords | None:
        return self._by_study.get(study_id)

    def all(self) -> list[PracticeRecords]:
        return list(self._by_study.values())

    def _next(self) -> int:
        self._version += 1
        return self._version

    async def load_all(self) -> None:
        found = await read_records(self._sessionmaker)
        self._by_study = {sid: _versioned(r, self._next()) for sid, r in found.items()}
        self.loaded = True

    async def reload(self, study_id: int) -> PracticeRecords:
        found = (await read_records(self._sessionmaker, study_id))[study_id]
        old = self._by_study.get(study_id)
        if old is not None and old.attendance == found.attendance and old.logs == found.logs:
            return old  # an edit of something else: the pages built from these records stay as they are
        records = _versioned(found, self._next())
        self._by_study = {**self._by_study, study_id: records}
        for listener in self._listeners:
            try:
                listener(records)
            except Exception:
                log.exception("practice records listener failed for study %s", study_id)
        return records

    def touch(self, study_id: int) -> None:
        """Something of the study's records changed: read them again soon (coalesced with other touches)."""
        self._dirty.add(study_id)
        task = self._tasks.get(study_id)
        if task is None or task.done():
            self._tasks[study_id] = asyncio.get_running_loop().create_task(
                self._drain(study_id), name=f"web-practice-{study_id}"
            )

    async def _drain(self, study_id: int) -> None:
        while study_id in self._dirty:
            self._dirty.discard(study_id)
            try:
                await self.reload(study_id)
            except Exception:
                log.exception("could not read the practice records of study %s", study_id)
                return

    async def settled(self) -> None:
        """Wait until no reload is pending (tests; shutdown)."""
        while tasks := [task for task in self._tasks.values() if not task.done()]:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def on_study_changed(self, study_id: int, timing_changed: bool) -> None:
        """Directory listener: a committed edit of the study (a log, a correction, a claim, a schedule change)."""
        self.touch(study_id)

    def on_checkin(self, study_id: int) -> None:
        """Attendance listener: a member checked in (not a study edit, so the directory does not hear of it)."""
        self.touch(study_id)

    async def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()


def _versioned(records: PracticeRecords, version: int) -> PracticeRecords:
    return PracticeRecords(records.study_id, records.attendance, records.logs, version)

"""The progress picture's data: the snapshot, the attendance records and the posted logs, as `ProgressData`.

Reads only (two queries); drawing is `bot.render.progress.render_progress`, which callers run in the render pool.
The recap post can use `pages()` the same way `/progress` does.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from bot.core.guide import stage_titles
from bot.core.schedule import build_schedule, local
from bot.db import models as db
from bot.errors import UserError
from bot.i18n import t
from bot.render.progress import ProgressData, build_progress, progress_labels, split_progress
from bot.services.base import Service
from bot.services.logs import LogService


class ProgressService(Service):
    async def attendance(self, *, study_id: int) -> dict[tuple[int, date], str]:
        async with self.sessionmaker() as session:
            result = await session.execute(
                select(db.Attendance.member_id, db.Attendance.original_date, db.Attendance.status).where(
                    db.Attendance.study_id == study_id
                )
            )
            return {(member_id, day): status for member_id, day, status in result.all()}

    def member_id(self, guild_id: int | None, name: str | None) -> int | None:
        """The roster entry a `/progress member:` names (None: the whole study); unknown names are refused
        before anything is deferred, so the refusal stays ephemeral."""
        if name is None:
            return None
        wanted = name.strip()
        found = next((m for m in self.snapshot(guild_id).members if m.name == wanted), None)
        if found is None:
            raise UserError("roster.unknown", name=wanted[:100])
        return found.id

    async def pages(self, *, guild_id: int | None, lang: str, member: str | None = None) -> list[ProgressData]:
        """The picture(s) for the whole study, or one member's row (`member`, a roster name)."""
        only = self.member_id(guild_id, member)
        snap = self.snapshot(guild_id)
        now = self.clock.now()
        schedule = build_schedule(snap.recurrence, snap.changes, snap.week_count)
        attendance = await self.attendance(study_id=snap.id)
        logs = await LogService(sessionmaker=self.sessionmaker, clock=self.clock, directory=self.directory).posted(
            study_id=snap.id
        )
        stages = stage_titles(snap.guide.for_locale(lang)) if snap.guide is not None else {}
        data = build_progress(
            labels=progress_labels(snap.name, local(now, snap.recurrence.timezone).date(), lang),
            sessions=schedule,
            members=[(m.id, m.name) for m in snap.members],
            attendance=attendance,
            logs=logs,
            stages=stages,
            now=now,
            timezone=snap.recurrence.timezone,
            only=only,
        )
        return split_progress(
            data, page_label=t(lang, "progress.page", first="{first}", last="{last}", total="{total}")
        )

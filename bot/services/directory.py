"""The in-memory directory of study snapshots that read-only commands answer from.

Reads are served from memory (a command is answered without touching the database); every write goes
through a service, which calls `changed()` after its transaction commits, so the snapshot is refreshed and
listeners (the reminder scheduler, the Discord event sync) rebuild what depends on it.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core import model
from bot.core.sharding import ShardPlan
from bot.db import models as db
from bot.db.repositories import (
    CurriculumRepository,
    MemberRepository,
    SessionChangeRepository,
    SnapshotRepository,
    StudyRepository,
)

log = logging.getLogger(__name__)

Listener = Callable[[int, bool], Awaitable[None]]
LOAD_BATCH = 500  # studies whose rows are read and built at a time by `load_all`


def offsets_from_db(text: str) -> tuple[timedelta, ...]:
    return tuple(timedelta(minutes=int(part)) for part in text.split(",") if part.strip())


def offsets_to_db(offsets: Sequence[timedelta]) -> str:
    return ",".join(str(int(o.total_seconds() // 60)) for o in offsets)


def parse_hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def practice_from(study: Any) -> model.PracticeSettings:
    return model.PracticeSettings(
        checkin_opens=timedelta(minutes=study.checkin_opens_minutes),
        checkin_grace=timedelta(minutes=study.checkin_grace_minutes),
        nudge_offset=timedelta(minutes=study.nudge_offset_minutes),
        recap_enabled=study.recap_enabled,
        checkin_post_enabled=study.checkin_post_enabled,
    )


def guide_from_db(text: str) -> model.Guide | None:
    """The stored guide JSON as a Guide; None when the study has none (or it cannot be read)."""
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        log.warning("study guide is not valid JSON; ignored")
        return None
    return model.Guide(by_locale=data) if isinstance(data, dict) and data else None


_KINDS = {kind.value: kind for kind in model.MaterialKind}
_KIND_VALUES = frozenset(_KINDS)
_ROLE_VALUES = {role.value: role.value for role in model.MemberRole}  # an unknown role is an error, as before


def build_snapshot(
    study: Any,
    members: Sequence[Any],
    weeks: Sequence[Any],
    materials: Sequence[Any],
    changes: Sequence[Any],
) -> model.StudySnapshot:
    """A snapshot from the study's rows: ORM objects (one study) or Core rows (bulk load) alike.

    The roster, weeks and resources go into the snapshot in their packed form (`model.Plain`) straight from
    the rows: no objects are built only to be packed again."""
    by_week: dict[int | None, list[tuple[Any, ...]]] = defaultdict(list)
    kinds = _KIND_VALUES
    for row in materials:
        kind = row.kind if row.kind in kinds else "link"
        by_week[row.week_id].append((row.title, row.url, kind, row.title_en, row.position, row.id))
    roles = _ROLE_VALUES
    return model.StudySnapshot(
        id=study.id,
        guild_id=study.guild_id,
        name=study.name,
        locale=study.locale,
        recurrence=model.Recurrence(
            weekday=study.weekday,
            start_time=parse_hhmm(study.start_time),
            duration=timedelta(minutes=study.duration_minutes),
            timezone=study.timezone,
            first_date=study.first_session,
        ),
        place=model.Place(study.location_name, study.location_url),
        reminder_channel_id=study.reminder_channel_id,
        ping_role_id=study.ping_role_id,
        admin_role_id=study.admin_role_id,
        reminder_offsets=offsets_from_db(study.reminder_offsets),
        paused=study.paused,
        members=model.Plain(
            tuple((m.name, roles[m.role], m.discord_user_id, m.github, m.blog, m.id, m.nudge_opt_in) for m in members)
        ),  # type: ignore[arg-type]
        weeks=model.Plain(tuple((w.number, w.title, w.title_en, w.notes, tuple(by_week.get(w.id, ()))) for w in weeks)),  # type: ignore[arg-type]
        resources=model.Plain(tuple(by_week.get(None, ()))),  # type: ignore[arg-type]
        changes=tuple(
            model.SessionChange(
                original_date=c.original_date,
                cancelled=c.cancelled,
                moved_to=c.moved_to,
                reason=c.reason,
                revision=c.revision,
                updated_at=c.updated_at,
            )
            for c in changes
        ),
        created_at=study.created_at,
        updated_at=study.updated_at,
        revision=study.revision,
        public_id=study.public_id,
        practice=practice_from(study),
        guide=guide_from_db(study.guide),
    )


def _every_server(guild_id: int) -> bool:
    return True


def timing_key(snap: model.StudySnapshot) -> tuple[object, ...]:
    """Everything the reminder plan depends on: when it changes, reminders are re-planned."""
    return (
        snap.recurrence,
        snap.changes,
        snap.week_count,
        snap.reminder_offsets,
        snap.paused,
        snap.reminder_channel_id,
        snap.practice,
    )


class StudyDirectory:
    """Snapshots of every study, by guild and by id."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        owns: Callable[[int], bool] | None = None,
        shards: ShardPlan | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        # When the bot runs as several processes, this one holds only the studies of the servers it owns
        # (`owns(guild_id)`, or its shard plan): what the bot posts on its own is planned from these alone.
        self._shards = shards
        self._owns = owns or (shards.owns if shards is not None else _every_server)
        self._by_id: dict[int, model.StudySnapshot] = {}
        self._by_guild: dict[int, model.StudySnapshot] = {}
        self._listeners: list[Listener] = []
        self._locks: dict[int, asyncio.Lock] = {}

    def subscribe(self, listener: Listener) -> None:
        """`listener(study_id, timing_changed)` runs after every refresh."""
        self._listeners.append(listener)

    def by_guild(self, guild_id: int | None) -> model.StudySnapshot | None:
        return None if guild_id is None else self._by_guild.get(guild_id)

    def by_id(self, study_id: int) -> model.StudySnapshot | None:
        return self._by_id.get(study_id)

    def all(self) -> list[model.StudySnapshot]:
        return list(self._by_id.values())

    async def load_all(self) -> None:
        """Load every owned study: one query for the studies, then four per batch of `LOAD_BATCH` studies.

        Only owned studies are read (the shard rule is evaluated by the database), and their rows a batch at
        a time, so a process never holds the rows of more than one batch — at 10,000 studies the rows of all
        of them at once (~1 million) made the process's memory peak, and CPython keeps most of such a peak.
        Plain rows (no ORM identity map), and the cyclic GC paused while building: collections during the
        build cost more than the queries did.
        """
        shards = self._shards
        async with self._sessionmaker() as session:
            studies = [
                row
                for row in await SnapshotRepository.studies(
                    session,
                    shard_ids=shards.shard_ids if shards else (),
                    shard_count=shards.shard_count if shards else 0,
                )
                if self._owns(row.guild_id)
            ]
        built: list[model.StudySnapshot] = []
        for start in range(0, len(studies), LOAD_BATCH):
            batch = studies[start : start + LOAD_BATCH]
            async with self._sessionmaker() as session:
                rows = await SnapshotRepository.rows_of(session, [study.id for study in batch])
            enabled = gc.isenabled()
            gc.disable()
            try:
                grouped: dict[str, defaultdict[int, list[Any]]] = {name: defaultdict(list) for name in rows}
                for name, table_rows in rows.items():
                    for row in table_rows:
                        grouped[name][row.study_id].append(row)
                del rows
                for study in batch:
                    sid = study.id
                    built.append(
                        build_snapshot(
                            study,
                            grouped["member"][sid],
                            grouped["week"][sid],
                            grouped["material"][sid],
                            grouped["change"][sid],
                        )
                    )
                del grouped
            finally:
                if enabled:
                    gc.enable()
        self._by_id.clear()
        self._by_guild.clear()
        for snap in built:
            self._store(snap)

    async def refresh(self, study_id: int) -> model.StudySnapshot | None:
        # One refresh per study at a time: reads then happen in commit order, so an older read can never
        # overwrite a newer snapshot.
        async with self._locks.setdefault(study_id, asyncio.Lock()):
            return await self._refresh(study_id)

    async def _refresh(self, study_id: int) -> model.StudySnapshot | None:
        async with self._sessionmaker() as session:
            study = await StudyRepository.get(session, study_id=study_id)
            if study is None or not self._owns(study.guild_id):
                old = self._by_id.pop(study_id, None)
                if old is not None:
                    self._by_guild.pop(old.guild_id, None)
                return None
            snap = build_snapshot(
                study,
                await MemberRepository.for_study(session, study_id=study_id),
                await CurriculumRepository.weeks(session, study_id=study_id),
                await CurriculumRepository.materials(session, study_id=study_id),
                await SessionChangeRepository.for_study(session, study_id=study_id),
            )
        old = self._by_id.get(study_id)
        if old is not None and old.guild_id != snap.guild_id:
            self._by_guild.pop(old.guild_id, None)
        self._store(snap)
        return snap

    async def reload_changed(self) -> list[int]:
        """Pick up writes made outside this process (e.g. `studybot import` while the bot runs)."""
        async with self._sessionmaker() as session:
            query = select(db.Study.id, db.Study.revision, db.Study.guild_id)
            rows = {row[0]: row[1] for row in (await session.execute(query)).all() if self._owns(row[2])}
        changed = [sid for sid, rev in rows.items() if sid not in self._by_id or self._by_id[sid].revision != rev]
        changed += [sid for sid in list(self._by_id) if sid not in rows]
        if changed:
            log.info("picked up %d studies changed elsewhere: %s", len(changed), changed[:20])
        for study_id in changed:
            await self.changed(study_id, elsewhere=True)
        return changed

    async def changed_guild(self, guild_id: int) -> bool:
        """A server's study was edited elsewhere (another process said so): refresh it when this process owns
        it and its revision differs from the snapshot. True when it was refreshed."""
        if not self._owns(guild_id):
            return False
        async with self._sessionmaker() as session:
            query = select(db.Study.id, db.Study.revision).where(db.Study.guild_id == guild_id)
            row = (await session.execute(query)).first()
        snap = self._by_guild.get(guild_id)
        if row is None:
            if snap is None:
                return False
            await self.changed(snap.id, elsewhere=True)
            return True
        if snap is not None and snap.id == row[0] and snap.revision == row[1]:
            return False
        if snap is not None and snap.id != row[0]:
            await self.changed(snap.id, elsewhere=True)
        await self.changed(row[0], elsewhere=True)
        return True

    async def changed(self, study_id: int, *, elsewhere: bool = False) -> None:
        """Refresh after a committed write and tell the listeners. Called by the write path itself
        (`Service.edit`), never by hand; `timing` tells listeners whether anything reminders are planned
        from changed, derived by comparing the snapshots rather than chosen by each caller. `elsewhere`:
        the write was made through another process (logged once the snapshot is fresh)."""
        old = self._by_id.get(study_id)
        new = await self.refresh(study_id)
        if elsewhere:
            log.info("study %s (server %s) refreshed after an edit elsewhere", study_id, new.guild_id if new else "-")
        timing = old is None or new is None or timing_key(old) != timing_key(new)
        for listener in self._listeners:
            try:
                await listener(study_id, timing)
            except Exception:
                log.exception("listener failed after change of study %s", study_id)

    def _store(self, snap: model.StudySnapshot) -> None:
        self._by_id[snap.id] = snap
        self._by_guild[snap.guild_id] = snap

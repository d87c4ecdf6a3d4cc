"""Typed repositories: every query the services need, with keyword-only arguments, returning models.

Repositories never commit; the service that calls them owns the transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, delete, func, literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import (
    Attendance,
    AuditEntry,
    BotState,
    CurriculumWeek,
    Delivery,
    Material,
    Member,
    RosterClaim,
    ScheduledEventLink,
    SessionChange,
    Study,
    StudyLog,
)


class StudyRepository:
    @staticmethod
    async def by_guild(session: AsyncSession, *, guild_id: int) -> Study | None:
        result = await session.execute(select(Study).where(Study.guild_id == guild_id))
        return result.scalar_one_or_none()

    @staticmethod
    async def get(session: AsyncSession, *, study_id: int) -> Study | None:
        return await session.get(Study, study_id)

    @staticmethod
    async def lock_by_guild(session: AsyncSession, *, guild_id: int) -> Study | None:
        """The server's study, locked until the transaction ends, so edits of one study run one at a time —
        across processes too, since the lock lives in the database.

        PostgreSQL: `SELECT … FOR UPDATE` locks the row. SQLite locks the whole file for writing: a write as
        the transaction's first statement (a no-op UPDATE) takes that lock at once, and a second writer waits
        for it (busy_timeout) instead of reading state that is about to change. Either way the row is read
        after the lock is held, so every check in the edit sees the latest committed state.
        """
        query = select(Study).where(Study.guild_id == guild_id).execution_options(populate_existing=True)
        if session.get_bind().dialect.name == "sqlite":
            await session.execute(update(Study).where(Study.guild_id == guild_id).values(guild_id=Study.guild_id))
        else:
            query = query.with_for_update()
        return (await session.execute(query)).scalar_one_or_none()

    @staticmethod
    async def all(session: AsyncSession) -> Sequence[Study]:
        return (await session.execute(select(Study).order_by(Study.id))).scalars().all()

    @staticmethod
    async def ids(session: AsyncSession) -> list[int]:
        return list((await session.execute(select(Study.id).order_by(Study.id))).scalars())


class SnapshotRepository:
    @staticmethod
    async def studies(
        session: AsyncSession, *, shard_ids: Sequence[int] = (), shard_count: int = 0
    ) -> Sequence[Row[Any]]:
        """Every study row (ordered by id); with a shard count, only those of servers on `shard_ids`
        (Discord's rule `(guild_id >> 22) % shard_count`, evaluated by the database)."""
        study = Study.__table__
        query = select(study).order_by(study.c.id)
        if shard_count:
            # Literal numbers: PostgreSQL shifts a bigint by an integer only (a bound parameter is a bigint).
            shifted = study.c.guild_id.op(">>")(literal_column("22")).op("%")(literal_column(str(int(shard_count))))
            query = query.where(shifted.in_([int(i) for i in shard_ids]))
        return (await session.execute(query)).all()

    @staticmethod
    async def rows_of(session: AsyncSession, study_ids: Sequence[int]) -> dict[str, Sequence[Row[Any]]]:
        """The member, week, material and change rows of these studies, ordered as the snapshots list them."""
        member, week, change, material = (
            Member.__table__,
            CurriculumWeek.__table__,
            SessionChange.__table__,
            Material.__table__,
        )
        ids = list(study_ids)
        queries = {
            "member": select(member).where(member.c.study_id.in_(ids)).order_by(member.c.study_id, member.c.id),
            "week": select(week).where(week.c.study_id.in_(ids)).order_by(week.c.study_id, week.c.number),
            "material": select(material)
            .where(material.c.study_id.in_(ids))
            .order_by(material.c.study_id, material.c.week_id, material.c.position, material.c.id),
            "change": select(change)
            .where(change.c.study_id.in_(ids))
            .order_by(change.c.study_id, change.c.original_date),
        }
        return {name: (await session.execute(query)).all() for name, query in queries.items()}


class MemberRepository:
    @staticmethod
    async def for_study(session: AsyncSession, *, study_id: int | None = None) -> Sequence[Member]:
        query = select(Member).order_by(Member.study_id, Member.id)
        if study_id is not None:
            query = query.where(Member.study_id == study_id)
        return (await session.execute(query)).scalars().all()

    @staticmethod
    async def by_name(session: AsyncSession, *, study_id: int, name: str) -> Member | None:
        query = select(Member).where(Member.study_id == study_id, Member.name == name)
        return (await session.execute(query)).scalar_one_or_none()

    @staticmethod
    async def by_user(session: AsyncSession, *, study_id: int, user_id: int) -> Member | None:
        query = select(Member).where(Member.study_id == study_id, Member.discord_user_id == user_id)
        return (await session.execute(query)).scalar_one_or_none()

    @staticmethod
    async def count(session: AsyncSession, *, study_id: int) -> int:
        query = select(func.count()).select_from(Member).where(Member.study_id == study_id)
        return int((await session.execute(query)).scalar_one())


class CurriculumRepository:
    @staticmethod
    async def weeks(session: AsyncSession, *, study_id: int | None = None) -> Sequence[CurriculumWeek]:
        query = select(CurriculumWeek).order_by(CurriculumWeek.study_id, CurriculumWeek.number)
        if study_id is not None:
            query = query.where(CurriculumWeek.study_id == study_id)
        return (await session.execute(query)).scalars().all()

    @staticmethod
    async def week(session: AsyncSession, *, study_id: int, number: int) -> CurriculumWeek | None:
        query = select(CurriculumWeek).where(CurriculumWeek.study_id == study_id, CurriculumWeek.number == number)
        return (await session.execute(query)).scalar_one_or_none()

    @staticmethod
    async def materials(session: AsyncSession, *, study_id: int | None = None) -> Sequence[Material]:
        query = select(Material).order_by(Material.study_id, Material.week_id, Material.position, Material.id)
        if study_id is not None:
            query = query.where(Material.study_id == study_id)
        return (await session.execute(query)).scalars().all()

    @staticmethod
    async def materials_of_week(session: AsyncSession, *, study_id: int, week_id: int | None) -> Sequence[Material]:
        query = select(Material).where(Material.study_id == study_id)
        query = query.where(Material.week_id.is_(None) if week_id is None else Material.week_id == week_id)
        return (await session.execute(query.order_by(Material.position, Material.id))).scalars().all()

    @staticmethod
    async def material(session: AsyncSession, *, study_id: int, material_id: int) -> Material | None:
        query = select(Material).where(Material.study_id == study_id, Material.id == material_id)
        return (await session.execute(query)).scalar_one_or_none()

    @staticmethod
    async def delete_all(session: AsyncSession, *, study_id: int) -> None:
        await session.execute(delete(Material).where(Material.study_id == study_id))
        await session.execute(delete(CurriculumWeek).where(CurriculumWeek.study_id == study_id))


class SessionChangeRepository:
    @staticmethod
    async def for_study(session: AsyncSession, *, study_id: int | None = None) -> Sequence[SessionChange]:
        query = select(SessionChange).order_by(SessionChange.study_id, SessionChange.original_date)
        if study_id is not None:
            query = query.where(SessionChange.study_id == study_id)
        return (await session.execute(query)).scalars().all()

    @staticmethod
    async def on(session: AsyncSession, *, study_id: int, original_date: date) -> SessionChange | None:
        query = select(SessionChange).where(
            SessionChange.study_id == study_id, SessionChange.original_date == original_date
        )
        return (await session.execute(query)).scalar_one_or_none()


class AuditRepository:
    @staticmethod
    def add(
        session: AsyncSession,
        *,
        study_id: int,
        actor_id: int | None,
        actor_name: str,
        action: str,
        target: str,
        before: Any,
        after: Any,
        at: datetime,
    ) -> AuditEntry:
        entry = AuditEntry(
            study_id=study_id,
            actor_id=actor_id,
            actor_name=actor_name[:100],
            action=action,
            target=target[:200],
            before="" if before is None else json.dumps(before, ensure_ascii=False, default=str),
            after="" if after is None else json.dumps(after, ensure_ascii=False, default=str),
            created_at=at,
        )
        session.add(entry)
        return entry

    @staticmethod
    async def latest(session: AsyncSession, *, study_id: int, limit: int = 10) -> Sequence[AuditEntry]:
        query = select(AuditEntry).where(AuditEntry.study_id == study_id).order_by(AuditEntry.id.desc()).limit(limit)
        return (await session.execute(query)).scalars().all()

    @staticmethod
    async def count(session: AsyncSession, *, study_id: int | None = None) -> int:
        query = select(func.count()).select_from(AuditEntry)
        if study_id is not None:
            query = query.where(AuditEntry.study_id == study_id)
        return int((await session.execute(query)).scalar_one())


class DeliveryRepository:
    @staticmethod
    async def get(session: AsyncSession, *, study_id: int, occurrence: datetime, kind: str) -> Delivery | None:
        query = select(Delivery).where(
            Delivery.study_id == study_id, Delivery.occurrence == occurrence, Delivery.kind == kind
        )
        return (await session.execute(query)).scalar_one_or_none()

    @staticmethod
    async def keys_since(
        session: AsyncSession, *, study_id: int | None, since: datetime
    ) -> list[tuple[int, datetime, str]]:
        query = select(Delivery.study_id, Delivery.occurrence, Delivery.kind).where(Delivery.due_at >= since)
        if study_id is not None:
            query = query.where(Delivery.study_id == study_id)
        return [(row[0], row[1], row[2]) for row in (await session.execute(query)).all()]

    @staticmethod
    async def with_status(session: AsyncSession, *, status: str) -> Sequence[Delivery]:
        query = select(Delivery).where(Delivery.status == status).order_by(Delivery.due_at)
        return (await session.execute(query)).scalars().all()

    @staticmethod
    async def latest(session: AsyncSession, *, study_id: int, limit: int = 10) -> Sequence[Delivery]:
        query = (
            select(Delivery)
            .where(Delivery.study_id == study_id)
            .order_by(Delivery.due_at.desc(), Delivery.id.desc())
            .limit(limit)
        )
        return (await session.execute(query)).scalars().all()

    @staticmethod
    async def all(session: AsyncSession, *, study_id: int | None = None) -> Sequence[Delivery]:
        query = select(Delivery).order_by(Delivery.id)
        if study_id is not None:
            query = query.where(Delivery.study_id == study_id)
        return (await session.execute(query)).scalars().all()


class AttendanceRepository:
    @staticmethod
    async def get(session: AsyncSession, *, study_id: int, member_id: int, original_date: date) -> Attendance | None:
        query = select(Attendance).where(
            Attendance.study_id == study_id,
            Attendance.member_id == member_id,
            Attendance.original_date == original_date,
        )
        return (await session.execute(query)).scalar_one_or_none()

    @staticmethod
    async def for_study(session: AsyncSession, *, study_id: int) -> Sequence[Attendance]:
        """Every attendance record of the study, by session then member."""
        query = (
            select(Attendance)
            .where(Attendance.study_id == study_id)
            .order_by(Attendance.original_date, Attendance.member_id)
        )
        return (await session.execute(query)).scalars().all()

    @staticmethod
    async def for_session(session: AsyncSession, *, study_id: int, original_date: date) -> Sequence[Attendance]:
        query = (
            select(Attendance)
            .where(Attendance.study_id == study_id, Attendance.original_date == original_date)
            .order_by(Attendance.checked_in_at, Attendance.id)
        )
        return (await session.execute(query)).scalars().all()

    @staticmethod
    async def for_member(session: AsyncSession, *, study_id: int, member_id: int) -> Sequence[Attendance]:
        query = (
            select(Attendance)
            .where(Attendance.study_id == study_id, Attendance.member_id == member_id)
            .order_by(Attendance.original_date)
        )
        return (await session.execute(query)).scalars().all()


class RosterClaimRepository:
    @staticmethod
    async def by_user(session: AsyncSession, *, study_id: int, user_id: int) -> RosterClaim | None:
        query = select(RosterClaim).where(RosterClaim.study_id == study_id, RosterClaim.discord_user_id == user_id)
        return (await session.execute(query)).scalar_one_or_none()

    @staticmethod
    async def by_member(session: AsyncSession, *, study_id: int, member_id: int) -> RosterClaim | None:
        query = select(RosterClaim).where(RosterClaim.study_id == study_id, RosterClaim.member_id == member_id)
        return (await session.execute(query)).scalar_one_or_none()

    @staticmethod
    async def for_study(session: AsyncSession, *, study_id: int) -> Sequence[RosterClaim]:
        query = select(RosterClaim).where(RosterClaim.study_id == study_id).order_by(RosterClaim.created_at)
        return (await session.execute(query)).scalars().all()


class StudyLogRepository:
    @staticmethod
    async def for_session(session: AsyncSession, *, study_id: int, original_date: date) -> Sequence[StudyLog]:
        """Every log posted for one session (named by its original date), oldest first."""
        query = (
            select(StudyLog)
            .where(StudyLog.study_id == study_id, StudyLog.original_date == original_date)
            .order_by(StudyLog.created_at, StudyLog.id)
        )
        return (await session.execute(query)).scalars().all()

    @staticmethod
    async def find(
        session: AsyncSession, *, study_id: int, member_id: int | None = None, original_date: date | None = None
    ) -> Sequence[StudyLog]:
        """A study's logs, optionally one member's and/or one session's, oldest first."""
        query = select(StudyLog).where(StudyLog.study_id == study_id)
        if member_id is not None:
            query = query.where(StudyLog.member_id == member_id)
        if original_date is not None:
            query = query.where(StudyLog.original_date == original_date)
        return (await session.execute(query.order_by(StudyLog.created_at, StudyLog.id))).scalars().all()

    @staticmethod
    async def own(session: AsyncSession, *, study_id: int, member_id: int, log_id: int) -> StudyLog | None:
        """One log, only if it belongs to this member of this study."""
        query = select(StudyLog).where(
            StudyLog.id == log_id, StudyLog.study_id == study_id, StudyLog.member_id == member_id
        )
        return (await session.execute(query)).scalar_one_or_none()

    @staticmethod
    async def posted(session: AsyncSession, *, study_id: int) -> set[tuple[int, date]]:
        """Every (member id, session date) with at least one log."""
        query = select(StudyLog.member_id, StudyLog.original_date).where(StudyLog.study_id == study_id).distinct()
        return {(member_id, day) for member_id, day in (await session.execute(query)).all()}


class RecordsRepository:
    @staticmethod
    async def logs(session: AsyncSession, *, study_id: int) -> Sequence[StudyLog]:
        """Every study log of the study, by session then time (the records export)."""
        query = (
            select(StudyLog)
            .where(StudyLog.study_id == study_id)
            .order_by(StudyLog.original_date, StudyLog.created_at, StudyLog.id)
        )
        return (await session.execute(query)).scalars().all()


class EventLinkRepository:
    @staticmethod
    async def for_study(session: AsyncSession, *, study_id: int) -> Sequence[ScheduledEventLink]:
        query = select(ScheduledEventLink).where(ScheduledEventLink.study_id == study_id)
        return (await session.execute(query)).scalars().all()


class BotStateRepository:
    @staticmethod
    async def get(session: AsyncSession, *, key: str) -> str | None:
        row = await session.get(BotState, key)
        return None if row is None else row.value

    @staticmethod
    async def put(session: AsyncSession, *, key: str, value: str) -> None:
        """Insert or overwrite in one statement: processes starting together may write the same key."""
        if session.get_bind().dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            await session.execute(
                pg_insert(BotState)
                .values(key=key, value=value)
                .on_conflict_do_update(index_elements=[BotState.key], set_={"value": value})
            )
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            await session.execute(
                sqlite_insert(BotState)
                .values(key=key, value=value)
                .on_conflict_do_update(index_elements=[BotState.key], set_={"value": value})
            )

"""Import and export study definitions (the TOML files under `studies/`).

Import makes the database match the file for one server, in one transaction, and does nothing at all
when they already match — so import → export → import changes nothing and writes no audit row.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.definition import MaterialDefinition, MemberDefinition, StudyDefinition, WeekDefinition
from bot.core.guide import guide_from_json, guide_to_json
from bot.core.model import MaterialKind, MemberRole, Recurrence
from bot.core.schedule import first_slot_date
from bot.core.validation import safe_url
from bot.db import models as db
from bot.db.repositories import CurriculumRepository, MemberRepository, StudyRepository
from bot.services.base import Actor, Service
from bot.services.directory import offsets_from_db, parse_hhmm


def _exported_url(url: str) -> str:
    """A link stored before the rulebook normalized links is written in its normalized form, so the file
    imports back; one the rulebook cannot make safe is written as stored, and import says what is wrong."""
    return (safe_url(url) or url) if url else ""


async def export_study(session: AsyncSession, study: db.Study) -> StudyDefinition:
    members = await MemberRepository.for_study(session, study_id=study.id)
    weeks = await CurriculumRepository.weeks(session, study_id=study.id)
    materials = await CurriculumRepository.materials(session, study_id=study.id)

    def material(row: db.Material) -> MaterialDefinition:
        try:
            kind = MaterialKind(row.kind)
        except ValueError:
            kind = MaterialKind.LINK
        return MaterialDefinition(title=row.title, title_en=row.title_en, url=_exported_url(row.url), kind=kind)

    rec = Recurrence(
        weekday=study.weekday,
        start_time=parse_hhmm(study.start_time),
        duration=timedelta(minutes=study.duration_minutes),
        timezone=study.timezone,
        first_date=study.first_session,
    )
    return StudyDefinition(
        name=study.name,
        description=study.description,
        timezone=study.timezone,
        locale=study.locale,
        weekday=study.weekday,
        start_time=rec.start_time,
        duration_minutes=study.duration_minutes,
        # The file format insists the first session falls on the weekday; after a weekday change in
        # Discord the real first session is the next such day, so that is what is written.
        first_session=first_slot_date(rec),
        location_name=study.location_name,
        location_url=_exported_url(study.location_url),
        reminder_offsets_minutes=tuple(int(o.total_seconds() // 60) for o in offsets_from_db(study.reminder_offsets)),
        members=tuple(
            MemberDefinition(
                name=m.name,
                role=MemberRole(m.role),
                discord_user_id=m.discord_user_id,
                github=_exported_url(m.github),
                blog=_exported_url(m.blog),
                joined=m.joined_on,
            )
            for m in members
        ),
        resources=tuple(material(m) for m in materials if m.week_id is None),
        weeks=tuple(
            WeekDefinition(
                number=w.number,
                title=w.title,
                title_en=w.title_en,
                notes=w.notes,
                materials=tuple(material(m) for m in materials if m.week_id == w.id),
            )
            for w in weeks
        ),
        guide=guide_from_json(study.guide),
    )


def keep_links(definition: StudyDefinition, current: StudyDefinition) -> StudyDefinition:
    """A file without Discord ids keeps the links members made in Discord (matched by name)."""
    linked = {m.name: m.discord_user_id for m in current.members if m.discord_user_id}
    taken = {m.discord_user_id for m in definition.members if m.discord_user_id}
    members = tuple(
        replace(m, discord_user_id=linked[m.name])
        if m.discord_user_id is None and m.name in linked and linked[m.name] not in taken
        else m
        for m in definition.members
    )
    return replace(definition, members=members)


class DefinitionService(Service):
    async def import_definition(
        self,
        *,
        guild_id: int,
        definition: StudyDefinition,
        actor: Actor,
        reminder_channel_id: int | None = None,
        ping_role_id: int | None = None,
        admin_role_id: int | None = None,
    ) -> tuple[int, bool]:
        """Create or update the study of `guild_id` from `definition`; returns (study id, changed?)."""
        now = self.clock.now()
        async with self.transaction() as session:
            study = await StudyRepository.lock_by_guild(session, guild_id=guild_id)
            created = study is None
            if study is None:
                study = db.Study(
                    guild_id=guild_id,
                    reminder_channel_id=reminder_channel_id,
                    ping_role_id=ping_role_id,
                    admin_role_id=admin_role_id,
                    paused=False,
                    created_at=now,
                    updated_at=now,
                    first_session=definition.first_session,
                    public_id=secrets.token_hex(8),
                    revision=0,
                )
                session.add(study)
                before = None
            else:
                current = await export_study(session, study)
                definition = keep_links(definition, current)
                if current == definition:
                    return study.id, False
                before = {"name": study.name, "members": len(current.members), "weeks": len(current.weeks)}
            study.name = definition.name
            study.description = definition.description
            study.timezone = definition.timezone
            study.locale = definition.locale
            study.weekday = definition.weekday
            study.start_time = definition.start_time.strftime("%H:%M")
            study.duration_minutes = definition.duration_minutes
            study.first_session = definition.first_session
            study.location_name = definition.location_name
            study.location_url = definition.location_url
            study.reminder_offsets = ",".join(str(m) for m in definition.reminder_offsets_minutes)
            study.guide = guide_to_json(definition.guide)
            await session.flush()
            await self._sync_members(session, study, definition)
            await CurriculumRepository.delete_all(session, study_id=study.id)
            await session.flush()
            for position, resource in enumerate(definition.resources):
                session.add(self._material(study.id, None, position, resource))
            for week_def in definition.weeks:
                week = db.CurriculumWeek(
                    study_id=study.id,
                    number=week_def.number,
                    title=week_def.title,
                    title_en=week_def.title_en,
                    notes=week_def.notes,
                )
                session.add(week)
                await session.flush()
                for position, item in enumerate(week_def.materials):
                    session.add(self._material(study.id, week.id, position, item))
            self.audit(
                session,
                study=study,
                actor=actor,
                action="study.create" if created else "study.import",
                target=definition.name,
                before=before,
                after={"name": definition.name, "members": len(definition.members), "weeks": len(definition.weeks)},
                summary=True,
            )
            study_id = study.id
        await self.directory.changed(study_id)
        return study_id, True

    async def export_definition(self, *, guild_id: int) -> StudyDefinition:
        async with self.sessionmaker() as session:
            study = await self.load_study(session, guild_id)
            return await export_study(session, study)

    @staticmethod
    def _material(study_id: int, week_id: int | None, position: int, item: MaterialDefinition) -> db.Material:
        return db.Material(
            study_id=study_id,
            week_id=week_id,
            title=item.title,
            title_en=item.title_en,
            url=item.url,
            kind=item.kind.value,
            position=position,
        )

    @staticmethod
    async def _sync_members(session: AsyncSession, study: db.Study, definition: StudyDefinition) -> None:
        """Make the roster match the file; members keep their row (and id) when their name is unchanged."""
        existing = {m.name: m for m in await MemberRepository.for_study(session, study_id=study.id)}
        wanted = {m.name for m in definition.members}
        for name, row in existing.items():
            if name not in wanted:
                await session.delete(row)
        await session.flush()
        # Unlink first so a Discord id can move from one member to another without a UNIQUE clash.
        for row in existing.values():
            if row.name in wanted:
                row.discord_user_id = None
        await session.flush()
        for member in definition.members:
            found = existing.get(member.name)
            if found is None:
                row = db.Member(study_id=study.id, name=member.name)
                session.add(row)
            else:
                row = found
            row.role = member.role.value
            row.discord_user_id = member.discord_user_id
            row.github = member.github
            row.blog = member.blog
            row.joined_on = member.joined
        await session.flush()

"""Curriculum use cases: set a week's topic, add or remove a material (a week's, or study-wide)."""

from __future__ import annotations

from bot.core.model import MaterialKind
from bot.core.validation import clean_title, clean_url
from bot.db import models as db
from bot.db.repositories import CurriculumRepository
from bot.errors import UserError
from bot.services.base import Actor, Service

MATERIALS_PER_WEEK_MAX = 50
WEEKS_MAX = 104


class CurriculumService(Service):
    async def set_topic(
        self, *, guild_id: int | None, actor: Actor, week: int, title: str, title_en: str | None = None
    ) -> int:
        clean = clean_title(title)
        clean_en = clean_title(title_en) if title_en else None
        if not 1 <= week <= WEEKS_MAX:
            raise UserError("error.week_range", week=week, max=WEEKS_MAX)
        async with self.edit_study(guild_id) as (session, study):
            row = await CurriculumRepository.week(session, study_id=study.id, number=week)
            weeks = await CurriculumRepository.weeks(session, study_id=study.id)
            count = len(weeks)
            if row is None:
                # Setting the topic of the week right after the last one extends the curriculum by a week.
                if week != count + 1 or week > WEEKS_MAX:
                    raise UserError("error.week_range", week=week, max=count + 1 if count < WEEKS_MAX else count)
                row = db.CurriculumWeek(study_id=study.id, number=week, title=clean, title_en=clean_en or "", notes="")
                session.add(row)
                before = None
            else:
                before = {"title": row.title, "title_en": row.title_en}
                row.title = clean
                if clean_en is not None:
                    row.title_en = clean_en
            self.audit(
                session,
                study=study,
                actor=actor,
                action="curriculum.set_topic",
                target=f"week {week}",
                before=before,
                after={"title": row.title, "title_en": row.title_en},
            )
        return week

    async def add_material(
        self,
        *,
        guild_id: int | None,
        actor: Actor,
        week: int | None,
        title: str,
        url: str,
        kind: str = "link",
        title_en: str | None = None,
    ) -> int:
        """Add a material to `week` (None or 0 = study-wide); returns its item number in that list."""
        clean = clean_title(title)
        clean_en = clean_title(title_en) if title_en else ""
        link = clean_url(url)
        try:
            material_kind = MaterialKind(kind)
        except ValueError:
            raise UserError(
                "curriculum.bad_kind", value=kind[:30], allowed=", ".join(k.value for k in MaterialKind)
            ) from None
        async with self.edit_study(guild_id) as (session, study):
            week_id = await self._week_id(session, study, week)
            existing = await CurriculumRepository.materials_of_week(session, study_id=study.id, week_id=week_id)
            if len(existing) >= MATERIALS_PER_WEEK_MAX:
                raise UserError("curriculum.too_many", limit=MATERIALS_PER_WEEK_MAX)
            if any(m.url == link for m in existing):
                raise UserError("curriculum.duplicate_url", url=link)
            position = (max((m.position for m in existing), default=-1)) + 1
            session.add(
                db.Material(
                    study_id=study.id,
                    week_id=week_id,
                    title=clean,
                    title_en=clean_en,
                    url=link,
                    kind=material_kind.value,
                    position=position,
                )
            )
            self.audit(
                session,
                study=study,
                actor=actor,
                action="curriculum.add_material",
                target=f"week {week or 0}",
                before=None,
                after={"title": clean, "url": link, "kind": material_kind.value},
            )
            item = len(existing) + 1
        return item

    async def remove_material(self, *, guild_id: int | None, actor: Actor, material_id: int) -> str:
        """Remove one material, named by its id (stable, unlike its position in a list that shifts when
        another admin removes something first: two removals of "item 1" at once remove one material)."""
        async with self.edit_study(guild_id) as (session, study):
            material = await CurriculumRepository.material(session, study_id=study.id, material_id=material_id)
            if material is None:
                raise UserError("curriculum.material_gone")
            week_number = 0
            if material.week_id is not None:
                week_row = await session.get(db.CurriculumWeek, material.week_id)
                week_number = week_row.number if week_row is not None else 0
            before = {"title": material.title, "url": material.url, "kind": material.kind}
            await session.delete(material)
            self.audit(
                session,
                study=study,
                actor=actor,
                action="curriculum.remove_material",
                target=f"week {week_number}",
                before=before,
                after=None,
            )
        return str(before["title"])

    @staticmethod
    async def _week_id(session: object, study: db.Study, week: int | None) -> int | None:
        if not week:
            return None
        if not 0 <= week <= WEEKS_MAX:
            raise UserError("error.week_range", week=week, max=WEEKS_MAX)
        row = await CurriculumRepository.week(session, study_id=study.id, number=week)  # type: ignore[arg-type]
        if row is None:
            count = len(await CurriculumRepository.weeks(session, study_id=study.id))  # type: ignore[arg-type]
            raise UserError("error.week_range", week=week, max=count)
        return row.id

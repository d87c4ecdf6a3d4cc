"""Roster use cases: add, remove, edit and link members; each one transaction with an audit row."""

from __future__ import annotations

from typing import Any

from bot.core import validation as rules
from bot.core.model import MemberRole
from bot.db import models as db
from bot.db.repositories import MemberRepository
from bot.errors import UserError
from bot.services.base import Actor, Service

MEMBERS_MAX = rules.MEMBERS_MAX


def member_state(member: db.Member) -> dict[str, Any]:
    return {
        "name": member.name,
        "role": member.role,
        "user": member.discord_user_id,
        "github": member.github,
        "blog": member.blog,
    }


class RosterService(Service):
    async def add(
        self,
        *,
        guild_id: int | None,
        actor: Actor,
        name: str,
        user_id: int | None = None,
        github: str | None = None,
        blog: str | None = None,
        role: str | None = None,
    ) -> str:
        clean = rules.clean_name(name)
        github_url = rules.clean_url(github or "", field="github", required=False)
        blog_url = rules.clean_url(blog or "", field="blog", required=False)
        member_role = self._role(role) if role else MemberRole.MEMBER
        async with self.edit_study(guild_id) as (session, study):
            await self._ensure_name_free(session, study.id, clean, None)
            if await MemberRepository.count(session, study_id=study.id) >= MEMBERS_MAX:
                raise UserError("roster.full", limit=MEMBERS_MAX)
            if user_id is not None:
                await self._ensure_user_free(session, study.id, user_id, None)
            member = db.Member(
                study_id=study.id,
                name=clean,
                discord_user_id=user_id,
                role=member_role.value,
                github=github_url,
                blog=blog_url,
                joined_on=self.clock.now().date(),
            )
            session.add(member)
            self.audit(
                session,
                study=study,
                actor=actor,
                action="roster.add",
                target=clean,
                before=None,
                after=member_state(member),
            )
        return clean

    async def remove(self, *, guild_id: int | None, actor: Actor, name: str) -> str:
        async with self.edit_study(guild_id) as (session, study):
            member = await self._find(session, study.id, name)
            before = member_state(member)
            await session.delete(member)
            self.audit(
                session, study=study, actor=actor, action="roster.remove", target=member.name, before=before, after=None
            )
        return before["name"]  # type: ignore[no-any-return]

    async def edit(
        self,
        *,
        guild_id: int | None,
        actor: Actor,
        name: str,
        new_name: str | None = None,
        github: str | None = None,
        blog: str | None = None,
        role: str | None = None,
        user_id: int | None = None,
    ) -> str:
        if all(v is None for v in (new_name, github, blog, role, user_id)):
            raise UserError("roster.nothing_to_change")
        clean_new = rules.clean_name(new_name, field="new_name") if new_name is not None else None
        github_url = rules.clean_url(github, field="github", required=False) if github is not None else None
        blog_url = rules.clean_url(blog, field="blog", required=False) if blog is not None else None
        member_role = self._role(role) if role is not None else None
        async with self.edit_study(guild_id) as (session, study):
            member = await self._find(session, study.id, name)
            before = member_state(member)
            if clean_new is not None and clean_new != member.name:
                await self._ensure_name_free(session, study.id, clean_new, member.id)
                member.name = clean_new
            if github_url is not None:
                member.github = github_url
            if blog_url is not None:
                member.blog = blog_url
            if member_role is not None:
                member.role = member_role.value
            if user_id is not None:
                await self._ensure_user_free(session, study.id, user_id, member.id)
                member.discord_user_id = user_id
            self.audit(
                session,
                study=study,
                actor=actor,
                action="roster.edit",
                target=before["name"],
                before=before,
                after=member_state(member),
            )
            result = member.name
        return result

    async def link(self, *, guild_id: int | None, actor: Actor, name: str, user_id: int) -> str:
        async with self.edit_study(guild_id) as (session, study):
            member = await self._find(session, study.id, name)
            before = member_state(member)
            await self._ensure_user_free(session, study.id, user_id, member.id)
            member.discord_user_id = user_id
            self.audit(
                session,
                study=study,
                actor=actor,
                action="roster.link",
                target=member.name,
                before=before,
                after=member_state(member),
            )
            result = member.name
        return result

    @staticmethod
    def _role(role: str) -> MemberRole:
        return MemberRole(rules.check_role(role))

    @staticmethod
    async def _ensure_name_free(session: Any, study_id: int, name: str, member_id: int | None) -> None:
        """Names are unique ignoring case, as in the definition file (so every roster exports and imports)."""
        wanted = rules.name_key(name)
        for other in await MemberRepository.for_study(session, study_id=study_id):
            if other.id != member_id and rules.name_key(other.name) == wanted:
                raise UserError("roster.duplicate", name=other.name)

    @staticmethod
    async def _find(session: Any, study_id: int, name: str) -> db.Member:
        member = await MemberRepository.by_name(session, study_id=study_id, name=name.strip())
        if member is None:
            raise UserError("roster.unknown", name=name.strip()[:100])
        return member

    @staticmethod
    async def _ensure_user_free(session: Any, study_id: int, user_id: int, member_id: int | None) -> None:
        owner = await MemberRepository.by_user(session, study_id=study_id, user_id=user_id)
        if owner is not None and owner.id != member_id:
            raise UserError("roster.user_taken", user=f"<@{user_id}>", name=owner.name)

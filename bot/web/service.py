"""Turning a study's page on and off, rotating its address, listing it publicly, and members' link privacy.

Every change is one edit of the study (`Service.edit_study`: the study row locked, an audit row, published on
commit), so the page registry hears of it exactly like the snapshots do.
"""

from __future__ import annotations

import secrets

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import models as db
from bot.db.repositories import MemberRepository
from bot.errors import UserError
from bot.services.base import Actor, Service


def new_token() -> str:
    """24 URL-safe characters (144 random bits): the page's address cannot be guessed or enumerated."""
    return secrets.token_urlsafe(18)


class WebService(Service):
    async def _page(self, session: AsyncSession, study: db.Study) -> db.WebPage:
        page = (await session.execute(select(db.WebPage).where(db.WebPage.study_id == study.id))).scalar_one_or_none()
        if page is None:
            now = self.clock.now()
            page = db.WebPage(
                study_id=study.id, token=new_token(), enabled=False, public=False, created_at=now, updated_at=now
            )
            session.add(page)
            await session.flush()
        return page

    async def set_enabled(self, *, guild_id: int | None, actor: Actor, enabled: bool) -> None:
        async with self.edit_study(guild_id) as (session, study):
            page = await self._page(session, study)
            before = page.enabled
            page.enabled = enabled
            page.updated_at = self.clock.now()
            self.audit(
                session, study=study, actor=actor, action="web.enabled", target="web", before=before, after=enabled
            )

    async def set_public(self, *, guild_id: int | None, actor: Actor, public: bool) -> None:
        async with self.edit_study(guild_id) as (session, study):
            page = await self._page(session, study)
            before = page.public
            page.public = public
            page.updated_at = self.clock.now()
            self.audit(
                session, study=study, actor=actor, action="web.public", target="web", before=before, after=public
            )

    async def rotate(self, *, guild_id: int | None, actor: Actor) -> None:
        """A new address; the old one answers 404 from the moment this commits."""
        async with self.edit_study(guild_id) as (session, study):
            page = await self._page(session, study)
            page.token = new_token()
            page.updated_at = self.clock.now()
            # The audit row never holds the address itself: anyone reading the audit would learn it.
            self.audit(session, study=study, actor=actor, action="web.rotate", target="web", before="", after="")

    async def set_links_hidden(self, *, guild_id: int | None, actor: Actor, hidden: bool) -> str:
        """The member linked to `actor`'s Discord account hides (or shows) their links on the page."""
        if actor.user_id is None:
            raise UserError("web.privacy_not_member")
        async with self.edit_study(guild_id) as (session, study):
            member = await MemberRepository.by_user(session, study_id=study.id, user_id=actor.user_id)
            if member is None:
                raise UserError("web.privacy_not_member")
            existing = (
                await session.execute(select(db.WebHiddenLinks).where(db.WebHiddenLinks.member_id == member.id))
            ).scalar_one_or_none()
            if hidden and existing is None:
                session.add(db.WebHiddenLinks(study_id=study.id, member_id=member.id, created_at=self.clock.now()))
            elif not hidden and existing is not None:
                await session.execute(delete(db.WebHiddenLinks).where(db.WebHiddenLinks.id == existing.id))
            self.audit(
                session,
                study=study,
                actor=actor,
                action="web.links_hidden",
                target=member.name,
                before=existing is not None,
                after=hidden,
            )
            return member.name

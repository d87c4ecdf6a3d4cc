"""Which studies have a web page, at which address, and whose links stay hidden — kept in memory.

The web server answers from here and from the study snapshots, never from the database. The registry
listens to the snapshot directory: every committed edit of a study (a `/web` command included, since it goes
through `Service.edit_study`) reloads that study's page state. The maps are replaced, never mutated, so the
web server's thread always reads a consistent state without locks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.model import StudySnapshot
from bot.db import models as db
from bot.services.directory import StudyDirectory

TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")


@dataclass(frozen=True, slots=True)
class PageState:
    """One study's page: its address token, whether it is served, whether it is listed publicly."""

    study_id: int
    token: str
    enabled: bool
    public: bool
    hidden_member_ids: frozenset[int] = frozenset()


class WebRegistry:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], directory: StudyDirectory) -> None:
        self._sessionmaker = sessionmaker
        self.directory = directory
        self._by_study: Mapping[int, PageState] = {}
        self._by_token: Mapping[str, int] = {}
        self.version = 0  # raised on every change: part of the page cache's key

    async def load_all(self) -> None:
        async with self._sessionmaker() as session:
            pages = (await session.execute(select(db.WebPage))).scalars().all()
            hidden = (await session.execute(select(db.WebHiddenLinks))).scalars().all()
        by_study_hidden: dict[int, set[int]] = {}
        for row in hidden:
            by_study_hidden.setdefault(row.study_id, set()).add(row.member_id)
        states = {
            page.study_id: PageState(
                page.study_id, page.token, page.enabled, page.public, frozenset(by_study_hidden.get(page.study_id, ()))
            )
            for page in pages
        }
        self._publish(states)

    async def reload(self, study_id: int) -> PageState | None:
        async with self._sessionmaker() as session:
            page = (
                await session.execute(select(db.WebPage).where(db.WebPage.study_id == study_id))
            ).scalar_one_or_none()
            hidden = (
                await session.execute(select(db.WebHiddenLinks.member_id).where(db.WebHiddenLinks.study_id == study_id))
            ).scalars()
            state = (
                None if page is None else PageState(study_id, page.token, page.enabled, page.public, frozenset(hidden))
            )
        states = dict(self._by_study)
        if state is None:
            states.pop(study_id, None)
        else:
            states[study_id] = state
        self._publish(states)
        return state

    async def on_study_changed(self, study_id: int, timing_changed: bool) -> None:
        """Directory listener: a committed edit of the study may have changed its page."""
        await self.reload(study_id)

    def _publish(self, states: dict[int, PageState]) -> None:
        self._by_token = {s.token: s.study_id for s in states.values()}
        self._by_study = states
        self.version += 1

    # --- reads (any thread) -------------------------------------------------------------------------------
    def for_study(self, study_id: int) -> PageState | None:
        return self._by_study.get(study_id)

    def served(self, token: str) -> tuple[PageState, StudySnapshot] | None:
        """The page at `token` if it is on and its study exists; None for anything else (→ 404)."""
        study_id = self._by_token.get(token)
        if study_id is None:
            return None
        state = self._by_study.get(study_id)
        snap = self.directory.by_id(study_id)
        if state is None or not state.enabled or snap is None or state.token != token:
            return None
        return state, snap

    def public_pages(self) -> list[tuple[PageState, StudySnapshot]]:
        found = []
        for state in self._by_study.values():
            snap = self.directory.by_id(state.study_id)
            if state.enabled and state.public and snap is not None:
                found.append((state, snap))
        return sorted(found, key=lambda pair: pair[1].name)

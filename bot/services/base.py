"""What every service shares: the session factory, the clock, the snapshot directory, and the audit trail."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.core.model import StudySnapshot
from bot.db import models as db
from bot.db.repositories import AuditRepository, StudyRepository
from bot.errors import UserError
from bot.services.directory import StudyDirectory
from bot.services.notify import mark_changed


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asked for a change: a Discord user, or the command line (user_id None)."""

    user_id: int | None
    name: str

    @classmethod
    def cli(cls) -> Actor:
        return cls(None, "studybot cli")


class Service:
    def __init__(
        self, *, sessionmaker: async_sessionmaker[AsyncSession], clock: Clock, directory: StudyDirectory
    ) -> None:
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.directory = directory

    def snapshot(self, guild_id: int | None) -> StudySnapshot:
        snap = self.directory.by_guild(guild_id)
        if snap is None:
            raise UserError("error.no_study")
        return snap

    @asynccontextmanager
    async def edit_study(self, guild_id: int | None) -> AsyncIterator[tuple[AsyncSession, db.Study]]:
        """One edit of one study: its row locked for the whole transaction (edits of a study never
        interleave, in this process or another), committed when the block ends normally, rolled back on
        any exception — and once committed, published: the snapshot is refreshed and the listeners
        (reminders, server events) hear of it. No service has to remember to do that afterwards.

        A constraint the checks inside the block could not foresee (a row written by a path that does not
        take the lock) becomes a user error rather than an apology for an unexpected error.
        """
        if guild_id is None:
            raise UserError("error.no_study")
        try:
            async with self.sessionmaker() as session, session.begin():
                study = await StudyRepository.lock_by_guild(session, guild_id=guild_id)
                if study is None:
                    raise UserError("error.no_study")
                study_id = study.id
                yield session, study
        except IntegrityError as exc:
            raise UserError("error.conflict") from exc
        await self.directory.changed(study_id)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One transaction: committed when the block ends normally, rolled back on any exception."""
        async with self.sessionmaker() as session, session.begin():
            yield session

    async def load_study(self, session: AsyncSession, guild_id: int | None) -> db.Study:
        study = None if guild_id is None else await StudyRepository.by_guild(session, guild_id=guild_id)
        if study is None:
            raise UserError("error.no_study")
        return study

    def audit(
        self,
        session: AsyncSession,
        *,
        study: db.Study,
        actor: Actor,
        action: str,
        target: str,
        before: Any,
        after: Any,
        summary: bool = False,
    ) -> None:
        """Record one edit in the audit trail and raise the study's revision.

        `before`/`after` are the states of what was edited (dicts of fields, None when it did not or no longer
        exists). Only the fields that changed are recorded, so the trail shows what happened and nothing else.
        An edit that changed nothing is refused with `error.nothing_changed`: raised inside `edit_study`, that
        rolls the transaction back — no audit row, no revision, nothing written. `summary=True` marks
        before/after as a summary of a larger edit (an import), recorded as given.
        """
        if not summary:
            if before == after:
                raise UserError("error.nothing_changed")
            if isinstance(before, dict) and isinstance(after, dict):
                changed = [key for key in {**before, **after} if before.get(key) != after.get(key)]
                before = {key: before.get(key) for key in changed}
                after = {key: after.get(key) for key in changed}
        now = self.clock.now()
        study.updated_at = now
        study.revision = (study.revision or 0) + 1
        mark_changed(session, study.guild_id)  # other processes hear of it when this commits
        AuditRepository.add(
            session,
            study_id=study.id,
            actor_id=actor.user_id,
            actor_name=actor.name,
            action=action,
            target=target,
            before=before,
            after=after,
            at=now,
        )

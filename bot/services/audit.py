"""Reading the audit trail for `/admin audit`."""

from __future__ import annotations

from collections.abc import Sequence

from bot.db import models as db
from bot.db.repositories import AuditRepository
from bot.services.base import Service


class AuditService(Service):
    async def latest(self, *, guild_id: int | None, limit: int = 10) -> Sequence[db.AuditEntry]:
        snap = self.snapshot(guild_id)
        async with self.sessionmaker() as session:
            return await AuditRepository.latest(session, study_id=snap.id, limit=limit)

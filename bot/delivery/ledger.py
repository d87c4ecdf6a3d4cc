"""The delivery ledger: claim → send → mark, so a reminder that is due is delivered once.

The UNIQUE (study, occurrence, kind) row *is* the claim: two runners (or a runner and its restarted
self) cannot both insert it. Sending uses a nonce derived from the row, so a retry after a crash makes
Discord return the message it already posted instead of posting again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.db.models import Delivery
from bot.db.repositories import DeliveryRepository
from bot.delivery.plan import PlannedDelivery, nonce_for

CLAIMED = "claimed"
SENT = "sent"
FAILED = "failed"
MISSED = "missed"


class DeliveryLedger:
    def __init__(self, *, sessionmaker: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self.sessionmaker = sessionmaker
        self.clock = clock

    async def done_keys(self, *, study_id: int | None, since: datetime) -> set[tuple[int, datetime, str]]:
        """(study, occurrence, kind) of every delivery recorded (in any state) with due time ≥ since."""
        async with self.sessionmaker() as session:
            return set(await DeliveryRepository.keys_since(session, study_id=study_id, since=since))

    async def claim(self, *, study_id: int, planned: PlannedDelivery, late: bool) -> Delivery | None:
        """Insert the row in state `claimed`; None when someone already holds it."""
        return await self._insert(study_id, planned, status=CLAIMED, late=late, error="")

    async def record_missed(self, *, study_id: int, planned: PlannedDelivery, reason: str) -> bool:
        """Record a delivery that will not be sent (and why); False when it was already recorded."""
        return await self._insert(study_id, planned, status=MISSED, late=False, error=reason) is not None

    async def _insert(
        self, study_id: int, planned: PlannedDelivery, *, status: str, late: bool, error: str
    ) -> Delivery | None:
        now = self.clock.now()
        row = Delivery(
            study_id=study_id,
            occurrence=planned.occurrence,
            kind=planned.kind,
            status=status,
            due_at=planned.due,
            late=late,
            nonce=nonce_for(study_id, planned.occurrence, planned.kind),
            attempts=0,
            last_error=error,
            created_at=now,
            updated_at=now,
        )
        try:
            async with self.sessionmaker() as session, session.begin():
                session.add(row)
        except IntegrityError:
            return None
        return row

    async def _update(self, delivery_id: int, **values: object) -> None:
        async with self.sessionmaker() as session, session.begin():
            row = await session.get(Delivery, delivery_id)
            if row is None:
                return
            for name, value in values.items():
                setattr(row, name, value)
            row.updated_at = self.clock.now()

    async def attempt(self, delivery_id: int, *, attempts: int, error: str = "") -> None:
        await self._update(delivery_id, attempts=attempts, last_error=error)

    async def mark_sent(self, delivery_id: int, *, message_id: int, attempts: int) -> None:
        await self._update(delivery_id, status=SENT, message_id=message_id, attempts=attempts)

    async def mark_missed(self, delivery_id: int, *, error: str) -> None:
        await self._update(delivery_id, status=MISSED, last_error=error[:1000])

    async def mark_failed(self, delivery_id: int, *, error: str, attempts: int) -> None:
        await self._update(delivery_id, status=FAILED, last_error=error[:1000], attempts=attempts)

    async def unfinished(self) -> Sequence[Delivery]:
        """Rows left `claimed` (a crash between claim and mark): not done, to be finished at start."""
        async with self.sessionmaker() as session:
            return await DeliveryRepository.with_status(session, status=CLAIMED)

    async def latest(self, *, study_id: int, limit: int = 10) -> Sequence[Delivery]:
        async with self.sessionmaker() as session:
            return await DeliveryRepository.latest(session, study_id=study_id, limit=limit)

    async def all(self, *, study_id: int | None = None) -> Sequence[Delivery]:
        async with self.sessionmaker() as session:
            return await DeliveryRepository.all(session, study_id=study_id)

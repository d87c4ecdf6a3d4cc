"""The reminder runner: turns the pure plan into jobs, claims deliveries, and paces the sends.

* APScheduler (3.11, AsyncIOScheduler, in-memory) holds one derived job per study — "wake at the next due
  time" — carrying only the study id; the database stays the source of truth. Jobs are re-armed after
  every run and after every change that affects timing (`on_study_changed`).
* Each wake-up asks the pure core which deliveries are due (`decide_due`), records the missed ones,
  claims the rest in the ledger, and queues them.
* One queue paces every send under Discord's global limit (50 requests/s per bot), so 1,000 studies due
  in the same minute go out at the rate-limit floor instead of tripping 429s. The gate (`self.gate`) is the
  process's one budget: the server-event sync draws from it too, after every waiting reminder.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from bot.clock import Clock
from bot.core.model import StudySnapshot
from bot.core.schedule import build_schedule, next_session
from bot.db.models import Delivery
from bot.delivery.ledger import DeliveryLedger
from bot.delivery.messages import render_cancel_notice, render_reminder, render_status
from bot.delivery.pacing import PROCESS_RATE, Priority, RateGate
from bot.delivery.plan import (
    CHECKIN_POST,
    DEFAULT_ON_TIME,
    NUDGE,
    RECAP,
    Decision,
    PlannedDelivery,
    decide_due,
    held_by_pause,
    next_due,
    nonce_for,
    plan_deliveries,
    still_useful,
)
from bot.delivery.practice_posts import (
    PracticeFacts,
    following_session,
    render_checkin_post,
    render_nudge,
    render_recap,
)
from bot.delivery.problems import ProblemBoard
from bot.i18n import t
from bot.render.embeds import Reply
from bot.services.directory import StudyDirectory

log = logging.getLogger(__name__)

LOOKBACK = timedelta(days=7)  # how far back a restart looks for reminders it may have missed
HORIZON = timedelta(days=60)  # how far ahead the next wake-up is searched
# The process's pace for everything it posts on its own (bot.delivery.pacing): Discord's whole global budget,
# since interaction responses and follow-ups are not bound to it. Several processes each take their shards' share.
RATE_PER_SECOND = PROCESS_RATE
MAX_ATTEMPTS = 5


class PostError(Exception):
    """Sending failed. `permanent` errors (no access, unknown channel, bad request) are not retried."""

    def __init__(self, message: str, *, permanent: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


class Poster(Protocol):
    async def post(self, channel_id: int, reply: Reply, *, nonce: str) -> int:
        """Post `reply` in the channel with `nonce`; return the message id or raise PostError."""
        ...

    async def find(self, channel_id: int, marker: str, *, after: datetime | None) -> int | None:
        """Id of a message of ours (posted after `after`, or recently) whose text contains `marker`."""
        ...


class _NoFacts:
    """No database to ask (tests of the runner alone): nobody checked in, nobody posted a log."""

    attendance: dict[int, Any] = {}  # noqa: RUF012 - read-only
    logs: dict[int, list[str]] = {}  # noqa: RUF012 - read-only


@dataclass(frozen=True, slots=True)
class QueuedSend:
    study_id: int
    delivery_id: int
    planned: PlannedDelivery
    late: bool
    nonce: str
    attempts: int = 0


def reference_for(nonce: str) -> str:
    """A short marker put in each reminder's footer, so a restart can tell whether it was posted."""
    return f"ref {nonce[:10]}"


class ReminderRunner:
    def __init__(
        self,
        *,
        directory: StudyDirectory,
        ledger: DeliveryLedger,
        clock: Clock,
        poster: Poster,
        rate_per_second: float = RATE_PER_SECOND,
        backoff_base: float = 1.0,
        workers: int = 16,
        problems: ProblemBoard | None = None,
        practice: PracticeFacts | None = None,
        shared: bool = False,
        slot_grid: tuple[int, frozenset[int]] = (1, frozenset({0})),
    ) -> None:
        self.directory = directory
        # Several processes share the ledger: a claimed row of a study this process does not hold belongs to
        # the process that owns the study's server (it may be posting it right now), not to this one.
        self.shared = shared
        self.ledger = ledger
        self.clock = clock
        self.poster = poster
        self.gate = RateGate(
            rate_per_second, positions=slot_grid[0], owned=slot_grid[1], held=getattr(poster, "held", None)
        )
        self.backoff_base = backoff_base
        self.queue: asyncio.Queue[QueuedSend] = asyncio.Queue()
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        self._workers: list[asyncio.Task[None]] = []
        self._worker_count = workers
        self._locks: dict[int, asyncio.Lock] = {}
        self._deciding = asyncio.Semaphore(4)
        self.problems = problems if problems is not None else ProblemBoard()
        self.practice = practice
        self.started = False
        self._closing = False  # stopping: nothing new is sent; claimed rows wait for the next start

    # --- lifecycle --------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the scheduler, finish deliveries a crash left half-done, catch up, arm every study."""
        if self.started:
            return
        self.started = True
        self._closing = False
        self.scheduler.start()
        self._workers = [
            asyncio.create_task(self._worker(), name=f"reminder-worker-{i}") for i in range(self._worker_count)
        ]
        await self.resume_unfinished()
        await self.rearm_all()

    async def stop(self, *, grace: float = 0.0) -> None:
        """No new wake-ups and no new sends. Sends already in flight get `grace` seconds to finish and be
        marked; queued sends, and any still in flight after that, stay `claimed` in the ledger, and the next
        start resumes them (`resume_unfinished`): nothing is lost, nothing is sent twice."""
        if not self.started:
            return
        self.started = False
        self._closing = True
        self.scheduler.shutdown(wait=False)
        while not self.queue.empty():
            self.queue.get_nowait()
            self.queue.task_done()
        if grace > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.queue.join(), timeout=grace)
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []

    async def drain(self) -> None:
        """Wait until every queued send has finished (tests and benchmarks use it)."""
        await self.queue.join()

    async def on_study_changed(self, study_id: int, timing: bool) -> None:
        if timing and self.started:
            await self.run_due(study_id)

    # --- planning ---------------------------------------------------------------------------------
    def plan(self, snap: StudySnapshot, *, since: datetime, until: datetime) -> list[PlannedDelivery]:
        schedule = build_schedule(snap.recurrence, snap.changes, snap.week_count)
        return plan_deliveries(schedule, snap.reminder_offsets, since=since, until=until, practice=snap.practice)

    def _since(self, snap: StudySnapshot, now: datetime) -> datetime:
        since = now - LOOKBACK
        if snap.created_at is not None and snap.created_at > since:
            since = snap.created_at
        return since

    async def upcoming(self, snap: StudySnapshot, count: int = 3) -> list[PlannedDelivery]:
        now = self.clock.now()
        planned = self.plan(snap, since=now, until=now + HORIZON)
        done = {(o, k) for _, o, k in await self.ledger.done_keys(study_id=snap.id, since=now)}
        return [p for p in planned if p.key not in done and not held_by_pause(p, paused=snap.paused)][:count]

    async def run_due(self, study_id: int, *, known: set[tuple[datetime, str]] | None = None) -> None:
        """Decide everything due for one study now, then arm its next wake-up.

        `known`: the study's recorded delivery keys when the caller already read them in bulk (start-up
        and the sweep read every study's at once). At most a few studies decide at the same time: when
        1,000 fall due in the same minute, their reads and claims would otherwise queue on the connection
        pool in front of the send workers' `mark_sent` and stall delivery.
        """
        lock = self._locks.setdefault(study_id, asyncio.Lock())
        async with lock, self._deciding:
            snap = self.directory.by_id(study_id)
            if snap is None:
                self._disarm(study_id)
                return
            now = self.clock.now()
            since = self._since(snap, now)
            planned = self.plan(snap, since=since, until=now + timedelta(seconds=1))
            if known is None:
                known = {(o, k) for _, o, k in await self.ledger.done_keys(study_id=study_id, since=since)}
            done = known
            for delivery, decision in decide_due(planned, done=done, now=now, paused=snap.paused):
                reason = self._blocker(snap)
                if decision in (Decision.MISSED, Decision.HELD) or reason:
                    if reason:
                        why = reason
                    elif decision is Decision.HELD:
                        why = "reminders paused"
                    elif not still_useful(delivery, now):
                        why = "too late to be useful" if delivery.is_practice else "session already started"
                    else:
                        why = "superseded by a later reminder"
                    await self.ledger.record_missed(study_id=study_id, planned=delivery, reason=why)
                    continue
                late = decision is Decision.SEND_LATE
                row = await self.ledger.claim(study_id=study_id, planned=delivery, late=late)
                if row is not None:
                    await self.queue.put(QueuedSend(study_id, row.id, delivery, late, row.nonce))
            self._arm(snap, planned_done=done)

    def _blocker(self, snap: StudySnapshot) -> str:
        if not snap.reminder_channel_id:
            return "no reminder channel set"
        return ""

    def _arm(self, snap: StudySnapshot, *, planned_done: set[tuple[datetime, str]]) -> None:
        if not self.started:
            return
        now = self.clock.now()
        upcoming = next_due(self.plan(snap, since=now, until=now + HORIZON), done=planned_done, now=now)
        job_id = f"study:{snap.id}"
        if upcoming is None:
            self._disarm(snap.id)
            return
        # misfire_grace_time=None: a wake-up that fires late (loop busy, machine asleep) still runs; the
        # pure core then decides whether the reminder is sent, sent late or recorded as missed — nothing is
        # dropped silently. coalesce=True: several missed fire times collapse into one run_due call.
        self.scheduler.add_job(
            self.run_due,
            trigger=DateTrigger(run_date=self.clock.to_real(upcoming.due)),
            args=[snap.id],
            id=job_id,
            replace_existing=True,
            misfire_grace_time=None,
            coalesce=True,
        )

    def _disarm(self, study_id: int) -> None:
        job = self.scheduler.get_job(f"study:{study_id}")
        if job is not None:
            job.remove()

    def next_wakeup(self, study_id: int) -> datetime | None:
        """When the study's job is armed to wake next (real time); None when nothing is planned."""
        job = self.scheduler.get_job(f"study:{study_id}")
        return None if job is None else job.next_run_time

    async def rearm_all(self) -> None:
        """Run and re-arm every study: at start, after the clock moved, and as a periodic sweep.

        One study's failure is logged and does not stop the others. The ledger is read once for all."""
        by_study: dict[int, set[tuple[datetime, str]]] = {}
        for study_id, occurrence, kind in await self.ledger.done_keys(study_id=None, since=self.clock.now() - LOOKBACK):
            by_study.setdefault(study_id, set()).add((occurrence, kind))
        for snap in self.directory.all():
            try:
                await self.run_due(snap.id, known=by_study.get(snap.id, set()))
            except Exception:
                log.exception("reminders of study %s could not be planned", snap.id)

    # --- sending ----------------------------------------------------------------------------------
    async def resume_unfinished(self) -> None:
        """Finish the rows a crash left `claimed` (claimed, maybe posted, never confirmed).

        Posted already (its `ref` marker is among our messages in the channel since the claim) → marked sent.
        Otherwise it is sent again with the same nonce — Discord dedupes a nonce for a few minutes, the
        history check covers the rest — unless the session started, the plan no longer holds it, or a
        later reminder of the same session is due too (then that one is sent instead: one message, not two).
        """
        now = self.clock.now()
        for row in await self.ledger.unfinished():
            if self.shared and self.directory.by_id(row.study_id) is None:
                continue  # another process's study: its owner resumes it
            try:
                await self._resume(row, now)
            except Exception:
                log.exception("could not resume delivery %s", row.id)

    async def _resume(self, row: Delivery, now: datetime) -> None:
        snap = self.directory.by_id(row.study_id)
        if snap is None or not snap.reminder_channel_id:
            await self.ledger.mark_failed(row.id, error="study or channel gone", attempts=row.attempts)
            return
        try:
            found = await self.poster.find(snap.reminder_channel_id, reference_for(row.nonce), after=row.created_at)
        except PostError as exc:
            found = None
            log.warning("could not read channel history for delivery %s: %s", row.id, exc)
        if found is not None:
            await self.ledger.mark_sent(row.id, message_id=found, attempts=row.attempts)
            return
        planned = self._replan(snap, row.occurrence, row.kind)
        if (planned is not None and not still_useful(planned, now)) or (planned is None and row.occurrence <= now):
            await self.ledger.mark_missed(row.id, error="interrupted; the session started before it was sent")
            return
        if planned is None:
            await self.ledger.mark_missed(row.id, error="session changed before it was sent")
            return
        if held_by_pause(planned, paused=snap.paused):
            await self.ledger.mark_missed(row.id, error="reminders paused")
            return
        later_due = [
            p
            for p in self.plan(snap, since=row.due_at + timedelta(seconds=1), until=now + timedelta(seconds=1))
            if p.session.original_date == planned.session.original_date and not p.is_practice
        ]
        if planned.is_practice:
            later_due = []
        if later_due:
            await self.ledger.mark_missed(row.id, error="superseded by a later reminder")
            return
        late = row.late or now - row.due_at > DEFAULT_ON_TIME
        await self.queue.put(QueuedSend(row.study_id, row.id, planned, late, row.nonce, row.attempts))

    def _replan(self, snap: StudySnapshot, occurrence: datetime, kind: str) -> PlannedDelivery | None:
        for planned in self.plan(snap, since=occurrence - timedelta(days=15), until=occurrence + timedelta(days=2)):
            if planned.occurrence == occurrence and planned.kind == kind:
                return planned
        return None

    async def compose(self, snap: StudySnapshot, planned: PlannedDelivery, *, late: bool, nonce: str) -> Reply:
        """The post for `planned`: reminders and notices from the snapshot; the nudge and the recap also
        read the session's check-ins and study logs (and the recap its progress picture)."""
        if planned.kind == CHECKIN_POST:
            return render_checkin_post(
                snap, planned.session, now=self.clock.now(), late=late, reference=reference_for(nonce)
            )
        if planned.kind in (NUDGE, RECAP):
            facts: Any = (
                await self.practice.for_session(snap.id, planned.session.original_date)
                if self.practice is not None
                else _NoFacts()
            )
            if planned.kind == NUDGE:
                return render_nudge(snap, planned.session, facts, reference=reference_for(nonce))
            png = await self.practice.progress_png(snap, lang=snap.locale) if self.practice is not None else None
            return render_recap(
                snap,
                planned.session,
                facts,
                following=following_session(snap, planned.session),
                png=png,
                reference=reference_for(nonce),
            )
        return self.render(snap, planned, late=late, nonce=nonce)

    def render(self, snap: StudySnapshot, planned: PlannedDelivery, *, late: bool, nonce: str) -> Reply:
        now = self.clock.now()
        if planned.is_cancel_notice:
            schedule = build_schedule(snap.recurrence, snap.changes, snap.week_count)
            return render_cancel_notice(
                snap,
                planned.session,
                following=next_session(schedule, planned.occurrence),
                now=now,
                reference=reference_for(nonce),
            )
        return render_reminder(snap, planned, now=now, late=late, reference=reference_for(nonce))

    async def _worker(self) -> None:
        while True:
            item = await self.queue.get()
            if self._closing:  # stopping: the row stays claimed for the next start
                self.queue.task_done()
                continue
            try:
                await self._deliver(item)
            except Exception:
                log.exception("delivery %s crashed", item.delivery_id)
            finally:
                self.queue.task_done()

    async def _deliver(self, item: QueuedSend) -> None:
        attempts = item.attempts
        while True:
            snap = self.directory.by_id(item.study_id)
            if snap is None or not snap.reminder_channel_id:
                await self.ledger.mark_failed(item.delivery_id, error="study or channel gone", attempts=attempts)
                return
            # The study may have changed while this waited in the queue or between retries: post only what
            # the plan still holds, rendered from the plan as it is now.
            planned = self._replan(snap, item.planned.occurrence, item.planned.kind)
            if planned is not None and held_by_pause(planned, paused=snap.paused):
                await self._drop(item, snap.reminder_channel_id, attempts, reason="reminders paused")
                return
            if planned is None or not still_useful(planned, self.clock.now()):
                await self._drop(item, snap.reminder_channel_id, attempts, reason="session changed before it was sent")
                return
            reply = await self.compose(snap, planned, late=item.late, nonce=item.nonce)
            attempts += 1
            try:
                async with self.gate.slot(Priority.REMINDER):
                    message_id = await self.poster.post(snap.reminder_channel_id, reply, nonce=item.nonce)
            except PostError as exc:
                if exc.permanent or attempts >= MAX_ATTEMPTS:
                    log.warning("delivery %s failed for good after %s attempts: %s", item.delivery_id, attempts, exc)
                    await self.ledger.mark_failed(item.delivery_id, error=str(exc), attempts=attempts)
                    return
                await self.ledger.attempt(item.delivery_id, attempts=attempts, error=str(exc))
                if self._closing:  # no retry while stopping: the next start resumes the claimed row
                    return
                delay = exc.retry_after if exc.retry_after is not None else self.backoff_base * 2 ** (attempts - 1)
                await asyncio.sleep(min(delay, 60.0))
                continue
            await self.ledger.mark_sent(item.delivery_id, message_id=message_id, attempts=attempts)
            return

    async def _drop(self, item: QueuedSend, channel_id: int, attempts: int, *, reason: str) -> None:
        """The delivery is no longer wanted; if an earlier attempt may have reached Discord, record that."""
        found = None
        if attempts:
            with contextlib.suppress(PostError):
                found = await self.poster.find(channel_id, reference_for(item.nonce), after=None)
        if found is not None:
            await self.ledger.mark_sent(item.delivery_id, message_id=found, attempts=attempts)
        else:
            await self.ledger.mark_missed(item.delivery_id, error=reason)

    # --- admin views ------------------------------------------------------------------------------
    async def status_reply(self, snap: StudySnapshot, lang: str, *, also: Sequence[str] = ()) -> Reply:
        """The status card; `also`: problems the caller found (e.g. the bot's permissions in the channel)."""
        upcoming = await self.upcoming(snap, 3)
        deliveries = await self.ledger.latest(study_id=snap.id, limit=8)
        problems = [*also, *(t(lang, key, **params) for key, params in self.problems.of(snap.id))]
        return render_status(snap, lang, upcoming=upcoming, deliveries=deliveries, problems=problems)

    def preview_reply(self, snap: StudySnapshot, lang: str) -> Reply:
        """The next reminder exactly as it would be posted (but never pinging: it is only a preview)."""
        now = self.clock.now()
        planned = self.plan(snap, since=now, until=now + HORIZON)
        if not planned:
            return Reply(content=t(lang, "reminders.none_planned"), ephemeral=True)
        reminders = [p for p in planned if not p.is_practice]
        if not reminders:
            return Reply(content=t(lang, "reminders.none_planned"), ephemeral=True)
        first = reminders[0]
        reply = self.render(snap, first, late=False, nonce=nonce_for(snap.id, first.occurrence, first.kind))
        header = t(lang, "reminders.preview_header", when=f"<t:{int(first.due.timestamp())}:F>")
        return Reply(content=header + "\n" + reply.content, embeds=reply.embeds, ephemeral=True)

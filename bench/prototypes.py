"""What-if prototypes of the fixes the benchmark report proposes, applied by monkeypatching at run time.

Nothing under ``bot/`` is edited: ``bench/run.py --prototype NAME[,NAME...]`` (or ``all``) applies these in each
measuring child process, so a proposed change can be measured before anyone writes it properly. They copy the
intent of a fix, not its final form; when a fix lands in ``bot/``, drop its prototype.

* ``snapshot-load`` — ``StudyDirectory.load_all`` reads Core rows instead of ORM instances (no identity map, no
  instance state), builds materials positionally with a dict lookup for ``MaterialKind``, pauses the cyclic GC
  while it builds the snapshots and ``gc.freeze()``s them afterwards (they live as long as the process).
* ``batched-catchup`` — ``ReminderRunner.start`` reads the delivery keys of every study in one query and serves
  each study's ``done_keys`` from memory during the catch-up (instead of one session + query per study).
* ``bounded-due`` — at most 4 ``ReminderRunner.run_due`` at a time, so a minute in which N studies fall due does
  not queue N reads, then N claims, in front of the workers' ``mark_sent`` on the connection pool.
* ``paced-events`` — the scheduled-event sync's REST calls go through their own ``RateGate`` (3/s), so reminders
  (45/s) plus events stay under Discord's 50/s global limit.
* ``gc-tuning`` — when the bot is ready: ``gc.collect(); gc.freeze(); gc.set_threshold(10_000, 50, 100)``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from typing import Any

import discord
from sqlalchemy import select

from bot.app import StudyBot
from bot.core import model
from bot.db import models as db
from bot.reminders import LOOKBACK, RateGate, ReminderRunner
from bot.services.directory import StudyDirectory, build_snapshot

NAMES = ("snapshot-load", "batched-catchup", "bounded-due", "paced-events", "gc-tuning")
KINDS = {kind.value: kind for kind in model.MaterialKind}


async def load_all_core_rows(self: StudyDirectory) -> None:
    study_t, member_t, week_t, change_t = (
        db.Study.__table__,
        db.Member.__table__,
        db.CurriculumWeek.__table__,
        db.SessionChange.__table__,
    )
    m = db.Material
    async with self._sessionmaker() as session:
        studies = (await session.execute(select(study_t).order_by(study_t.c.id))).all()
        members = (await session.execute(select(member_t).order_by(member_t.c.study_id, member_t.c.id))).all()
        weeks = (await session.execute(select(week_t).order_by(week_t.c.study_id, week_t.c.number))).all()
        materials = (
            await session.execute(
                select(m.study_id, m.week_id, m.title, m.url, m.kind, m.title_en, m.position, m.id).order_by(
                    m.study_id, m.week_id, m.position, m.id
                )
            )
        ).all()
        changes = (
            await session.execute(select(change_t).order_by(change_t.c.study_id, change_t.c.original_date))
        ).all()
    enabled = gc.isenabled()
    gc.disable()
    try:
        by_week: defaultdict[tuple[int, int | None], list[model.Material]] = defaultdict(list)
        link = model.MaterialKind.LINK
        for study_id, week_id, title, url, kind, title_en, position, material_id in materials:
            by_week[(study_id, week_id)].append(
                model.Material(title, url, KINDS.get(kind, link), title_en, position, material_id)
            )
        grouped: dict[str, defaultdict[int, list[Any]]] = {k: defaultdict(list) for k in ("m", "w", "c")}
        for row in members:
            grouped["m"][row.study_id].append(row)
        for row in weeks:
            grouped["w"][row.study_id].append(row)
        for row in changes:
            grouped["c"][row.study_id].append(row)
        self._by_id.clear()
        self._by_guild.clear()
        for study in studies:
            # Rows have the same attribute names as the ORM models, so build_snapshot takes them as they are;
            # weeks and materials are then put in from the positional build above.
            snap = build_snapshot(study, grouped["m"][study.id], (), (), grouped["c"][study.id])  # type: ignore[arg-type]
            week_tuple = tuple(
                model.Week(
                    number=w.number,
                    title=w.title,
                    title_en=w.title_en,
                    notes=w.notes,
                    materials=tuple(by_week.get((study.id, w.id), ())),
                )
                for w in grouped["w"][study.id]
            )
            resources = tuple(by_week.get((study.id, None), ()))
            self._store(dataclasses.replace(snap, weeks=week_tuple, resources=resources))
    finally:
        if enabled:
            gc.enable()
    gc.freeze()


def batched_catchup(
    original: Callable[[ReminderRunner], Awaitable[None]],
) -> Callable[[ReminderRunner], Awaitable[None]]:
    async def start(self: ReminderRunner) -> None:
        if self.started:
            return
        ledger = self.ledger
        by_study: defaultdict[int, set[tuple[int, datetime, str]]] = defaultdict(set)
        for key in await ledger.done_keys(study_id=None, since=self.clock.now() - LOOKBACK):
            by_study[key[0]].add(key)

        async def prefetched(*, study_id: int | None, since: datetime) -> set[tuple[int, datetime, str]]:
            # A superset of what the per-study query returns (since ≥ now - LOOKBACK): the caller only tests
            # membership of keys it planned from `since` on, so the answer is the same.
            return by_study.get(study_id or 0, set())

        ledger.done_keys = prefetched  # type: ignore[method-assign]
        try:
            await original(self)
        finally:
            del ledger.done_keys  # back to the class's method

    return start


def bounded_due(
    original: Callable[[ReminderRunner, int], Coroutine[Any, Any, None]], slots: int = 4
) -> Callable[[ReminderRunner, int], Coroutine[Any, Any, None]]:
    semaphores: dict[int, asyncio.Semaphore] = {}

    async def run_due(self: ReminderRunner, study_id: int) -> None:
        async with semaphores.setdefault(id(self), asyncio.Semaphore(slots)):
            await original(self, study_id)

    return run_due


def paced_events(rate: float = 3.0) -> None:
    gate = RateGate(rate)
    http = discord.http.HTTPClient
    for name in ("create_guild_scheduled_event", "edit_scheduled_event", "delete_scheduled_event"):
        original: Callable[..., Awaitable[Any]] = getattr(http, name)

        def make(call: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
            async def paced(self: discord.http.HTTPClient, *args: Any, **kwargs: Any) -> Any:
                await gate.wait()
                return await call(self, *args, **kwargs)

            return paced

        setattr(http, name, make(original))


def gc_tuning(
    original: Callable[[StudyBot], Coroutine[Any, Any, None]],
) -> Callable[[StudyBot], Coroutine[Any, Any, None]]:
    async def on_ready(self: StudyBot) -> None:
        gc.collect()
        gc.freeze()
        gc.set_threshold(10_000, 50, 100)
        await original(self)

    return on_ready


def apply(names: str) -> list[str]:
    """Apply the named prototypes ("all" for every one); returns the names applied."""
    wanted = list(NAMES) if names.strip() == "all" else [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in NAMES]
    if unknown:
        raise SystemExit(f"unknown prototype(s) {unknown}; known: {', '.join(NAMES)}")
    if "snapshot-load" in wanted:
        setattr(StudyDirectory, "load_all", load_all_core_rows)  # noqa: B010 - patching on purpose
    if "batched-catchup" in wanted:
        setattr(ReminderRunner, "start", batched_catchup(ReminderRunner.start))  # noqa: B010
    if "bounded-due" in wanted:
        setattr(ReminderRunner, "run_due", bounded_due(ReminderRunner.run_due))  # noqa: B010
    if "paced-events" in wanted:
        paced_events()
    if "gc-tuning" in wanted:
        setattr(StudyBot, "on_ready", gc_tuning(StudyBot.on_ready))  # noqa: B010
    return wanted

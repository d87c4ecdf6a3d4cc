"""studybot benchmarks: the performance targets (README, Performance), measured end to end against the local stand-in.

Run from the repository root::

    .venv/bin/python bench/run.py                  # full run: 1,000 studies, 500 requests (a few minutes)
    .venv/bin/python bench/run.py --quick          # smoke test: 20 studies, 50 requests (well under 30 s)
    .venv/bin/python bench/run.py --studies 300 --requests 200 --profile-dir /tmp/prof

It prints one aligned plain-text table and writes the same figures as JSON to ``bench/results.json``
(``--json PATH`` to change that). ``--skip-cold`` leaves out the cold-start fan-out. Nothing here is part of the
test suite.

The bot paces its scheduled-event calls at 3/s so they never compete with reminders for Discord's 50/s; a
first-ever sync of 4 events x 1,000 studies would take ~22 minutes. Scenarios that measure a bot that has been
up for a while (latency, warm fan-out, start-up memory "settled") lift that pace for their set-up only, as if
the events had been synced long ago; the cold fan-out keeps it, because there the sync does compete.

What is measured (every scenario runs in its own child process so that memory and caches do not leak from
one into the next; the stand-in, the real bot and the bare bot of a scenario share that process's event loop):

1. ``/week`` latency with N studies in the database: N guilds in the stand-in, the bundled study
   (``studies/pytorch-study.toml``) imported once per guild into one SQLite file, the real bot started through
   ``bot.offline.start_bot`` (``studybot run``'s own path). In the same run a bare discord.py bot
   (``bench.bare``, a second application on the same stand-in) answers ``/ping`` with a constant.
   The two commands are invoked alternately and sequentially (round-robin over guilds, alternating ko/en-US);
   latency = stand-in dispatch of INTERACTION_CREATE → stand-in receiving the interaction callback
   (``InteractionHandle.latency``). Warm-up requests are not counted. Both bots run in the *same* process and
   event loop as the stand-in, so a slow handler in one delays the other's frames too, and they share one
   garbage collector: every GC pause is recorded, and the requests it overlapped are counted per command.
2. Reminder fan-out: N studies (one guild + one text channel each) whose "1 day before" reminder falls due in
   the same minute, stand-in global limit 50 requests/s. "warm": the bot is up and its scheduled-event sync
   has finished, then the global limit is switched on and a ``ShiftedClock`` is moved to just before the due
   time and every study re-armed (as ``tests/e2e/test_reminders.py`` does). "cold": the limit is on from the
   start and the bot is started a moment before the due time (a restart at 18:59), so start-up, catch-up and
   the scheduled-event sync compete with the reminders. Reported: time from due to the last message, the floor
   N/50 s, 429s the stand-in answered, duplicates, losses, ledger statuses.
3. Start-up: ``start_bot(config)`` → ready with one APScheduler job per study (migrations check, snapshot load,
   catch-up of every study, login, gateway READY + N GUILD_CREATEs), with a breakdown; ``directory.load_all()``
   alone; RSS (psutil) before the world is built, at ready and once the scheduled-event sync is done, for N
   studies and for 1 study: per study = (RSS_N - RSS_1) / (N - 1). The stand-in's own state (N guilds,
   4 scheduled events per study) lives in the same process and is included; its share is reported apart.
4. The machine: CPU model, cores, Python, discord.py and library versions, date.

Only 127.0.0.1 is contacted. Every wait is bounded in time and every loop in count.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import json
import logging
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/run.py` puts bench/ first on the path, not the repository
    sys.path.insert(0, str(ROOT))

import psutil  # type: ignore[import-untyped]  # noqa: E402
from sqlalchemy import func, select, update  # noqa: E402

from bot import loop as event_loop  # noqa: E402
from bot.clock import ShiftedClock  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.core.definition import load_definition  # noqa: E402
from bot.db import models as db  # noqa: E402
from bot.delivery.pacing import Priority  # noqa: E402
from bot.delivery.runner import RATE_PER_SECOND  # noqa: E402
from bot.offline import BUNDLED_STUDY, OfflineBot, start_bot, write_config  # noqa: E402
from bot.runtime import open_runtime  # noqa: E402
from bot.services.base import Actor  # noqa: E402
from standin import Application, StandIn  # noqa: E402

# --- the timeline every scenario uses (the bundled study: Thursdays 09:00 Asia/Seoul, first 2026-12-03) -----
SEED_NOW = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)  # studies are created (created_at) on Monday
START_NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # Tuesday 12:00 KST: week 1 is next, no reminder is due
FIRST_SESSION = datetime(2026, 12, 3, 0, 0, tzinfo=UTC)  # Thursday 09:00 KST
FANOUT_DUE = FIRST_SESSION - timedelta(days=1)  # the "1d" reminder of every study: all due at the same instant

GLOBAL_LIMIT = 50  # Discord's global limit, requests per second per bot
BOT_RATE = RATE_PER_SECOND  # the bot's own pacing: the global budget less a little headroom for jitter
GUILD_BASE = 900_000_000_000_000_000  # deterministic ids, so one seeded database serves every scenario
MESSAGES_ROUTE = "POST /channels/{channel_id}/messages"
EVENTS_ROUTE = "POST /guilds/{guild_id}/scheduled-events"

# (owner, attribute, label) of the start-up steps timed by wrapping them; nested ones are indented.
STARTUP_PHASES = (
    ("offline", "open_runtime", "open_runtime: engine + migrations check"),
    ("offline", "prepare", "prepare: config ids + snapshots"),
    ("StudyDirectory", "load_all", "  directory.load_all (N snapshots)"),
    ("StudyBot", "login", "login + setup_hook (discord.py runs setup_hook inside login)"),
    ("StudyBot", "sync_commands_if_changed", "  command tree hash check / sync"),
    ("ReminderRunner", "start", "  reminders.start: catch-up + arm every study"),
)
GATEWAY_PHASE = "gateway: connect → READY + N GUILD_CREATEs"


# =============================================================================================================
# small helpers
# =============================================================================================================
def guild_id_of(index: int) -> int:
    return GUILD_BASE + index * 8


def channel_id_of(index: int) -> int:
    return guild_id_of(index) + 1


def role_id_of(index: int) -> int:
    return guild_id_of(index) + 2


def rss_mib() -> float:
    gc.collect()
    return float(psutil.Process().memory_info().rss) / 2**20


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (p100 = max)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summary_ms(values: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": round(percentile(values, 50), 3),
        "p95": round(percentile(values, 95), 3),
        "p99": round(percentile(values, 99), 3),
        "max": round(max(values), 3) if values else math.nan,
        "mean": round(sum(values) / len(values), 3) if values else math.nan,
    }


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class LogCounter(logging.Handler):
    """Counts WARNING+ records per logger (the bot and discord.py log 429s, failures, crashes there)."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.counts: Counter[str] = Counter()
        self.samples: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[f"{record.levelname} {record.name}"] += 1
        if len(self.samples) < 5:
            self.samples.append(f"{record.levelname} {record.name}: {record.getMessage()[:200]}")


def install_logging(logfile: Path) -> LogCounter:
    counter = LogCounter()
    root = logging.getLogger()
    root.setLevel(logging.WARNING)
    handler = logging.FileHandler(logfile, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.addHandler(counter)
    return counter


class Marks:
    """Wall-clock marks of start-up phases, recorded by wrapping the bot's own functions (no file is changed)."""

    def __init__(self) -> None:
        self.origin = time.perf_counter()
        self.spans: dict[str, list[float]] = {}

    def wrap(self, owner: Any, name: str, label: str) -> None:
        original: Callable[..., Awaitable[Any]] = getattr(owner, name)
        marks = self

        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                marks.spans.setdefault(label, []).extend([started - marks.origin, time.perf_counter() - marks.origin])

        setattr(owner, name, timed)

    def first(self, label: str) -> tuple[float, float] | None:
        span = self.spans.get(label)
        return None if not span else (span[0], span[1])


class GcPauses:
    """Records every garbage-collector pause (generation, start, end) while active (a `with` block)."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float, float]] = []
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append((info["generation"], self._started, time.perf_counter()))

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)

    def overlaps(self, start: float, end: float) -> bool:
        return any(a < end and b > start for _, a, b in self.pauses)

    def summary(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for generation in (0, 1, 2):
            ms = sorted((b - a) * 1000 for g, a, b in self.pauses if g == generation)
            if ms:
                out[f"gen{generation}"] = {
                    "count": len(ms),
                    "median_ms": round(percentile(ms, 50), 3),
                    "max_ms": round(ms[-1], 3),
                }
        return out


async def wait_quiet(standin: StandIn, *, quiet: float, within: float) -> float:
    """Wait until the stand-in received no REST request for `quiet` seconds; returns when the last one came."""
    deadline = time.perf_counter() + within
    count = -1
    stable_since = time.perf_counter()
    while time.perf_counter() < deadline:
        current = len(standin.requests)
        if current != count:
            count, stable_since = current, time.perf_counter()
        elif time.perf_counter() - stable_since >= quiet:
            break
        await asyncio.sleep(0.1)
    return standin.requests[-1].at if standin.requests else time.perf_counter()


@dataclass
class World:
    guilds: list[int]
    channels: list[int]


def build_world(standin: StandIn, n: int) -> World:
    """N guilds, each with one text channel and a mentionable study role (the bots are members of every guild)."""
    guilds: list[int] = []
    channels: list[int] = []
    for i in range(n):
        gid = standin.add_guild(guild_id_of(i), name=f"Study group {i}", locale="ko" if i % 2 else "en-US")
        guild = standin.world.guilds[gid]
        standin.world.add_channel(guild, name="study", channel_id=channel_id_of(i))
        standin.world.add_role(guild, name="Study", mentionable=True, role_id=role_id_of(i))
        guilds.append(gid)
        channels.append(channel_id_of(i))
    return World(guilds, channels)


def config_for(workdir: Path, standin: StandIn, database: Path) -> Path:
    """A config file naming the first study only: the bot loads every study present in the database."""
    return write_config(
        workdir / "config.toml",
        standin=standin,
        database=database,
        definition=BUNDLED_STUDY,
        guild_id=guild_id_of(0),
        channel_id=channel_id_of(0),
        ping_role_id=role_id_of(0),
    )


def clock_at(moment: datetime) -> ShiftedClock:
    clock = ShiftedClock()
    clock.set(moment)
    return clock


@contextlib.contextmanager
def profiled(directory: str | None, name: str) -> Iterator[None]:
    if not directory:
        yield
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        Path(directory).mkdir(parents=True, exist_ok=True)
        profiler.dump_stats(str(Path(directory) / f"{name}.pstats"))


def study_jobs(offline: OfflineBot) -> int:
    """APScheduler jobs that wake one study (`study:<id>`); the bot also has a few periodic jobs of its own."""
    return sum(1 for job in offline.bot.reminders.scheduler.get_jobs() if str(job.id).startswith("study:"))


async def stop_quietly(offline: OfflineBot | None) -> None:
    """Stop the bot; first cancel its event handlers still running (e.g. an unfinished scheduled-event sync in
    `on_ready`: `bot.close()` leaves those tasks alone, and they would go on using the database after
    `runtime.close()`)."""
    if offline is None:
        return
    handlers = [
        task
        for task in asyncio.all_tasks()
        if task.get_name().startswith("discord.py: on_") and task is not asyncio.current_task()
    ]
    for task in handlers:
        task.cancel()
    await asyncio.gather(*handlers, return_exceptions=True)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(offline.stop(), timeout=30)


# =============================================================================================================
# scenario: seed — one SQLite file with N studies, made with the bot's own services
# =============================================================================================================
async def scenario_seed(args: argparse.Namespace) -> dict[str, Any]:
    database = Path(args.db)
    await asyncio.to_thread(database.unlink, missing_ok=True)
    settings = Settings(token="seed", database_url=f"sqlite+aiosqlite:///{database}")
    runtime = await open_runtime(settings, clock=clock_at(SEED_NOW))
    definition = load_definition(BUNDLED_STUDY)
    started = time.perf_counter()
    try:
        for i in range(args.studies):
            await runtime.services.definitions.import_definition(
                guild_id=guild_id_of(i),
                definition=definition,
                actor=Actor.cli(),
                reminder_channel_id=channel_id_of(i),
                ping_role_id=role_id_of(i),
            )
            if (i + 1) % 100 == 0:
                progress(f"seeded {i + 1}/{args.studies} studies")
        async with runtime.sessionmaker() as session:
            # This benchmark measures reminders: the practice posts (a nudge falls in the same minute) are off,
            # or each channel would get two posts and the fan-out would count them as duplicates.
            await session.execute(
                update(db.Study).values(nudge_offset_minutes=0, recap_enabled=False, checkin_post_enabled=False)
            )
            await session.commit()
            counts = {
                name: int((await session.execute(select(func.count()).select_from(model))).scalar_one())
                for name, model in (
                    ("study", db.Study),
                    ("member", db.Member),
                    ("curriculum_week", db.CurriculumWeek),
                    ("material", db.Material),
                )
            }
    finally:
        await runtime.close()
    return {"studies": args.studies, "seconds": round(time.perf_counter() - started, 2), "rows": counts}


# =============================================================================================================
# scenario: startup — time to ready with every job armed, load_all alone, memory
# =============================================================================================================
async def scenario_startup(args: argparse.Namespace) -> dict[str, Any]:
    import bot.offline as offline_module
    from bot.app import StudyBot
    from bot.delivery.runner import ReminderRunner
    from bot.services.directory import StudyDirectory

    workdir = Path(args.workdir)
    database = workdir / "startup.db"
    shutil.copyfile(args.db, database)
    counter = install_logging(workdir / f"startup-{args.studies}.log")

    standin = StandIn(seed=False)
    await standin.start()
    rss_before = rss_mib()
    world = build_world(standin, args.studies)
    rss_world = rss_mib()
    config = config_for(workdir, standin, database)

    marks = Marks()
    for owner, name, label in STARTUP_PHASES:
        marks.wrap(
            {
                "offline": offline_module,
                "StudyDirectory": StudyDirectory,
                "StudyBot": StudyBot,
                "ReminderRunner": ReminderRunner,
            }[owner],
            name,
            label,
        )

    clock = clock_at(START_NOW)
    offline: OfflineBot | None = None
    result: dict[str, Any] = {"studies": args.studies}
    try:
        with profiled(args.profile_dir, f"startup-{args.studies}"):
            marks.origin = started = time.perf_counter()
            offline = await start_bot(config, standin=standin, clock=clock, ready_within=args.timeout)
            unpace_events(offline)
            ready = time.perf_counter() - started
            jobs = study_jobs(offline)
            with contextlib.suppress(TimeoutError):
                await standin.wait_until(lambda: study_jobs(offline) >= args.studies, timeout=args.timeout)
            all_armed = time.perf_counter() - started if jobs < args.studies else ready
            jobs_final = study_jobs(offline)
            all_job_ids = sorted({str(job.id).split(":")[0] for job in offline.bot.reminders.scheduler.get_jobs()})
        rss_ready = rss_mib()
        # A timeline: (phase, starts at, lasts), in ms from the call of start_bot.
        phases: list[dict[str, Any]] = []
        for _, _, label in STARTUP_PHASES:
            span = marks.first(label)
            if span:
                phases.append(
                    {"phase": label, "at_ms": round(span[0] * 1000, 1), "ms": round((span[1] - span[0]) * 1000, 1)}
                )
        login = marks.first(STARTUP_PHASES[3][2])
        if login:
            phases.append(
                {"phase": GATEWAY_PHASE, "at_ms": round(login[1] * 1000, 1), "ms": round((ready - login[1]) * 1000, 1)}
            )
        result.update(
            ready_s=round(ready, 3),
            all_jobs_armed_s=round(all_armed, 3),
            jobs=jobs_final,
            jobs_at_ready=jobs,
            jobs_total=len(offline.bot.reminders.scheduler.get_jobs()),
            job_kinds=all_job_ids,
            guilds_seen_by_bot=len(offline.bot.guilds),
            phases=phases,
        )

        # The scheduled-event sync (4 events per study) starts at READY and runs in the background.
        sync_started = time.perf_counter()
        last = await wait_quiet(standin, quiet=1.0, within=args.timeout * 6)
        result["event_sync_s"] = round(max(0.0, last - sync_started), 2)
        result["scheduled_events"] = sum(len(standin.world.guilds[g].scheduled_events) for g in world.guilds)
        rss_settled = rss_mib()

        # directory.load_all() alone, on its own runtime (same database), three times.
        settings = offline.runtime.settings
        runtime = await open_runtime(settings, clock=clock, migrate=False)
        try:
            timings = []
            for _ in range(3):
                t0 = time.perf_counter()
                await runtime.directory.load_all()
                timings.append(time.perf_counter() - t0)
            # Memory the snapshots keep (tracemalloc, after a fresh load into an empty directory).
            fresh = StudyDirectory(runtime.sessionmaker)
            gc.collect()
            tracemalloc.start()
            before = tracemalloc.get_traced_memory()[0]
            await fresh.load_all()
            gc.collect()
            after, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            loaded = len(fresh.all())
        finally:
            await runtime.close()
        result.update(
            load_all_s={"min": round(min(timings), 3), "median": round(sorted(timings)[1], 3), "runs": 3},
            snapshot_bytes_per_study=round((after - before) / max(1, loaded)),
            load_all_peak_traced_mib=round((peak - before) / 2**20, 1),
            rss_mib={
                "before_world": round(rss_before, 1),
                "after_world": round(rss_world, 1),
                "ready": round(rss_ready, 1),
                "settled": round(rss_settled, 1),
            },
            log=dict(counter.counts),
            log_samples=counter.samples,
        )
    finally:
        await stop_quietly(offline)
        await standin.stop()
    return result


# =============================================================================================================
# scenario: latency — /week on the real bot vs /ping on a bare discord.py bot, same stand-in, same run
# =============================================================================================================
async def scenario_latency(args: argparse.Namespace) -> dict[str, Any]:
    from bench.bare import PONG, start_bare_bot, stop_bare_bot

    workdir = Path(args.workdir)
    database = workdir / "latency.db"
    shutil.copyfile(args.db, database)
    counter = install_logging(workdir / "latency.log")

    standin = StandIn(seed=False)
    await standin.start()
    bare_app: Application = standin.add_application("bare")
    world = build_world(standin, args.studies)
    config = config_for(workdir, standin, database)
    offline: OfflineBot | None = None
    bare = None
    result: dict[str, Any] = {"studies": args.studies, "requests": args.requests}
    try:
        offline = await start_bot(config, standin=standin, clock=clock_at(START_NOW), ready_within=args.timeout)
        unpace_events(offline)
        bare = await start_bare_bot(
            token=bare_app.token, api_base_url=standin.api_base_url, gateway_url=standin.gateway_url
        )
        progress("latency: both bots ready; waiting for the real bot's scheduled-event sync to finish")
        await wait_quiet(standin, quiet=1.0, within=args.timeout * 6)
        result["snapshots_loaded"] = len(offline.runtime.directory.all())

        locales = ("ko", "en-US")
        errors: Counter[str] = Counter()

        spans: dict[str, list[tuple[float, float]]] = {"week": [], "ping": []}

        async def once(command: str, app: Application, i: int) -> float:
            handle = await standin.invoke(
                command, {}, guild_id=world.guilds[i % len(world.guilds)], locale=locales[i % 2], application=app
            )
            record = await handle.wait_response(timeout=10)
            if not record.accepted:
                errors[f"/{command} not accepted ({record.status})"] += 1
            elif command == "ping" and record.content != PONG:
                errors["/ping wrong content"] += 1
            elif command == "week" and not (record.data or {}).get("embeds"):
                errors[f"/week without embed: {str(record.content)[:60]}"] += 1
            assert record.latency is not None
            spans[command].append((handle.dispatched_at, record.at))
            return record.latency * 1000

        warmup = max(5, min(50, args.requests // 10))
        for i in range(warmup):
            await once("week", standin.app, i)
            await once("ping", bare_app, i)
        week: list[float] = []
        ping: list[float] = []
        spans["week"].clear()
        spans["ping"].clear()
        pauses = GcPauses()
        with profiled(args.profile_dir, "latency"), pauses:
            for i in range(args.requests):  # alternate, so both see the same background conditions
                week.append(await once("week", standin.app, warmup + i))
                ping.append(await once("ping", bare_app, warmup + i))
        gc_report: dict[str, Any] = {"pauses": pauses.summary()}
        for command, values in (("week", week), ("ping", ping)):
            hit = [pauses.overlaps(a, b) for a, b in spans[command]]
            clean = [v for v, h in zip(values, hit, strict=True) if not h]
            gc_report[command] = {
                "requests_with_gc_pause": sum(hit),
                "p99_without_those_ms": round(percentile(clean, 99), 3),
            }
        gc_report["ratio_p99_without_gc"] = round(
            gc_report["week"]["p99_without_those_ms"] / gc_report["ping"]["p99_without_those_ms"], 2
        )
        # A sample of what /week answered, to show it is the real thing.
        sample = await standin.invoke("week", {}, guild_id=world.guilds[0], locale="en-US")
        answer = await sample.wait_response(timeout=10)
        embeds = (answer.data or {}).get("embeds") or [{}]
        result.update(
            warmup=warmup,
            week_ms=summary_ms(week),
            bare_ping_ms=summary_ms(ping),
            ratio_p50=round(percentile(week, 50) / percentile(ping, 50), 2),
            ratio_p99=round(percentile(week, 99) / percentile(ping, 99), 2),
            errors=dict(errors),
            week_sample_title=str(embeds[0].get("title", "")),
            deadline_misses=sum(1 for h in standin.interactions.values() if h.late),
            gc=gc_report,
            log=dict(counter.counts),
        )
    finally:
        if bare is not None:
            with contextlib.suppress(Exception):
                await stop_bare_bot(bare)
        await stop_quietly(offline)
        await standin.stop()
    return result


# =============================================================================================================
# scenario: fan-out — N reminders due at the same instant under a 50 requests/s global limit
# =============================================================================================================
async def scenario_fanout(args: argparse.Namespace) -> dict[str, Any]:
    cold = args.scenario == "fanout-cold"
    workdir = Path(args.workdir)
    database = workdir / f"{args.scenario}.db"
    shutil.copyfile(args.db, database)
    counter = install_logging(workdir / f"{args.scenario}.log")

    standin = StandIn(seed=False, global_rate_limit=GLOBAL_LIMIT if cold else None)
    await standin.start()
    world = build_world(standin, args.studies)
    config = config_for(workdir, standin, database)
    n = args.studies
    offline: OfflineBot | None = None
    result: dict[str, Any] = {"studies": n, "mode": "cold" if cold else "warm", "global_limit": GLOBAL_LIMIT}
    try:
        if cold:
            # A restart moments before the reminder minute; the limit is on from the first request.
            lead = args.cold_lead
            clock = clock_at(FANOUT_DUE - timedelta(seconds=lead))
            base_requests = 0
            base_stats = standin.faults.totals()
            base_by_route: dict[str, int] = {}
            due_perf = time.perf_counter() + lead
            with profiled(args.profile_dir, args.scenario):
                offline = await start_bot(config, standin=standin, clock=clock, ready_within=args.timeout)
                result["ready_after_s"] = round(time.perf_counter() - (due_perf - lead), 2)
                deadline = max(60.0, n / GLOBAL_LIMIT * 4)
                await _wait_channels(standin, world.channels, deadline)
                await asyncio.wait_for(offline.bot.reminders.drain(), timeout=deadline)
            result["rearm_s"] = None
        else:
            # The bot has been up for a while: start it an hour early and let the event sync finish unlimited.
            clock = clock_at(FANOUT_DUE - timedelta(hours=1))
            offline = await start_bot(config, standin=standin, clock=clock, ready_within=args.timeout)
            unpace_events(offline)
            progress(f"{args.scenario}: bot ready; waiting for its scheduled-event sync to finish")
            await wait_quiet(standin, quiet=1.0, within=args.timeout * 6)
            standin.faults.set_global_limit(GLOBAL_LIMIT)
            base_requests = len(standin.requests)
            base_stats = standin.faults.totals()
            base_by_route = {route: s.rate_limited for route, s in standin.route_stats.items()}
            # Move the clock to just before the due time and re-arm every study (as the e2e tests do); the lead
            # leaves time for re-arming N studies, so the jobs fire from APScheduler at the due instant itself.
            lead = max(2.0, n * 0.006)
            clock.set(FANOUT_DUE - timedelta(seconds=lead))
            due_perf = time.perf_counter() + lead
            with profiled(args.profile_dir, args.scenario):
                t0 = time.perf_counter()
                await offline.bot.reminders.rearm_all()
                result["rearm_s"] = round(time.perf_counter() - t0, 2)
                result["rearm_finished_before_due"] = time.perf_counter() < due_perf
                deadline = max(60.0, n / GLOBAL_LIMIT * 4)
                await _wait_channels(standin, world.channels, deadline + lead)
                await asyncio.wait_for(offline.bot.reminders.drain(), timeout=deadline)
        await asyncio.sleep(1.0)  # anything posted twice would show up now
        await asyncio.wait_for(offline.bot.reminders.drain(), timeout=30)

        posts = [
            r
            for r in standin.requests[base_requests:]
            if r.route == MESSAGES_ROUTE and r.status == 200 and r.at >= due_perf - 60
        ]
        per_channel = [len(standin.messages(c)) for c in world.channels]
        stats = standin.faults.totals()
        by_route = {
            route: s.rate_limited - base_by_route.get(route, 0)
            for route, s in standin.route_stats.items()
            if s.rate_limited > base_by_route.get(route, 0)
        }
        async with offline.runtime.sessionmaker() as session:
            rows = (await session.execute(select(db.Delivery.status, func.count()).group_by(db.Delivery.status))).all()
        statuses = {str(status): int(count) for status, count in rows}
        first = min((r.at for r in posts), default=math.nan) - due_perf
        last = max((r.at for r in posts), default=math.nan) - due_perf
        floor = n / GLOBAL_LIMIT
        result.update(
            n=n,
            first_message_after_due_s=round(first, 3),
            total_s=round(last, 3),
            floor_s=round(floor, 3),
            ratio=round(last / floor, 3) if floor else math.nan,
            bot_pacing_floor_s=round(n / BOT_RATE, 3),
            peak_posts_in_1s=_peak_in_window([r.at for r in posts], 1.0),
            posts_per_second=_per_second([r.at - due_perf for r in posts]),
            responses_429=stats.rate_limited - base_stats.rate_limited,
            responses_429_by_route=by_route,
            server_errors=stats.server_errors - base_stats.server_errors,
            duplicates=sum(1 for c in per_channel if c > 1),
            extra_messages=sum(c - 1 for c in per_channel if c > 1),
            losses=sum(1 for c in per_channel if c == 0),
            nonce_dedupes=standin.nonce_hits,
            ledger=statuses,
            sent=statuses.get("sent", 0),
            log=dict(counter.counts),
            log_samples=counter.samples,
        )
    finally:
        await stop_quietly(offline)
        await standin.stop()
    return result


async def _wait_channels(standin: StandIn, channels: Sequence[int], within: float) -> None:
    messages = standin.world.channel_messages
    with contextlib.suppress(TimeoutError):
        await standin.wait_until(
            lambda: sum(1 for c in channels if messages.get(c)) >= len(channels), within, "every reminder"
        )


def _per_second(offsets: Sequence[float]) -> list[int]:
    """Messages posted in each second after the due time (second 0 = the first second)."""
    counts: Counter[int] = Counter(max(0, int(x)) for x in offsets)
    return [counts.get(i, 0) for i in range(max(counts, default=-1) + 1)]


def _peak_in_window(times: Sequence[float], window: float) -> int:
    ordered = sorted(times)
    best = 0
    start = 0
    for end, t in enumerate(ordered):
        while t - ordered[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


SCENARIOS: dict[str, Callable[[argparse.Namespace], Awaitable[dict[str, Any]]]] = {
    "seed": scenario_seed,
    "startup": scenario_startup,
    "latency": scenario_latency,
    "fanout-warm": scenario_fanout,
    "fanout-cold": scenario_fanout,
}


# =============================================================================================================
# the parent: runs each scenario in a child process, prints the table, writes JSON
# =============================================================================================================
def machine() -> dict[str, Any]:
    import aiosqlite
    import apscheduler
    import discord
    import sqlalchemy

    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "discord.py": discord.__version__,
        "sqlalchemy": sqlalchemy.__version__,
        "aiosqlite": aiosqlite.__version__,
        "apscheduler": getattr(apscheduler, "__version__", "3.x"),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def run_child(args: argparse.Namespace, scenario: str, studies: int, db_path: Path, workdir: Path) -> dict[str, Any]:
    out = workdir / f"{scenario}-{studies}.json"
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--scenario",
        scenario,
        "--studies",
        str(studies),
        "--requests",
        str(args.requests),
        "--db",
        str(db_path),
        "--workdir",
        str(workdir),
        "--out",
        str(out),
        "--timeout",
        str(args.timeout),
        "--cold-lead",
        str(args.cold_lead),
    ]
    if args.profile_dir:
        command += ["--profile-dir", args.profile_dir]
    progress(f"{scenario} ({studies} studies) ...")
    started = time.perf_counter()
    budget = 600 + studies * 0.5
    try:
        completed = subprocess.run(command, cwd=ROOT, timeout=budget, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {budget:.0f}s"}
    if completed.returncode != 0 or not out.exists():
        return {"error": f"child exited with {completed.returncode}"}
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    progress(f"{scenario} ({studies} studies) done in {time.perf_counter() - started:.1f}s")
    return result


def fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        text = f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}" if abs(value) < 1000 else f"{value:,.0f}"
    else:
        text = f"{value:,}" if isinstance(value, int) else str(value)
    return f"{text} {unit}".rstrip()


def verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("MET" if ok else "MISSED")


def build_rows(report: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(measurement, value, target, verdict) rows; section headers have empty value/target/verdict."""
    rows: list[tuple[str, str, str, str]] = []

    def add(label: str, value: str = "", target: str = "", ok: bool | None = None, *, plain: bool = False) -> None:
        rows.append((label, value, target, "" if plain else verdict(ok) if target else ""))

    n = report["config"]["studies"]
    m = report["machine"]
    add("MACHINE")
    add("  cpu", f"{m['cpu']} ({m['cores']} cores, {m['cores_usable']} usable)")
    add("  python / discord.py", f"{m['python']} / {m['discord.py']}")
    add("  sqlalchemy / aiosqlite / apscheduler", f"{m['sqlalchemy']} / {m['aiosqlite']} / {m['apscheduler']}")
    add("  date", m["date"])

    lat = report.get("latency", {})
    add(f"/week LATENCY ({n} studies, {report['config']['requests']} sequential requests each)")
    if "error" in lat:
        add("  error", lat["error"], "-", False)
    elif lat:
        w, b = lat["week_ms"], lat["bare_ping_ms"]
        for key in ("p50", "p95", "p99", "max"):
            add(f"  /week {key} (real bot)", fmt(w[key], "ms"))
        for key in ("p50", "p95", "p99", "max"):
            add(f"  /ping {key} (bare discord.py bot)", fmt(b[key], "ms"))
        add("  ratio p50 real/bare", fmt(lat["ratio_p50"], "x"))
        add("  ratio p99 real/bare", fmt(lat["ratio_p99"], "x"), "<= 1.5x", lat["ratio_p99"] <= 1.5)
        add("  /week p99 vs Discord's 3 s deadline", fmt(w["p99"], "ms"), "< 3000 ms", w["p99"] < 3000)
        errors = sum(lat["errors"].values())
        add(
            "  errors / deadline misses",
            f"{errors} / {lat['deadline_misses']}",
            "0 / 0",
            errors + lat["deadline_misses"] == 0,
        )
        g = lat.get("gc", {})
        if g:
            add(
                "  requests that overlapped a GC pause: /week, /ping",
                f"{g['week']['requests_with_gc_pause']}, {g['ping']['requests_with_gc_pause']}",
            )
            for gen, p in g["pauses"].items():
                add(
                    f"    {gen} collections during the run",
                    f"{p['count']} (median {p['median_ms']} ms, max {p['max_ms']} ms)",
                )
            add("  ratio p99 real/bare leaving out requests hit by a GC pause", fmt(g["ratio_p99_without_gc"], "x"))
        add("  (the stand-in and both bots share one process and one event loop)", " ", plain=True)

    for key, title in (("fanout_warm", "bot up, events synced"), ("fanout_cold", "bot restarted just before due")):
        fan = report.get(key, {})
        if not fan:
            continue
        add(f"REMINDER FAN-OUT ({title}; global limit {GLOBAL_LIMIT}/s)")
        if "error" in fan:
            add("  error", fan["error"], "-", False)
            continue
        target = key == "fanout_warm"  # the target; the cold run is an extra, harsher case
        add("  N studies due in the same minute", fmt(fan["n"]))
        add("  due → first message", fmt(fan["first_message_after_due_s"], "s"))
        add("  due → last message", fmt(fan["total_s"], "s"))
        add("  floor N/50", fmt(fan["floor_s"], "s"))
        add("  floor at the bot's own pacing N/45", fmt(fan["bot_pacing_floor_s"], "s"))
        add("  ratio total/floor", fmt(fan["ratio"], "x"), "~1.0x (<= 1.15)", fan["ratio"] <= 1.15, plain=not target)
        add("  peak posts in any 1 s window", fmt(fan["peak_posts_in_1s"]), f"<= {GLOBAL_LIMIT}", plain=True)
        add("  posts in seconds 0..5 after due", ", ".join(str(x) for x in fan["posts_per_second"][:6]))
        add("  429s answered by the stand-in", fmt(fan["responses_429"]), "0", fan["responses_429"] == 0)
        for route, count in fan["responses_429_by_route"].items():
            add(f"    of which {route}", fmt(count))
        add("  duplicates (channels with > 1 message)", fmt(fan["duplicates"]), "0", fan["duplicates"] == 0)
        add("  losses (channels without a message)", fmt(fan["losses"]), "0", fan["losses"] == 0)
        ledger = ", ".join(f"{k}={v}" for k, v in sorted(fan["ledger"].items()))
        add("  ledger statuses", ledger, f"sent={fan['n']}", fan["sent"] == fan["n"])
        if fan.get("rearm_s") is not None:
            add("  re-arm of every study (before due)", fmt(fan["rearm_s"], "s"))
        if fan.get("ready_after_s") is not None:
            add("  bot ready after (from start_bot)", fmt(fan["ready_after_s"], "s"))

    st = report.get("startup", {})
    add(f"START-UP ({n} studies)")
    if "error" in st:
        add("  error", st["error"], "-", False)
    elif st:
        armed_ok = st["jobs"] == n
        seconds = st["all_jobs_armed_s"]
        add("  start_bot → ready, all jobs armed", fmt(seconds, "s"), "<= 2 s", seconds <= 2.0 and armed_ok)
        add(
            "  APScheduler jobs study:<id> (+ periodic jobs)",
            f"{st['jobs']} (+{st['jobs_total'] - st['jobs']})",
            f"{n}",
            armed_ok,
        )
        for phase in st["phases"]:
            add(f"    {phase['phase']}", f"{fmt(float(phase['ms']), 'ms')} (at +{phase['at_ms']:,.0f} ms)")
        add("  directory.load_all() alone (min of 3)", fmt(st["load_all_s"]["min"], "s"))
        add("  scheduled-event sync after READY (background)", fmt(st["event_sync_s"], "s"))
        add("  scheduled events created", fmt(st["scheduled_events"]))
    mem = report.get("memory", {})
    if mem:
        add("MEMORY (RSS, psutil)")
        for label, key in (("before world", "before_world"), ("at ready", "ready"), ("settled", "settled")):
            add(f"  RSS {label}: 1 / {n} studies", f"{fmt(mem['rss_1'][key])} / {fmt(mem['rss_n'][key], 'MiB')}")
        add("  per study at ready: (RSS_N - RSS_1)/(N-1)", fmt(mem["per_study_kib_ready"], "KiB"))
        add("  per study settled (events synced)", fmt(mem["per_study_kib_settled"], "KiB"))
        add("    of which the stand-in's world (guild, channel, role)", fmt(mem["standin_world_kib_per_study"], "KiB"))
        add("    of which the bot's snapshots (tracemalloc)", fmt(mem["snapshot_kib_per_study"], "KiB"))
        add("  load_all peak traced allocation", fmt(mem["load_all_peak_mib"], "MiB"))
    add("TARGETS")
    if lat and "error" not in lat:
        add("  /week p99 within 1.5x of the bare bot", fmt(lat["ratio_p99"], "x"), "<= 1.5x", lat["ratio_p99"] <= 1.5)
    fan = report.get("fanout_warm", {})
    if fan and "error" not in fan:
        clean = fan["responses_429"] == 0 and fan["duplicates"] == 0 and fan["losses"] == 0 and fan["sent"] == fan["n"]
        add(
            "  fan-out at the floor; 0 429s, duplicates, losses",
            f"{fmt(fan['total_s'], 's')} for {fan['n']:,} ({fmt(fan['ratio'], 'x')} N/50); "
            f"{fan['responses_429']}/{fan['duplicates']}/{fan['losses']}",
            "<= 1.15x; 0/0/0",
            clean and fan["ratio"] <= 1.15,
        )
    if st and "error" not in st:
        seconds = st["all_jobs_armed_s"]
        add(f"  start-up ready + all jobs armed ({n} studies)", fmt(seconds, "s"), "<= 2 s", seconds <= 2.0)
    seed = report.get("seed", {})
    if seed and "error" not in seed:
        add("SEEDING (not a target)")
        add("  import_definition × N", fmt(seed["seconds"], "s"))
        add("  rows", ", ".join(f"{k}={v:,}" for k, v in seed["rows"].items()))
    return rows


def render_table(rows: list[tuple[str, str, str, str]]) -> str:
    headers = ("measurement", "value", "target", "verdict")
    body = [r for r in rows if r[1] or r[2] or r[3]]
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(headers)]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)), line]
    for row in rows:
        if not (row[1] or row[2] or row[3]) and not row[0].startswith("  "):
            out.append("")
            out.append(row[0])
            continue
        out.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(out)


def orchestrate(args: argparse.Namespace) -> int:
    if args.quick:
        args.studies, args.requests = min(args.studies, 20), min(args.requests, 50)
    if args.json is None:
        args.json = str(ROOT / "bench" / "results.json")
    n = args.studies
    if n < 2:
        raise SystemExit("--studies must be at least 2 (memory per study compares N with 1)")
    started = time.perf_counter()
    report: dict[str, Any] = {
        "config": {"studies": n, "requests": args.requests, "quick": args.quick},
        "machine": machine(),
    }
    with tempfile.TemporaryDirectory(prefix="studybot-bench-") as tmp:
        workdir = Path(tmp)
        seeded = workdir / f"seed-{n}.db"
        seeded_one = workdir / "seed-1.db"
        report["seed"] = run_child(args, "seed", n, seeded, workdir)
        run_child(args, "seed", 1, seeded_one, workdir)
        if "error" in report["seed"]:
            print(json.dumps(report, indent=2))
            return 1
        startup_n = run_child(args, "startup", n, seeded, workdir)
        startup_1 = run_child(args, "startup", 1, seeded_one, workdir)
        report["startup"] = startup_n
        report["startup_1"] = startup_1
        if "error" not in startup_n and "error" not in startup_1:
            rn, r1 = startup_n["rss_mib"], startup_1["rss_mib"]
            world_kib = (rn["after_world"] - rn["before_world"] - (r1["after_world"] - r1["before_world"])) * 1024
            report["memory"] = {
                "rss_n": rn,
                "rss_1": r1,
                "per_study_kib_ready": round((rn["ready"] - r1["ready"]) * 1024 / (n - 1), 1),
                "per_study_kib_settled": round((rn["settled"] - r1["settled"]) * 1024 / (n - 1), 1),
                "standin_world_kib_per_study": round(world_kib / (n - 1), 1),
                "snapshot_kib_per_study": round(startup_n["snapshot_bytes_per_study"] / 1024, 1),
                "load_all_peak_mib": startup_n["load_all_peak_traced_mib"],
            }
        report["latency"] = run_child(args, "latency", n, seeded, workdir)
        report["fanout_warm"] = run_child(args, "fanout-warm", n, seeded, workdir)
        if not args.skip_cold:
            report["fanout_cold"] = run_child(args, "fanout-cold", n, seeded, workdir)
    report["elapsed_s"] = round(time.perf_counter() - started, 1)
    table = render_table(build_rows(report))
    report["table"] = table.splitlines()
    print(table)
    print(f"\n(total {report['elapsed_s']} s; JSON in {args.json})")
    Path(args.json).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


def unpace_events(offline: OfflineBot) -> None:
    """Let the scheduled-event sync run unthrottled during set-up (see the module docstring)."""
    offline.bot.events.gate.unpaced.add(Priority.EVENT)


def child(args: argparse.Namespace) -> int:
    scenario = SCENARIOS[args.scenario]

    async def main() -> dict[str, Any]:
        return await asyncio.wait_for(scenario(args), timeout=600 + args.studies * 0.5)

    result = event_loop.run(main())
    Path(args.out).write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    return 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--studies", type=int, default=1000, help="studies (guilds) in the database (default 1000)")
    parser.add_argument("--requests", type=int, default=500, help="sequential /week (and /ping) requests (default 500)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (20 studies, 50 requests) for a smoke test")
    parser.add_argument("--skip-cold", action="store_true", help="skip the cold-start fan-out variant")
    parser.add_argument("--json", default=None, help="where to write the JSON (default bench/results.json)")
    parser.add_argument("--profile-dir", default=None, help="write cProfile .pstats of each measured phase here")
    parser.add_argument("--timeout", type=float, default=60.0, help="bound of each wait for readiness (seconds)")
    parser.add_argument("--cold-lead", type=float, default=2.0, help=argparse.SUPPRESS)
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.scenario:
        return child(args)
    return orchestrate(args)


if __name__ == "__main__":
    raise SystemExit(main())

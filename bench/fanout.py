"""Fan-out across processes: N `studybot run` processes on one PostgreSQL and one stand-in that enforces Discord's
global limit (50 requests/s per bot token, over every connection), with many reminders due in the same minute
while the processes' first server-event sync is still pending.

    STUDYBOT_TEST_POSTGRES_URL=postgresql+asyncpg://user:pw@127.0.0.1/postgres \\
        python -m bench.fanout --processes 4 --studies 1000

What it does: seeds a throwaway database on that server with `--studies` studies (one server each, spread
evenly over `--shards` shards); moves every study's session to start one hour after the due minute (so every
1h reminder falls due at that same minute, a little more than `--lead` seconds after the processes start);
starts `--processes` processes with contiguous shard ranges; waits for every channel to have its reminder;
stops the processes; prints the table and writes JSON.

What it reports: total time from the due instant to the last reminder posted, against the floor N/50 (goal
≤ 1.05 ×); 429 answers (by route); duplicates (a channel with two reminders) and losses (none); the ledger's
statuses; and how many server-event calls were made during the fan-out (reminders go first within each
process, so they should be few). The stand-in, and this script, run in one process, so on a small machine
the figures include its own load; note the load average printed with them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from bot import loop as event_loop  # noqa: E402
from bot.clock import FrozenClock  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.core.definition import load_definition  # noqa: E402
from bot.core.sharding import parse_shard_spec  # noqa: E402
from bot.db import models as db  # noqa: E402
from bot.offline import BUNDLED_STUDY  # noqa: E402
from bot.runtime import open_runtime  # noqa: E402
from bot.services.base import Actor  # noqa: E402
from standin import StandIn  # noqa: E402
from tests.e2e.procs import READY_LINE, kill, spawn, stopped, throwaway_database, wait_for_log  # noqa: E402
from tests.e2e.test_several_processes import move_sessions, shared_config  # noqa: E402

GLOBAL_LIMIT = 50
MESSAGES_ROUTE = "POST /channels/{channel_id}/messages"
EVENT_ROUTES = ("/scheduled-events",)


def guild_on(index: int) -> int:
    """Server ids spread evenly over any number of shards (Discord's rule: (id >> 22) % count)."""
    return ((10_000 + index) << 22) | 11


def ranges(processes: int, shards: int) -> list[str]:
    """Contiguous shard ranges, one a process, covering every shard once: 4 processes of 8 → 0-1/8 … 6-7/8."""
    bounds = [round(i * shards / processes) for i in range(processes + 1)]
    return [f"{bounds[i]}-{bounds[i + 1] - 1}/{shards}" for i in range(processes)]


async def seed(url: str, standin: StandIn, studies: int) -> dict[int, int]:
    """`studies` servers with a channel each, and a study of the bundled definition for each; guild → channel."""
    channels: dict[int, int] = {}
    for i in range(studies):
        guild_id = guild_on(i)
        standin.add_guild(guild_id, name=f"study server {i}")
        channels[guild_id] = standin.add_channel(guild_id, "reminders")
    runtime = await open_runtime(
        Settings(token="", database_url=url), clock=FrozenClock(datetime.now(UTC) - timedelta(days=1))
    )
    definition = load_definition(BUNDLED_STUDY)
    together = asyncio.Semaphore(8)
    done = 0

    async def one(guild_id: int, channel_id: int) -> None:
        nonlocal done
        async with together:
            await runtime.services.definitions.import_definition(
                guild_id=guild_id, definition=definition, actor=Actor.cli(), reminder_channel_id=channel_id
            )
        done += 1
        if done % 100 == 0:
            print(f"  seeded {done}/{studies}", file=sys.stderr, flush=True)

    try:
        await asyncio.gather(*(one(g, c) for g, c in channels.items()))
    finally:
        await runtime.close()
    return channels


async def ledger_statuses(url: str) -> dict[str, int]:
    runtime = await open_runtime(Settings(token="", database_url=url), migrate=False)
    try:
        async with runtime.sessionmaker() as session:
            query = select(db.Delivery.status, func.count()).group_by(db.Delivery.status)
            return {str(status): int(count) for status, count in (await session.execute(query)).all()}
    finally:
        await runtime.close()


def next_minute_after(moment: datetime) -> datetime:
    return (moment + timedelta(minutes=1)).replace(second=0, microsecond=0)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    server = os.environ.get("STUDYBOT_TEST_POSTGRES_URL", "")
    if not server:
        raise SystemExit("set STUDYBOT_TEST_POSTGRES_URL to a PostgreSQL server (a throwaway database is made there)")
    workdir = Path(tempfile.mkdtemp(prefix="fanout-"))
    standin = StandIn(seed=False, global_rate_limit=GLOBAL_LIMIT)
    await standin.start()
    result: dict[str, Any] = {"processes": args.processes, "shards": args.shards, "studies": args.studies}
    try:
        async with throwaway_database(server) as url:
            started = time.perf_counter()
            channels = await seed(url, standin, args.studies)
            result["seed_s"] = round(time.perf_counter() - started, 1)
            due = next_minute_after(datetime.now(UTC) + timedelta(seconds=args.lead))
            await move_sessions(url, due + timedelta(hours=1))
            # The config names one study: each process loads every study of its shards from the database.
            first = dict([next(iter(channels.items()))])
            config = shared_config(workdir / "config.toml", standin, url, first, level="INFO")
            specs = ranges(args.processes, args.shards)
            logs = [workdir / f"bot-{i}.log" for i in range(len(specs))]
            processes = [
                await spawn(config, log=log, shards=spec, database_from_env=False)
                for spec, log in zip(specs, logs, strict=True)
            ]
            try:
                await asyncio.gather(*(wait_for_log(log, READY_LINE, timeout=args.lead + 120) for log in logs))
                result["all_ready_before_due"] = datetime.now(UTC) < due
                due_perf = time.perf_counter() + (due - datetime.now(UTC)).total_seconds()
                base = standin.faults.totals()
                base_requests = len(standin.requests)
                print(f"  {len(specs)} processes ready; due at {due:%H:%M:%S}", file=sys.stderr, flush=True)
                within = max(120.0, args.studies / GLOBAL_LIMIT * 4) + max(0.0, due_perf - time.perf_counter())
                with contextlib.suppress(TimeoutError):
                    await standin.wait_until(
                        lambda: all(standin.world.channel_messages.get(c) for c in channels.values()), within, "all"
                    )
                # Stop every process (a send in flight finishes): the channels are then final.
                for process in processes:
                    with contextlib.suppress(TimeoutError):
                        await stopped(process, signal.SIGTERM, timeout=20)
            finally:
                for process in processes:
                    await kill(process)
            statuses = await ledger_statuses(url)
    finally:
        await standin.stop()
    requests = standin.requests[base_requests:]
    posts = [r.at - due_perf for r in requests if r.route == MESSAGES_ROUTE and r.status == 200]
    per_channel = [len(standin.messages(c)) for c in channels.values()]
    first, last = (min(posts), max(posts)) if posts else (math.nan, math.nan)
    events_during = sum(
        1 for r in requests if any(s in r.path for s in EVENT_ROUTES) and posts and first <= r.at - due_perf <= last
    )
    events_after = sum(
        1 for r in requests if any(s in r.path for s in EVENT_ROUTES) and posts and r.at - due_perf > last
    )
    totals = standin.faults.totals()
    floor = args.studies / GLOBAL_LIMIT
    by_route = {route: s.rate_limited for route, s in standin.route_stats.items() if s.rate_limited}
    per_process = {spec: sum(1 for g in channels if parse_shard_spec(spec).owns(g)) for spec in specs}
    result.update(
        ranges=per_process,
        first_post_after_due_s=round(first, 3),
        total_s=round(last, 3),
        floor_s=round(floor, 3),
        ratio=round(last / floor, 3) if floor else math.nan,
        responses_429=totals.rate_limited - base.rate_limited,
        responses_429_by_route=by_route,
        duplicates=sum(1 for n in per_channel if n > 1),
        losses=sum(1 for n in per_channel if n == 0),
        event_calls_during_fanout=events_during,
        event_calls_after_fanout=events_after,
        ledger=statuses,
        load_average=os.getloadavg(),
        logs=str(workdir),
    )
    return result


def table(result: dict[str, Any]) -> str:
    ratio = result["ratio"]
    rows = [
        ("processes × shards", f"{result['processes']} × {result['shards']} ({result['ranges']})"),
        ("reminders due in one minute", str(result["studies"])),
        ("all processes ready before the due minute", str(result["all_ready_before_due"])),
        ("first reminder after the due instant", f"{result['first_post_after_due_s']} s"),
        ("last reminder after the due instant", f"{result['total_s']} s (floor N/50 = {result['floor_s']} s)"),
        ("ratio to the floor (goal ≤ 1.05)", f"{ratio} {'✔' if ratio <= 1.05 else '✘'}"),
        ("429 answers", f"{result['responses_429']} {result['responses_429_by_route'] or ''}"),
        ("duplicates / losses", f"{result['duplicates']} / {result['losses']}"),
        (
            "server-event calls during / after the fan-out",
            f"{result['event_calls_during_fanout']} / {result['event_calls_after_fanout']} (after: still pending)",
        ),
        ("ledger", str(result["ledger"])),
        ("load average (1, 5, 15 min)", ", ".join(f"{x:.2f}" for x in result["load_average"])),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--shards", type=int, default=0, help="shards in all (default: 2 per process)")
    parser.add_argument("--studies", type=int, default=1000)
    parser.add_argument("--lead", type=float, default=45.0, help="seconds the processes get to start before due")
    parser.add_argument("--json", default=str(ROOT / "bench" / "fanout-results.json"))
    args = parser.parse_args(argv)
    args.shards = args.shards or 2 * args.processes
    result = event_loop.run(run(args))
    print(table(result))
    Path(args.json).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0 if result["duplicates"] == 0 and result["losses"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())

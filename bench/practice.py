"""Check-in burst benchmark: 200 members press the session-start post's button within one second.

Run from the repository root (a script, not a test)::

    .venv/bin/python bench/practice.py              # 200 presses, 200 idle /week probes
    .venv/bin/python bench/practice.py --members 50 --probes 50   # a quick smoke run

The real bot runs through `studybot run`'s own start-up path (`bot.offline.start_offline`) against the local
stand-in, on a SQLite file, with the bundled study and N roster members linked to N stand-in users. The bot's
clock is set just before the check-in window opens, so it posts the session-start message with its button;
then:

1. idle: `/week` invoked sequentially (`--probes` times): latency = stand-in dispatch of INTERACTION_CREATE →
   stand-in receiving the interaction callback;
2. burst: N button presses (type-3 component interactions, `custom_id` from the posted message) dispatched at
   even intervals within one second, while `/week` is probed sequentially the whole time. Reported: press
   answer latency p50/p99/max, answers over 3 s, answers not ephemeral, rows written (must be N, one per
   member), and `/week` p99 during the burst against its idle p99 (target: within 1.5x).

Prints a table and writes `bench/practice_results.json`. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
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

from bot.clock import ShiftedClock  # noqa: E402
from bot.db import models as db  # noqa: E402
from bot.offline import start_offline  # noqa: E402
from standin import InteractionHandle, StandIn  # noqa: E402

WEEK1 = datetime(2026, 12, 3, 0, 0, tzinfo=UTC)  # Thursday 09:00 KST, the bundled study's week 1
OPENS = WEEK1 - timedelta(minutes=10)
USER_BASE = 610000000000000000


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[rank]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": round(percentile(values, 50), 2),
        "p99_ms": round(percentile(values, 99), 2),
        "max_ms": round(max(values), 2) if values else float("nan"),
    }


async def week_once(standin: StandIn) -> float:
    handle = await standin.invoke("week", {}, locale="ko")
    record = await handle.wait_response(timeout=10)
    assert record.accepted and record.latency is not None
    return record.latency * 1000


async def run(members: int, probes: int, profile: Path | None = None) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="studybot-bench-practice-"))
    standin = StandIn()
    await standin.start()
    world = standin.defaults
    assert world is not None
    users = [standin.add_member(world.guild_id, USER_BASE + i, name=f"user{i}") for i in range(members)]
    clock = ShiftedClock()
    clock.set(OPENS - timedelta(seconds=2))
    offline = await start_offline(workdir, standin=standin, clock=clock)
    try:
        study = offline.runtime.directory.all()[0]
        async with offline.runtime.sessionmaker() as session, session.begin():
            existing = (await session.execute(select(db.Member).where(db.Member.study_id == study.id))).scalars().all()
            for member in existing:
                member.discord_user_id = None
            for i in range(members - len(existing)):
                session.add(db.Member(study_id=study.id, name=f"참여자{i:03d}"))
        async with offline.runtime.sessionmaker() as session, session.begin():
            rows = (await session.execute(select(db.Member).where(db.Member.study_id == study.id))).scalars().all()
            for row, user_id in zip(rows, users, strict=False):
                row.discord_user_id = user_id
        await offline.runtime.directory.changed(study.id)

        await standin.wait_until(lambda: any(m.components for m in standin.messages(world.channel_id)), timeout=30)
        post = next(m for m in standin.messages(world.channel_id) if m.components)
        custom_id = str(post.components[0]["components"][0]["custom_id"])

        for _ in range(20):  # warm-up
            await week_once(standin)
        idle = [await week_once(standin) for _ in range(probes)]

        during: list[float] = []
        stop = asyncio.Event()

        async def probe() -> None:
            while not stop.is_set():
                during.append(await week_once(standin))

        profiler = cProfile.Profile() if profile else None
        if profiler is not None:
            profiler.enable()
        prober = asyncio.create_task(probe())
        handles: list[InteractionHandle] = []
        started = time.perf_counter()
        for i, user_id in enumerate(users):
            target = started + i / members  # N presses evenly within one second
            delay = target - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            handles.append(await standin.click(post, custom_id, user_id=user_id, locale="ko"))
        dispatch_span = time.perf_counter() - started
        answers = await asyncio.gather(*(h.wait_response(timeout=15) for h in handles))
        await asyncio.sleep(0.2)
        stop.set()
        await prober
        if profiler is not None and profile is not None:
            profiler.disable()
            profiler.dump_stats(str(profile))

        press_ms = [a.latency * 1000 for a in answers if a.latency is not None]
        async with offline.runtime.sessionmaker() as session:
            written = (await session.execute(select(func.count()).select_from(db.Attendance))).scalar_one()
            distinct = (await session.execute(select(func.count(func.distinct(db.Attendance.member_id))))).scalar_one()
        idle_s, during_s = summary(idle), summary(during)
        return {
            "members": members,
            "dispatch_span_s": round(dispatch_span, 3),
            "press": summary(press_ms),
            "answers_over_3s": sum(1 for v in press_ms if v >= 3000),
            "answers_not_accepted": sum(1 for a in answers if not a.accepted),
            "answers_not_ephemeral": sum(1 for a in answers if not a.ephemeral),
            "rows_written": written,
            "distinct_members": distinct,
            "week_idle": idle_s,
            "week_during_burst": during_s,
            "week_p99_ratio": round(during_s["p99_ms"] / idle_s["p99_ms"], 2),
            "deadline_misses": sum(1 for h in standin.interactions.values() if h.late),
        }
    finally:
        await offline.stop()
        await standin.stop()


def table(result: dict[str, Any]) -> str:
    press, idle, burst = result["press"], result["week_idle"], result["week_during_burst"]
    rows = [
        ("presses dispatched within", f"{result['dispatch_span_s']} s", f"{result['members']} members"),
        ("press answer p50 / p99 / max", f"{press['p50_ms']} / {press['p99_ms']} / {press['max_ms']} ms", "< 3 s"),
        (
            "answers ≥ 3 s / not accepted / not ephemeral",
            f"{result['answers_over_3s']} / {result['answers_not_accepted']} / {result['answers_not_ephemeral']}",
            "0",
        ),
        (
            "attendance rows / distinct members",
            f"{result['rows_written']} / {result['distinct_members']}",
            str(result["members"]),
        ),
        ("/week idle p50 / p99", f"{idle['p50_ms']} / {idle['p99_ms']} ms", ""),
        ("/week during burst p50 / p99", f"{burst['p50_ms']} / {burst['p99_ms']} ms ({burst['n']} probes)", ""),
        ("/week p99 burst ÷ idle", f"{result['week_p99_ratio']}x", "≤ 1.5x"),
    ]
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{name:<{width}}  {value:<40}  {target}" for name, value, target in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--probes", type=int, default=200, help="idle /week probes")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "practice_results.json")
    parser.add_argument("--profile", type=Path, default=None, help="write a cProfile of the burst here")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.members, args.probes, args.profile))
    print(table(result))
    args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

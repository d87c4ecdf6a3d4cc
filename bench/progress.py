"""Benchmark of the progress picture: render time, and what drawing pictures does to `/week`.

Run from the repository root::

    .venv/bin/python bench/progress.py            # about a minute
    .venv/bin/python bench/progress.py --quick    # a smoke run

1. Render time of `render_pages` (all pages of one picture, what `/progress` draws) for 10 members × 9 weeks
   (the bundled study's size) and 200 members × 52 weeks (two pages of 100), on synthetic attendance and logs;
   p50 / p99 / max over N runs after a warm-up (fonts loaded once per process).
2. `/week` latency through the real bot (`bot.offline.start_offline`, `studybot run`'s own path) and the local
   stand-in, with the bundled study: idle, and while 20 `/progress` commands are in flight at once
   (re-issued as they finish), in four alternating blocks (this VM's speed drifts within a minute; the
   pictures in flight are finished before each idle block). Also as the bot itself saw it: gateway event
   parsed → answer sent (`bot.foreground`'s timings), without the stand-in's queueing on the same cores.
   Latency = stand-in dispatch → the interaction callback, as in bench/run.py.
   The pictures are drawn in the bot's render pool (worker processes at idle CPU priority). The stand-in and
   the load generator run in a process of their own, as Discord is not in the bot's process
   (`--same-process` for the old set-up, where their work was charged to the bot's event loop).

Only 127.0.0.1 is contacted. Prints a table; nothing here is part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.practice import RemoteStandIn, start_remote_bot, stop_remote_bot  # noqa: E402
from bot import loop as event_loop  # noqa: E402
from bot.clock import ShiftedClock  # noqa: E402
from bot.core.schedule import Session  # noqa: E402
from bot.offline import start_offline  # noqa: E402
from bot.render.progress import ProgressData, build_progress, progress_labels, render_pages, split_progress  # noqa: E402
from standin import StandIn  # noqa: E402

START = datetime(2026, 12, 3, 0, 0, tzinfo=UTC)
NAMES = ["강동연", "김동영", "김정은", "노지민", "박설현", "박성돈", "박장호", "이재준", "장혜선", "차수연"]


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (p100 = max)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered), max(1, math.ceil(pct / 100 * len(ordered)))) - 1]


def synthetic(members: int, weeks: int, seed: int = 7) -> list[ProgressData]:
    rnd = random.Random(seed)
    sessions = [
        Session(
            date(2026, 12, 3) + timedelta(days=7 * i),
            START + timedelta(days=7 * i),
            START + timedelta(days=7 * i, hours=1),
            i + 1,
        )
        for i in range(weeks)
    ]
    now = sessions[(weeks * 2) // 3].end
    people = [(i, NAMES[i % 10] + (str(i // 10) if i >= 10 else "")) for i in range(members)]
    attendance: dict[tuple[int, date], str] = {}
    logs: set[tuple[int, date]] = set()
    for member, _ in people:
        for session in sessions:
            roll = rnd.random()
            if session.end <= now and roll < 0.85:
                attendance[(member, session.original_date)] = "present" if roll < 0.7 else "late"
            if rnd.random() < 0.6:
                logs.add((member, session.original_date))
    stages = {
        w: "파이토치 공식 튜토리얼" if w == 1 else "모두를 위한 딥러닝 시즌2" if w <= 5 else "가짜연구소 Tutorial-Book"
        for w in range(1, weeks + 1)
    }
    data = build_progress(
        labels=progress_labels("죽되밥되 파이토치 스터디", now.date(), "ko"),
        sessions=sessions,
        members=people,
        attendance=attendance,
        logs=logs,
        stages=stages,
        now=now,
        timezone="Asia/Seoul",
    )
    return split_progress(data, page_label="참여자 {first}–{last} / 전체 {total}명")


def bench_pool(members: int, weeks: int, runs: int) -> dict[str, float]:
    """The same picture the way `/progress` draws it: each page in the bot's render pool (spawned processes at
    idle CPU priority, `bot.render.pool`)."""
    from bot.render.pool import RENDER_WORKERS, RenderPool
    from bot.render.progress import render_progress

    pages = synthetic(members, weeks)

    async def measure() -> list[float]:
        pool = RenderPool()
        try:
            for _ in range(2):  # warm-up: every worker imports matplotlib and loads the font
                await asyncio.gather(*(pool.run(render_progress, page) for page in pages * RENDER_WORKERS))
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                await pool.draw(render_progress, pages)
                times.append((time.perf_counter() - started) * 1000)
            return times
        finally:
            await pool.close()

    times = asyncio.run(measure())
    return {"pages": len(pages), "p50": percentile(times, 50), "p99": percentile(times, 99), "max": max(times)}


def bench_render(members: int, weeks: int, runs: int) -> dict[str, float]:
    from bot.render.pool import call_and_collect
    from bot.render.progress import warm_up

    pages = synthetic(members, weeks)
    warm_up()  # as each render worker starts: fonts, caches, then matplotlib's objects frozen out of the GC's way
    render_pages(pages)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call_and_collect(render_pages, pages)  # as a render worker draws
        times.append((time.perf_counter() - started) * 1000)
    return {"pages": len(pages), "p50": percentile(times, 50), "p99": percentile(times, 99), "max": max(times)}


async def drive_progress(
    standin: StandIn,
    requests: int,
    concurrent: int,
    mark: Callable[[str], None] = lambda _phase: None,
    rounds: int = 4,
) -> dict[str, Any]:
    """The stand-in's side: `/week` idle, and while `concurrent` `/progress` are kept in flight — in `rounds`
    alternating blocks. This VM's speed drifts within a minute: one idle block followed by one loaded block
    would compare two moments as much as two loads."""
    world = standin.defaults
    assert world is not None

    async def week() -> float:
        handle = await standin.invoke("week", {}, user_id=world.member_user_id, locale="ko")
        record = await handle.wait_response(timeout=30)
        assert record.accepted and record.latency is not None
        return record.latency * 1000

    pictures = 0
    failed = 0

    async def keep_drawing(stop: asyncio.Event) -> None:
        nonlocal pictures, failed
        while not stop.is_set():
            handle = await standin.invoke("progress", {}, user_id=world.member_user_id, locale="ko")
            reply = await handle.wait_reply(timeout=120)
            if reply.files and reply.files[0].content.startswith(b"\x89PNG"):
                pictures += 1  # a real picture came back
            else:
                failed += 1

    for _ in range(20):
        await week()
    idle: list[float] = []
    loaded: list[float] = []
    drawn, elapsed = 0, 0.0
    per_block = max(1, requests // rounds)
    for block in range(rounds):
        mark("idle")
        idle += [await week() for _ in range(per_block)]
        mark("warm-up")
        stop = asyncio.Event()
        drawers = [asyncio.create_task(keep_drawing(stop)) for _ in range(concurrent)]
        # Let the pictures flow before measuring (in the first block, the render workers start).
        flowing = pictures + failed + (concurrent if block == 0 else 1)
        await standin.wait_until(lambda flowing=flowing: pictures + failed >= flowing, timeout=120)
        mark("loaded")
        before, started = pictures, time.perf_counter()
        loaded += [await week() for _ in range(per_block)]
        while time.perf_counter() - started < 3.0 / rounds:  # long enough for pictures to arrive meanwhile
            loaded.append(await week())
        elapsed += time.perf_counter() - started
        drawn += pictures - before
        mark("drain")
        stop.set()
        await asyncio.gather(*drawers)  # the pictures in flight are finished before the next idle block
    mark("end")
    return {"idle": idle, "loaded": loaded, "pictures_per_s": drawn / elapsed, "failed": failed}


async def bench_week(requests: int, concurrent: int, *, same_process: bool = False) -> dict[str, Any]:
    clock = ShiftedClock()
    clock.set(START - timedelta(days=2))
    with tempfile.TemporaryDirectory(prefix="studybot-progress-") as workdir:
        if same_process:
            offline = await start_offline(Path(workdir), clock=clock, backoff_base=0.05)
            try:
                measured = await drive_progress(offline.standin, requests, concurrent)
            finally:
                await offline.stop()
        else:
            remote = RemoteStandIn(0, "progress", requests=requests, concurrent=concurrent)
            info = await remote.start()
            try:
                runtime, bot, task = await start_remote_bot(Path(workdir), info, clock=clock, backoff_base=0.05)
                try:
                    measured = await remote.run()
                finally:
                    await stop_remote_bot(runtime, bot, task)
            finally:
                await remote.stop()

    def summary(values: list[float]) -> dict[str, float]:
        return {"n": len(values), "p50": percentile(values, 50), "p99": percentile(values, 99), "max": max(values)}

    return {
        "idle": summary(measured["idle"]),
        "loaded": summary(measured["loaded"]),
        "pictures_per_s": {"value": measured["pictures_per_s"]},
        "failed": measured["failed"],
        "bot_cpu_ms": measured.get("bot_cpu_ms", {}),
        "gc": measured.get("gc_pauses_ms", {}),
        "in_bot": {
            phase: summary(values)
            for phase, values in measured.get("bot_answer_ms", {}).items()
            if phase in ("idle", "loaded") and values
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--week-only", action="store_true", help="only the /week measurement (no render timings)")
    parser.add_argument(
        "--same-process",
        action="store_true",
        help="run the stand-in in the bot's process and event loop (the old set-up: its work is charged to the bot)",
    )
    args = parser.parse_args()
    runs_small, runs_big, requests = (5, 2, 30) if args.quick else (60, 12, 200)

    nan = {"pages": 0, "p50": math.nan, "p99": math.nan, "max": math.nan}
    small = nan if args.week_only else bench_render(10, 9, runs_small)
    big = nan if args.week_only else bench_render(200, 52, runs_big)
    big_pool = nan if args.week_only else bench_pool(200, 52, runs_big)
    week = event_loop.run(bench_week(requests, 20, same_process=args.same_process))

    load = os.getloadavg()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, load average {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}"
    )
    print(f"{'measurement':<52} {'p50':>9} {'p99':>9} {'max':>9}  target")
    print(
        f"{'render 10 x 9 (1 image), ms':<52} {small['p50']:9.1f} {small['p99']:9.1f} {small['max']:9.1f}  p99 <= 300"
    )
    label = f"render 200 x 52 ({int(big['pages'])} images), ms"
    print(f"{label:<52} {big['p50']:9.1f} {big['p99']:9.1f} {big['max']:9.1f}  p99 <= 1500")
    from bot.render.pool import RENDER_WORKERS

    label = f"render 200 x 52 in the bot's pool ({int(big_pool['pages'])} pages, {RENDER_WORKERS} worker(s)), ms"
    print(f"{label:<52} {big_pool['p50']:9.1f} {big_pool['p99']:9.1f} {big_pool['max']:9.1f}  p99 <= 1500")
    idle, loaded = week["idle"], week["loaded"]
    print(f"{'/week idle, ms':<52} {idle['p50']:9.2f} {idle['p99']:9.2f} {idle['max']:9.2f}")
    print(
        f"{'/week with 20 /progress in flight, ms':<52} {loaded['p50']:9.2f} {loaded['p99']:9.2f} {loaded['max']:9.2f}"
    )
    ratio = loaded["p99"] / idle["p99"]
    print(
        f"/week p99 loaded / idle: {ratio:.2f}x (target <= 1.5x); "
        f"{week['pictures_per_s']['value']:.1f} pictures/s drawn meanwhile ({week['failed']} /progress without a "
        f"picture); stand-in and load generator in "
        f"{'the bot process' if args.same_process else 'their own process'}"
    )
    inside = week["in_bot"]
    if "idle" in inside and "loaded" in inside:
        for phase, label in (("idle", "/week in the bot, idle, ms"), ("loaded", "/week in the bot, loaded, ms")):
            v = inside[phase]
            print(f"{label:<52} {v['p50']:9.2f} {v['p99']:9.2f} {v['max']:9.2f}  (event parsed → answer sent)")
        print(f"/week in the bot: p99 loaded / idle {inside['loaded']['p99'] / inside['idle']['p99']:.2f}x")
    cpu = week["bot_cpu_ms"]
    if cpu:
        print(
            f"bot event-loop CPU per /week: idle {cpu['idle'] / idle['n']:.2f} ms, "
            f"loaded {cpu['loaded'] / loaded['n']:.2f} ms (loop CPU includes the /progress work in between); "
            f"GC pauses {week['gc']}"
        )


if __name__ == "__main__":
    main()

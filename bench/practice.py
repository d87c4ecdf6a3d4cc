"""Check-in burst benchmark: 200 members press the session-start post's button within one second.

Run from the repository root (a script, not a test)::

    .venv/bin/python bench/practice.py              # 200 presses, 200 idle /week probes
    .venv/bin/python bench/practice.py --members 50 --probes 50   # a quick smoke run

The real bot runs through `studybot run`'s own start-up path (config file → `open_runtime` → `prepare` →
`create_bot` → `run_bot`), on a SQLite file, with the bundled study and N roster members linked to N stand-in
users. The stand-in and the load generator (the presses, the `/week` probes, the timing) run in a process of
their own, as Discord is not in the bot's process: building 200 interactions and receiving 200 answers is not
the bot's work (`--same-process` runs them in the bot's event loop, the earlier set-up, for comparison). The
bot's clock is set just before the check-in window opens, so it posts the session-start message with its
button; then:

1. idle: `/week` invoked sequentially (`--probes` times, half before the burst and half after it — this VM's
   speed drifts within a minute): latency = stand-in dispatch of INTERACTION_CREATE → stand-in receiving the
   interaction callback;
2. burst: N button presses (type-3 component interactions, `custom_id` from the posted message) dispatched at
   even intervals within one second, while `/week` is probed sequentially the whole time. Reported: press
   answer latency p50/p99/max, answers over 3 s, answers not ephemeral, rows written (must be N, one per
   member), and `/week` p99 during the burst against its idle p99 (target: within 1.5x).

`--runs` (3) repeats the whole run with a fresh bot and stand-in and pools the samples (each run's own figures
are printed as it ends and kept in the JSON): a p99 of a few hundred probes is its third-worst value.
`/week` is also reported as the bot itself saw it — from its gateway event parsed to its answer leaving
(`bot.foreground`'s timings) — which leaves out the stand-in's own queueing on the same two cores.

Also reported: the load average, the CPU time the bot's event-loop thread spent per `/week` and per press
(`time.thread_time`, barely moved by other jobs on the machine, unlike the latencies) and its GC pauses.
`--profile FILE` writes a cProfile of the bot's process over both phases.

Prints a table and writes `bench/practice_results.json`. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import json
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import tomli_w  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from bot import loop as event_loop  # noqa: E402
from bot.app import StudyBot  # noqa: E402
from bot.clock import ShiftedClock  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.db import models as db  # noqa: E402
from bot.foreground import foreground  # noqa: E402
from bot.offline import BUNDLED_STUDY, start_offline  # noqa: E402
from bot.runtime import Runtime, create_bot, open_runtime, prepare, run_bot  # noqa: E402
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


# --- the stand-in's side: builds the interactions, receives the answers, measures ------------------------------


Mark = Callable[[str], None]


def no_mark(_phase: str) -> None:
    pass


async def drive_burst(standin: StandIn, users: list[int], probes: int, mark: Mark = no_mark) -> dict[str, Any]:
    """Idle `/week` probes, then N presses within one second with `/week` probed the whole time.
    `mark(phase)` is called as the idle and burst phases begin and when they end (the bot's CPU clock)."""
    world = standin.defaults
    assert world is not None
    await standin.wait_until(lambda: any(m.components for m in standin.messages(world.channel_id)), timeout=30)
    post = next(m for m in standin.messages(world.channel_id) if m.components)
    custom_id = str(post.components[0]["components"][0]["custom_id"])

    for _ in range(20):  # warm-up
        await week_once(standin)
    # Idle probes half before the burst and half after it: this VM's speed drifts within a minute, and a tail
    # measured only before would compare two moments, not two loads.
    before = probes // 2
    mark("idle")
    idle = [await week_once(standin) for _ in range(before)]
    mark("burst")

    during: list[float] = []
    stop = asyncio.Event()

    async def probe() -> None:
        while not stop.is_set():
            during.append(await week_once(standin))

    prober = asyncio.create_task(probe())
    handles: list[InteractionHandle] = []
    started = time.perf_counter()
    for i, user_id in enumerate(users):
        target = started + i / len(users)  # N presses evenly within one second
        delay = target - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        handles.append(await standin.click(post, custom_id, user_id=user_id, locale="ko"))
    dispatch_span = time.perf_counter() - started
    answers = await asyncio.gather(*(h.wait_response(timeout=15) for h in handles))
    await asyncio.sleep(0.2)
    stop.set()
    await prober
    mark("end")
    idle += [await week_once(standin) for _ in range(probes - before)]
    mark("done")
    return {
        "dispatch_span_s": round(dispatch_span, 3),
        "press_ms": [a.latency * 1000 for a in answers if a.latency is not None],
        "answers_not_accepted": sum(1 for a in answers if not a.accepted),
        "answers_not_ephemeral": sum(1 for a in answers if not a.ephemeral),
        "idle": idle,
        "during": during,
        "deadline_misses": sum(1 for h in standin.interactions.values() if h.late),
    }


def standin_process(conn: Connection, members: int, scenario: str, options: dict[str, Any]) -> None:
    """The stand-in and the load generator in a process of their own (Discord is not in the bot's process):
    sends the stand-in's address, waits for "go", runs `scenario`, sends its result, waits for "stop"."""

    if options.get("pin") and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {os.cpu_count() - 1 if os.cpu_count() else 0})

    async def main() -> None:
        async with StandIn() as standin:
            world = standin.defaults
            assert world is not None
            users = [standin.add_member(world.guild_id, USER_BASE + i, name=f"user{i}") for i in range(members)]
            conn.send(
                {
                    "token": standin.app.token,
                    "api_base_url": standin.api_base_url,
                    "gateway_url": standin.gateway_url,
                    "guild_id": world.guild_id,
                    "channel_id": world.channel_id,
                    "ping_role_id": world.study_role_id,
                    "member_user_id": world.member_user_id,
                    "users": users,
                }
            )
            assert await asyncio.to_thread(conn.recv) == "go"

            def mark(phase: str) -> None:
                conn.send(("phase", phase))

            if scenario == "burst":
                result = await drive_burst(standin, users, int(options["probes"]), mark)
            else:
                from bench.progress import drive_progress

                result = await drive_progress(standin, int(options["requests"]), int(options["concurrent"]), mark)
            conn.send(("result", result))
            assert await asyncio.to_thread(conn.recv) == "stop"

    event_loop.run(main())  # the load generator on the bot's loop too (uvloop): as little of its own queueing as can be


# --- the bot's side ------------------------------------------------------------------------------------------


class RemoteStandIn:
    """A stand-in running in its own process (`standin_process`), and the real bot here against it."""

    def __init__(self, members: int, scenario: str, **options: Any) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=standin_process, args=(child, members, scenario, options), name="standin", daemon=True
        )
        self.info: dict[str, Any] = {}

    async def start(self) -> dict[str, Any]:
        self.process.start()
        self.info = await asyncio.to_thread(self.conn.recv)
        return self.info

    async def run(self) -> dict[str, Any]:
        """Runs the scenario; the result gains `bot_cpu_ms`: the bot's event-loop thread's CPU time per phase."""
        loop = asyncio.get_running_loop()
        cpu: dict[str, float] = {}  # per phase (a phase may come back: its CPU adds up)
        answered: dict[str, list[tuple[str, float]]] = {}  # per phase: (command, the bot's own seconds)
        front = foreground()
        current: list[Any] = [None, 0.0]

        def note(phase: str) -> None:
            now = time.thread_time() * 1000  # runs on the loop's thread: its own CPU clock
            if current[0] is not None:
                cpu[current[0]] = cpu.get(current[0], 0.0) + now - current[1]
            current[:] = [phase, now]
            front.timings = answered.setdefault(phase, [])

        def receive() -> dict[str, Any]:
            while True:
                kind, value = self.conn.recv()
                if kind == "result":
                    return dict(value)
                loop.call_soon_threadsafe(note, value)

        pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        began: list[float] = [0.0]

        def on_gc(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                began[0] = time.perf_counter()
            elif threading.current_thread() is threading.main_thread():
                pauses[info["generation"]].append((time.perf_counter() - began[0]) * 1000)

        gc.callbacks.append(on_gc)
        self.conn.send("go")
        try:
            result = await asyncio.to_thread(receive)
        finally:
            gc.callbacks.remove(on_gc)
        result["gc_pauses_ms"] = {
            f"gen{g}": {"n": len(v), "max": round(max(v), 2) if v else 0.0} for g, v in pauses.items()
        }
        await asyncio.sleep(0)
        front.timings = None
        result["bot_answer_ms"] = {
            phase: [seconds * 1000 for name, seconds in values if name == "week"] for phase, values in answered.items()
        }
        result["bot_cpu_ms"] = {phase: round(ms, 1) for phase, ms in cpu.items()}
        return result

    async def stop(self) -> None:
        with contextlib.suppress(OSError, BrokenPipeError):
            self.conn.send("stop")
        await asyncio.to_thread(self.process.join, 20)
        if self.process.is_alive():
            self.process.terminate()


async def start_remote_bot(
    workdir: Path, info: dict[str, Any], *, clock: ShiftedClock, backoff_base: float = 1.0
) -> tuple[Runtime, StudyBot, asyncio.Task[None]]:
    """`studybot run`'s own start-up path, with a config pointing at the stand-in in the other process."""
    config = {
        "discord": {
            "token": info["token"],
            "api_base_url": info["api_base_url"],
            "gateway_url": info["gateway_url"],
        },
        "database": {"url": f"sqlite+aiosqlite:///{workdir / 'studybot.db'}"},
        "logging": {"level": "WARNING"},
        "study": [
            {
                "guild_id": info["guild_id"],
                "definition": str(BUNDLED_STUDY),
                "reminder_channel_id": info["channel_id"],
                "ping_role_id": info["ping_role_id"],
            }
        ],
    }
    path = workdir / "config.toml"
    path.write_text(tomli_w.dumps(config), encoding="utf-8")
    runtime = await open_runtime(load_settings(path), clock=clock)
    await prepare(runtime)
    bot = create_bot(runtime, backoff_base=backoff_base)
    task = asyncio.create_task(run_bot(runtime, bot), name="studybot")
    await asyncio.wait_for(bot.wait_until_serving(), timeout=30)
    for _ in range(600):
        if bot.reminders.started:
            break
        await asyncio.sleep(0.05)
    return runtime, bot, task


async def stop_remote_bot(runtime: Runtime, bot: StudyBot, task: asyncio.Task[None]) -> None:
    if not bot.is_closed():
        await bot.close()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await asyncio.wait_for(task, timeout=10)
    await runtime.close()


async def link_members(runtime: Runtime, users: list[int]) -> None:
    """The bundled study's roster grown to N members, each linked to one stand-in user."""
    study = runtime.directory.all()[0]
    async with runtime.sessionmaker() as session, session.begin():
        existing = (await session.execute(select(db.Member).where(db.Member.study_id == study.id))).scalars().all()
        for member in existing:
            member.discord_user_id = None
        for i in range(len(users) - len(existing)):
            session.add(db.Member(study_id=study.id, name=f"참여자{i:03d}"))
    async with runtime.sessionmaker() as session, session.begin():
        rows = (await session.execute(select(db.Member).where(db.Member.study_id == study.id))).scalars().all()
        for row, user_id in zip(rows, users, strict=False):
            row.discord_user_id = user_id
    await runtime.directory.changed(study.id)


async def run(members: int, probes: int, profile: Path | None = None, *, same_process: bool = False) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="studybot-bench-practice-"))
    clock = ShiftedClock()
    profiler = cProfile.Profile() if profile else None
    if same_process:
        standin = StandIn()
        await standin.start()
        world = standin.defaults
        assert world is not None
        users = [standin.add_member(world.guild_id, USER_BASE + i, name=f"user{i}") for i in range(members)]
        clock.set(OPENS - timedelta(seconds=2))
        offline = await start_offline(workdir, standin=standin, clock=clock)
        runtime = offline.runtime
        try:
            await link_members(runtime, users)
            if profiler is not None:
                profiler.enable()
            measured = await drive_burst(standin, users, probes)
            written, distinct = await count_rows(runtime)
        finally:
            await offline.stop()
            await standin.stop()
    else:
        remote = RemoteStandIn(members, "burst", probes=probes)
        info = await remote.start()
        try:
            clock.set(OPENS - timedelta(seconds=2))
            runtime, bot, task = await start_remote_bot(workdir, info, clock=clock)
            try:
                await link_members(runtime, list(info["users"]))
                if profiler is not None:
                    profiler.enable()
                measured = await remote.run()
                measured["background_waited"] = foreground().waited
                written, distinct = await count_rows(runtime)
            finally:
                await stop_remote_bot(runtime, bot, task)
        finally:
            await remote.stop()
    if profiler is not None and profile is not None:
        profiler.disable()
        profiler.dump_stats(str(profile))

    press_ms = measured["press_ms"]
    idle_s, during_s = summary(measured["idle"]), summary(measured["during"])
    answered = measured.get("bot_answer_ms", {})
    return {
        "samples": {
            "press": press_ms,
            "idle": measured["idle"],
            "during": measured["during"],
            "bot_idle": answered.get("idle", []) + answered.get("end", []),
            "bot_burst": answered.get("burst", []),
        },
        "members": members,
        "standin": "same process" if same_process else "own process",
        "dispatch_span_s": measured["dispatch_span_s"],
        "press": summary(press_ms),
        "answers_over_3s": sum(1 for v in press_ms if v >= 3000),
        "answers_not_accepted": measured["answers_not_accepted"],
        "answers_not_ephemeral": measured["answers_not_ephemeral"],
        "rows_written": written,
        "distinct_members": distinct,
        "week_idle": idle_s,
        "week_during_burst": during_s,
        "week_p99_ratio": round(during_s["p99_ms"] / idle_s["p99_ms"], 2),
        **bot_side(measured),
        "deadline_misses": measured["deadline_misses"],
        "background_steps_that_waited": measured.get("background_waited", 0),
        "bot_cpu_ms": measured.get("bot_cpu_ms", {}),
        "bot_loop_cpu_ms": loop_cpu(
            measured.get("bot_cpu_ms", {}), len(measured["idle"]), len(measured["during"]), members
        ),
        "bot_gc_pauses_ms": measured.get("gc_pauses_ms", {}),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "event_loop": event_loop.loop_name(),
    }


def loop_cpu(cpu: dict[str, float], idle_n: int, during_n: int, members: int) -> dict[str, float]:
    """The bot's event-loop CPU per idle `/week` and per press (the burst's CPU less its `/week`s)."""
    if "idle" not in cpu or "burst" not in cpu:
        return {}
    per_week = (cpu["idle"] + cpu.get("end", 0.0)) / max(1, idle_n)
    return {"per_week": per_week, "per_press": (cpu["burst"] - per_week * during_n) / max(1, members)}


def bot_side(measured: dict[str, Any]) -> dict[str, Any]:
    """`/week` as the bot itself saw it: from its gateway event parsed to its answer leaving (bot.foreground),
    without the stand-in's and the load generator's own queueing on this machine."""
    answered = measured.get("bot_answer_ms", {})
    if "idle" not in answered or "burst" not in answered:
        return {}
    idle, burst = summary(answered["idle"] + answered.get("end", [])), summary(answered["burst"])
    return {
        "week_in_bot_idle": idle,
        "week_in_bot_during_burst": burst,
        "week_in_bot_p99_ratio": round(burst["p99_ms"] / idle["p99_ms"], 2),
    }


async def count_rows(runtime: Runtime) -> tuple[int, int]:
    async with runtime.sessionmaker() as session:
        written = (await session.execute(select(func.count()).select_from(db.Attendance))).scalar_one()
        distinct = (await session.execute(select(func.count(func.distinct(db.Attendance.member_id))))).scalar_one()
    return int(written), int(distinct)


def table(result: dict[str, Any]) -> str:
    press, idle, burst = result["press"], result["week_idle"], result["week_during_burst"]
    load = result["load_average"]
    rows = [
        ("stand-in + load generator", result["standin"], f"load average {load[0]}/{load[1]}/{load[2]}"),
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
    if "week_in_bot_idle" in result:
        inside, during = result["week_in_bot_idle"], result["week_in_bot_during_burst"]
        rows += [
            (
                "/week in the bot: idle p50 / p99",
                f"{inside['p50_ms']} / {inside['p99_ms']} ms",
                "gateway event parsed → answer sent",
            ),
            ("/week in the bot: burst p50 / p99", f"{during['p50_ms']} / {during['p99_ms']} ms", ""),
            ("/week in the bot: p99 burst ÷ idle", f"{result['week_in_bot_p99_ratio']}x", ""),
        ]
    cpu = result.get("bot_loop_cpu_ms")
    if cpu:
        rows.append(
            (
                "bot loop CPU per /week / per press",
                f"{cpu['per_week']:.2f} / {cpu['per_press']:.2f} ms",
                "CPU time, not wall: barely moved by other jobs",
            )
        )
    pauses = result["bot_gc_pauses_ms"]
    if pauses:
        text = ", ".join(f"{gen} {p['n']}× max {p['max']} ms" for gen, p in pauses.items())
        rows.append(("bot GC pauses (idle + burst)", text, ""))
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{name:<{width}}  {value:<40}  {target}" for name, value, target in rows)


def run_line(result: dict[str, Any]) -> str:
    inside = f", in the bot {result['week_in_bot_p99_ratio']}x" if "week_in_bot_p99_ratio" in result else ""
    return (
        f"run: /week p99 idle {result['week_idle']['p99_ms']} ms, burst {result['week_during_burst']['p99_ms']} ms "
        f"= {result['week_p99_ratio']}x{inside}; press p99 {result['press']['p99_ms']} ms; "
        f"rows {result['rows_written']}/{result['members']}"
    )


def pooled(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The runs' samples pooled (the table), each run's own figures kept under `runs`."""
    samples = {key: [v for r in results for v in r["samples"][key]] for key in results[0]["samples"]}
    last = {k: v for k, v in results[-1].items() if k != "samples"}
    idle, during = summary(samples["idle"]), summary(samples["during"])
    out = {
        **last,
        "runs": [{k: v for k, v in r.items() if k != "samples"} for r in results],
        "press": summary(samples["press"]),
        "answers_over_3s": sum(r["answers_over_3s"] for r in results),
        "answers_not_accepted": sum(r["answers_not_accepted"] for r in results),
        "answers_not_ephemeral": sum(r["answers_not_ephemeral"] for r in results),
        "rows_written": min(r["rows_written"] for r in results),  # every run must write one row per member
        "distinct_members": min(r["distinct_members"] for r in results),
        "deadline_misses": sum(r["deadline_misses"] for r in results),
        "week_idle": idle,
        "week_during_burst": during,
        "week_p99_ratio": round(during["p99_ms"] / idle["p99_ms"], 2),
    }
    cpus = [r["bot_loop_cpu_ms"] for r in results if r.get("bot_loop_cpu_ms")]
    if cpus:
        out["bot_loop_cpu_ms"] = {k: sum(c[k] for c in cpus) / len(cpus) for k in ("per_week", "per_press")}
    if samples["bot_idle"] and samples["bot_burst"]:
        inside, burst = summary(samples["bot_idle"]), summary(samples["bot_burst"])
        out |= {
            "week_in_bot_idle": inside,
            "week_in_bot_during_burst": burst,
            "week_in_bot_p99_ratio": round(burst["p99_ms"] / inside["p99_ms"], 2),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--probes", type=int, default=200, help="idle /week probes")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "practice_results.json")
    parser.add_argument(
        "--profile", type=Path, default=None, help="write a cProfile of the bot (idle probes and burst)"
    )
    parser.add_argument(
        "--same-process",
        action="store_true",
        help="run the stand-in in the bot's process and event loop (the old set-up: its work is charged to the bot)",
    )
    parser.add_argument("--runs", type=int, default=3, help="runs, each with a fresh bot and stand-in, pooled")
    args = parser.parse_args(argv)
    results = []
    for _ in range(max(1, args.runs)):
        results.append(event_loop.run(run(args.members, args.probes, args.profile, same_process=args.same_process)))
        print(run_line(results[-1]), flush=True)
    result = pooled(results)
    print(table(result))
    args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

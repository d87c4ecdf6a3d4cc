"""Start-up distribution of the real `studybot run` over repeated starts, against the local stand-in.

Run from the repository root::

    .venv/bin/python bench/startup.py                 # 20 starts, 1 study, each stopped with SIGTERM
    .venv/bin/python bench/startup.py --starts 30 --studies 60 --stop kill

Each start is a fresh `python -m bot run --config …` process (the production entry point, logging at INFO)
against one stand-in in this process; the database is kept between starts, as on a real restart. `--stop`
says how each run ends: `term` (graceful SIGTERM) or `kill` (SIGKILL, as a crash). Phases are read from the
bot's own log lines (millisecond timestamps) and from this script's clock:

* process → migrated : interpreter start, imports, engine, Alembic check (`start-up: database …`)
* migrated → loaded  : configured studies imported/applied, snapshots loaded (`start-up: … studies loaded`)
* loaded → logged in : bot built, REST login (`start-up: logged in`)
* logged in → armed  : extensions, command hash, reminder catch-up and jobs (`… commands and reminders ready`)
* armed → ready      : gateway IDENTIFY → READY + GUILD_CREATEs (`connected as …`)
* total              : spawn → `connected as` seen by this script
* CPU                : user + system CPU seconds the bot process used from spawn to exit (wall time far
                       above it means the machine was busy with other work, not that the bot waited)

It prints min / p50 / p90 / max per phase as a table. Not part of the test suite; only 127.0.0.1 is used.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import resource
import shutil
import signal
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import Settings  # noqa: E402
from bot.core.definition import load_definition  # noqa: E402
from bot.offline import BUNDLED_STUDY, write_config  # noqa: E402
from bot.runtime import open_runtime  # noqa: E402
from bot.services.base import Actor  # noqa: E402
from standin import StandIn  # noqa: E402

MARKS = (
    ("migrated", "start-up: database at the newest migration"),
    ("loaded", "studies loaded in"),
    ("logged in", "start-up: logged in"),
    ("armed", "start-up: commands and reminders ready"),
    ("ready", "bot.app: connected as"),
)
STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    rank = max(0, math.ceil(pct / 100 * len(ordered)) - 1)
    return ordered[rank]


def marks_of(log: str) -> dict[str, float]:
    """Wall-clock seconds (epoch) of each start-up mark in the bot's log."""
    found: dict[str, float] = {}
    for line in log.splitlines():
        stamp = STAMP.match(line)
        if not stamp:
            continue
        for name, needle in MARKS:
            if name not in found and needle in line:
                found[name] = datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S,%f").astimezone().timestamp()
    return found


async def seed(standin: StandIn, database: Path, studies: int) -> Path:
    """`studies` guilds in the stand-in, each with the bundled study imported; the config names the first."""
    world = standin.defaults
    assert world is not None
    guilds = [(world.guild_id, world.channel_id, world.study_role_id)]
    for i in range(1, studies):
        gid = standin.add_guild(900_000_000_000_000_000 + i, name=f"Study {i}")
        guild = standin.world.guilds[gid]
        channel = standin.world.add_channel(guild, name="study", channel_id=910_000_000_000_000_000 + i)
        role = standin.world.add_role(guild, name="Study", mentionable=True, role_id=920_000_000_000_000_000 + i)
        guilds.append((gid, getattr(channel, "id", channel), getattr(role, "id", role)))
    runtime = await open_runtime(Settings(token="", database_url=f"sqlite+aiosqlite:///{database}"))
    definition = load_definition(BUNDLED_STUDY)
    try:
        for gid, channel_id, role_id in guilds:
            await runtime.services.definitions.import_definition(
                guild_id=gid,
                definition=definition,
                actor=Actor.cli(),
                reminder_channel_id=channel_id,
                ping_role_id=role_id,
            )
    finally:
        await runtime.close()
    config = write_config(
        database.parent / "config.toml",
        standin=standin,
        database=database,
        definition=BUNDLED_STUDY,
        guild_id=world.guild_id,
        channel_id=world.channel_id,
        ping_role_id=world.study_role_id,
    )
    config.write_text(config.read_text(encoding="utf-8").replace('"WARNING"', '"INFO"'), encoding="utf-8")
    return config


def text_of(log: Path) -> str:
    return log.read_text(encoding="utf-8")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def start_once(config: Path, log: Path, stop: str, limit: float) -> dict[str, float]:
    began = time.time()
    cpu_before = children_cpu()
    with log.open("w") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            "--config",
            str(config),
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=sink,
        )
    try:
        for _ in range(int(limit / 0.01)):
            if "bot.app: connected as" in text_of(log):
                break
            if process.returncode is not None:
                raise RuntimeError(f"the bot exited with {process.returncode}:\n{text_of(log)[-3000:]}")
            await asyncio.sleep(0.01)
        else:
            raise TimeoutError(f"not ready within {limit} s:\n{text_of(log)[-3000:]}")
        seen = time.time()
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGKILL if stop == "kill" else signal.SIGTERM)
        await process.wait()
    marks = marks_of(text_of(log))
    phases: dict[str, float] = {}
    previous = ("process", began)
    for name, _ in MARKS:
        if name in marks:
            phases[f"{previous[0]} → {name}"] = marks[name] - previous[1]
            previous = (name, marks[name])
    phases["total (spawn → ready seen)"] = seen - began
    phases["CPU of the bot process, start to stop"] = children_cpu() - cpu_before
    return phases


def table(rows: dict[str, list[float]]) -> str:
    width = max(len(name) for name in rows)
    count = len(next(iter(rows.values())))
    lines = [f"{'phase':<{width}}  {'min':>7} {'p50':>7} {'p90':>7} {'max':>7}   (seconds, n={count})"]
    for name, values in rows.items():
        figures = (min(values), percentile(values, 50), percentile(values, 90), max(values))
        lines.append(f"{name:<{width}}  " + " ".join(f"{v:7.2f}" for v in figures))
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--starts", type=int, default=20)
    parser.add_argument("--studies", type=int, default=1)
    parser.add_argument("--stop", choices=("term", "kill"), default="term")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds one start may take")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs) and print its path")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="studybot-startup-"))
    standin = StandIn()
    await standin.start()
    rows: dict[str, list[float]] = {}
    try:
        config = await seed(standin, workdir / "studybot.db", args.studies)
        for i in range(args.starts):
            phases = await start_once(config, workdir / f"start-{i:03d}.log", args.stop, args.timeout)
            for name, value in phases.items():
                rows.setdefault(name, []).append(value)
            print(f"start {i + 1}/{args.starts}: {phases['total (spawn → ready seen)']:.2f} s", file=sys.stderr)
    finally:
        await standin.stop()
    print(f"studybot run, {args.starts} starts, {args.studies} studies, each ended by {args.stop}")
    print(table(rows))
    if args.keep:
        print(f"logs: {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())

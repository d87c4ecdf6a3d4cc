"""The real `studybot run` as a separate process, for end-to-end tests: start it against the stand-in, wait for
what it logs, stop it (SIGTERM/SIGINT) or kill it (SIGKILL); and a throwaway PostgreSQL database to point it at.

One place for what the crash, stop and several-process tests all do, so they start and stop the bot the same way.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bot.offline import BUNDLED_STUDY, write_config
from standin import StandIn

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = r"/channels/\d+/messages"
# What `studybot run` logs (at INFO) once its commands are registered and its reminders armed.
READY_LINE = "start-up: commands and reminders ready"


def bot_env(*, database_from_env: bool = True) -> dict[str, str]:
    """The environment of a bot process: this checkout importable; `database_from_env=False` drops
    STUDYBOT_DATABASE_URL so the config file's database is the one used."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if not database_from_env:
        env.pop("STUDYBOT_DATABASE_URL", None)
    return env


async def spawn(
    config: Path,
    *,
    log: Path | None = None,
    shards: str | None = None,
    database_from_env: bool = True,
) -> asyncio.subprocess.Process:
    """`python -m bot run --config CONFIG [--shards SHARDS]`; its stderr is appended to `log` (or dropped)."""
    command = [sys.executable, "-m", "bot", "run", "--config", str(config)]
    if shards is not None:
        command += ["--shards", shards]
    env = bot_env(database_from_env=database_from_env)
    if log is None:
        return await asyncio.create_subprocess_exec(
            *command, cwd=ROOT, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
        )
    with log.open("ab") as err:
        return await asyncio.create_subprocess_exec(
            *command, cwd=ROOT, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=err
        )


async def kill(process: asyncio.subprocess.Process) -> None:
    """SIGKILL (if it still runs) and reap it."""
    if process.returncode is None:
        process.send_signal(signal.SIGKILL)
    await process.wait()


async def stopped(process: asyncio.subprocess.Process, signum: int, *, timeout: float) -> tuple[int, float]:  # noqa: ASYNC109
    """Send `signum`; return the exit code and the seconds it took to exit."""
    began = time.monotonic()
    process.send_signal(signum)
    code = await asyncio.wait_for(process.wait(), timeout=timeout)
    return code, time.monotonic() - began


async def kill_after_first_post(standin: StandIn, config: Path, path: str) -> None:
    """Start the bot and SIGKILL it as soon as its first POST to `path` (a channel's messages) reached the
    stand-in: the kill point "claimed, and the send in flight or answered but not recorded"."""
    process = await spawn(config)
    try:
        await standin.wait_until(lambda: len(standin.requests_to("POST", path)) >= 1, timeout=30)
    finally:
        await kill(process)


def text_of(log: Path) -> str:
    return log.read_text(encoding="utf-8") if log.exists() else ""


async def wait_for_log(log: Path, needle: str, *, count: int = 1, timeout: float = 30.0) -> None:  # noqa: ASYNC109
    """Wait until `needle` appears `count` times in the log (e.g. READY_LINE once per process)."""
    deadline = time.monotonic() + timeout
    while text_of(log).count(needle) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{needle!r} not logged {count}x:\n{text_of(log)[-3000:]}")
        await asyncio.sleep(0.05)


def default_world_config(tmp_path: Path, standin: StandIn, *, ping_role: bool = False) -> Path:
    """A config for the stand-in's default server: the bundled study, a SQLite file beside the config."""
    world = standin.defaults
    assert world is not None
    return write_config(
        tmp_path / "config.toml",
        standin=standin,
        database=tmp_path / "studybot.db",
        definition=BUNDLED_STUDY,
        guild_id=world.guild_id,
        channel_id=world.channel_id,
        ping_role_id=world.study_role_id if ping_role else None,
    )


async def _drop(admin_dsn: str, name: str) -> None:
    import asyncpg

    for attempt in range(50):
        admin = await asyncpg.connect(admin_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except asyncpg.exceptions.InsufficientPrivilegeError:
            # An autovacuum worker is busy in the database; FORCE may not end it, but it ends by itself.
            if attempt == 49:
                raise
            await asyncio.sleep(0.1)
        finally:
            await admin.close()


@asynccontextmanager
async def throwaway_database(server_url: str) -> AsyncIterator[str]:
    """A new, empty PostgreSQL database on the server of `server_url` (a `postgresql+asyncpg` URL); yields its
    URL and drops it afterwards, whatever still holds it open."""
    import asyncpg  # only needed when PostgreSQL tests are enabled

    admin_dsn = server_url.replace("postgresql+asyncpg://", "postgresql://")
    name = f"studybot_t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield server_url.rsplit("/", 1)[0] + "/" + name
    finally:
        await _drop(admin_dsn, name)

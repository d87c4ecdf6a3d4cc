"""`studybot run` as a service manager stops it: SIGTERM or SIGINT, as a separate process against the stand-in.

The study is shaped (as in test_crash_restart) so that a reminder is due the moment the process starts; the
stand-in holds that send in flight by answering it with a 429 and a Retry-After, which discord.py waits out
before trying again. A stop must start nothing new, let the send in flight finish and be marked (or leave it
`claimed` for the next start), close the database and exit 0 within a bounded time; a second signal exits at
once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from bot.runtime import SHUTDOWN_GRACE, SHUTDOWN_LIMIT
from standin import StandIn
from tests.e2e.test_crash_restart import MESSAGES, ROOT, ledger, prepare_study

# The bounded time a stop may take, measured from the signal: the limit plus Python's own exit.
STOP_BOUND = SHUTDOWN_LIMIT + 4.0


async def spawn(config: Path, log: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        "--config",
        str(config),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=log.open("w"),
    )


def text_of(log: Path) -> str:
    return log.read_text(encoding="utf-8")


async def wait_for_log(log: Path, needle: str) -> None:
    for _ in range(600):  # 30 s
        if needle in text_of(log):
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"{needle!r} not logged:\n{text_of(log)[-3000:]}")


async def stopped(process: asyncio.subprocess.Process, signum: int) -> tuple[int, float]:
    """Send `signum`; return the exit code and the seconds it took."""
    began = time.monotonic()
    process.send_signal(signum)
    code = await asyncio.wait_for(process.wait(), timeout=STOP_BOUND + 10)
    return code, time.monotonic() - began


async def held_send(tmp_path: Path, standin: StandIn, retry_after: float) -> tuple[Path, str]:
    """A study with a reminder due now, whose first send the stand-in holds for `retry_after` seconds."""
    world = standin.defaults
    assert world is not None
    config = await prepare_study(tmp_path, standin)
    config.write_text(config.read_text(encoding="utf-8").replace('"WARNING"', '"INFO"'), encoding="utf-8")
    standin.faults.rate_limit("POST", MESSAGES, count=1, retry_after=retry_after)
    return config, f"/channels/{world.channel_id}/messages"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_send_in_flight_finishes_is_marked_and_the_process_exits_0(
    tmp_path: Path, standin: StandIn, signum: int
) -> None:
    config, path = await held_send(tmp_path, standin, retry_after=1.5)
    log = tmp_path / "bot.log"
    process = await spawn(config, log)
    try:
        await standin.wait_until(lambda: len(standin.requests_to("POST", path)) >= 1, timeout=30)
        code, took = await stopped(process, signum)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert code == 0, text_of(log)[-3000:]
    assert took < SHUTDOWN_GRACE + 4.0
    assert len(standin.messages()) == 1  # the held send went out once, after the signal
    [row] = await ledger(tmp_path)
    assert row.status == "sent" and row.message_id == standin.messages()[0].id
    assert not (tmp_path / "studybot.db-wal").exists()  # the database was closed (SQLite folds its log in)
    text = text_of(log)
    assert "stopping" in text and "stopped" in text and "Traceback" not in text


async def test_a_send_still_held_after_the_grace_stays_claimed_and_the_next_start_sends_it_once(
    tmp_path: Path, standin: StandIn
) -> None:
    config, path = await held_send(tmp_path, standin, retry_after=60.0)
    log = tmp_path / "bot.log"
    process = await spawn(config, log)
    try:
        await standin.wait_until(lambda: len(standin.requests_to("POST", path)) >= 1, timeout=30)
        code, took = await stopped(process, signal.SIGTERM)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert code == 0, text_of(log)[-3000:]
    assert SHUTDOWN_GRACE - 0.5 < took < STOP_BOUND
    [row] = await ledger(tmp_path)
    assert row.status == "claimed"  # released, not lost: the next start resumes it
    assert standin.messages() == []
    standin.faults.clear()
    again = await spawn(config, tmp_path / "bot2.log")
    try:
        await standin.wait_until(lambda: len(standin.messages()) == 1, timeout=30)
        code, _ = await stopped(again, signal.SIGTERM)
    finally:
        if again.returncode is None:
            again.kill()
            await again.wait()
    assert code == 0
    [row] = await ledger(tmp_path)
    assert row.status == "sent" and len(standin.messages()) == 1


async def test_a_second_signal_exits_at_once(tmp_path: Path, standin: StandIn) -> None:
    config, path = await held_send(tmp_path, standin, retry_after=60.0)
    log = tmp_path / "bot.log"
    process = await spawn(config, log)
    try:
        await standin.wait_until(lambda: len(standin.requests_to("POST", path)) >= 1, timeout=30)
        process.send_signal(signal.SIGTERM)
        await wait_for_log(log, "SIGTERM: stopping")
        code, took = await stopped(process, signal.SIGINT)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert code == 128 + signal.SIGINT
    assert took < 2.0  # not the grace: at once
    [row] = await ledger(tmp_path)
    assert row.status == "claimed"


async def test_a_stop_while_logging_in_exits_0_not_with_an_unreachable_api_sentence(tmp_path: Path) -> None:
    """A REST endpoint that accepts the connection and never answers: the signal comes during login."""
    connected = asyncio.Event()
    held: list[asyncio.StreamWriter] = []

    async def silent(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        connected.set()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    config = tmp_path / "config.toml"
    config.write_text(
        f'[discord]\ntoken = "a-token-of-some-length"\napi_base_url = "http://127.0.0.1:{port}/api/v10"\n\n'
        '[logging]\nlevel = "INFO"\n\n[[study]]\nguild_id = 5\n',
        encoding="utf-8",
    )
    log = tmp_path / "bot.log"
    process = await spawn(config, log)
    try:
        await asyncio.wait_for(connected.wait(), timeout=30)  # the login request is in flight
        code, took = await stopped(process, signal.SIGTERM)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        for writer in held:
            writer.close()
        server.close()
    assert code == 0, text_of(log)[-3000:]
    assert took < STOP_BOUND
    assert "cannot be reached" not in text_of(log) and "stopped" in text_of(log)


POSTGRES_URL = os.environ.get("STUDYBOT_TEST_POSTGRES_URL", "")


@pytest.mark.skipif(not POSTGRES_URL, reason="PostgreSQL not configured: set STUDYBOT_TEST_POSTGRES_URL")
async def test_a_stop_while_migrating_lets_the_migration_finish_and_exits_0(tmp_path: Path) -> None:
    """The migration waits on the advisory lock this test holds: a deterministic window to send SIGTERM in."""
    import uuid

    import asyncpg

    from bot.db.migrate import MIGRATION_LOCK_KEY

    admin_dsn = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")
    name = f"studybot_t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    dsn = admin_dsn.rsplit("/", 1)[0] + "/" + name
    holder = await asyncpg.connect(dsn)
    await holder.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
    config = tmp_path / "config.toml"
    config.write_text(
        '[discord]\ntoken = "a-token-of-some-length"\napi_base_url = "http://127.0.0.1:9/api/v10"\n\n'
        f'[database]\nurl = "{POSTGRES_URL.rsplit("/", 1)[0]}/{name}"\n\n'
        '[logging]\nlevel = "INFO"\n\n[[study]]\nguild_id = 5\n',
        encoding="utf-8",
    )
    log = tmp_path / "bot.log"
    process = await spawn(config, log)
    try:
        for _ in range(600):  # the process is waiting for the lock: the positive signal to stop it
            waiting = await holder.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            if waiting:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the process never waited for the migration lock:\n" + text_of(log)[-3000:])
        process.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.2)  # the signal is recorded while the migration still waits
        await holder.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
        code = await asyncio.wait_for(process.wait(), timeout=60)
        at_head = await holder.fetchval("SELECT version_num FROM alembic_version")
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await holder.close()
        admin = await asyncpg.connect(admin_dsn)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    assert code == 0, text_of(log)[-3000:]
    assert "stopped before connecting" in text_of(log)
    assert at_head is not None  # the migration was not cut short: the database is at a version

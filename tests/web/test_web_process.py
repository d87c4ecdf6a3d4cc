"""The page served by a child process (as `studybot run` does): the same answers, changes applied before the
command that made them returns, a crash of the child restarted without the bot noticing, and no orphan when
the bot dies."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import aiohttp
import pytest

from bot.clock import FrozenClock
from bot.config import WebSettings
from bot.core.attendance import AttendanceStatus
from bot.runtime import Runtime
from bot.web.feature import WebFeature, build_web
from bot.web.process import ProcessWebServer
from tests.conftest import ADMIN, GUILD_ID

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def in_process(runtime: Runtime, clock: FrozenClock) -> AsyncIterator[WebFeature]:
    settings = replace(runtime.settings, web=WebSettings(host="127.0.0.1", port=0, public_url=None))
    web = build_web(
        settings=settings,
        sessionmaker=runtime.sessionmaker,
        clock=clock,
        directory=runtime.directory,
        attendance=runtime.services.attendance,
        process=True,
    )
    await web.start()
    await web.service.set_enabled(guild_id=GUILD_ID, actor=ADMIN, enabled=True)
    try:
        yield web
    finally:
        await web.stop()


def page_of(web: WebFeature, runtime: Runtime) -> str:
    snap = runtime.directory.by_guild(GUILD_ID)
    assert snap is not None
    links = web.live_links(snap.id)
    assert links is not None
    return links.page


async def fetch(url: str) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.read()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) is gone for our purpose.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def test_served_by_a_child_with_changes_applied_before_the_command_returns(
    in_process: WebFeature, runtime: Runtime, clock: FrozenClock
) -> None:
    server = in_process.server
    assert isinstance(server, ProcessWebServer) and server.pid not in (None, os.getpid())
    page = page_of(in_process, runtime)
    status, body = await fetch(page)
    assert status == 200 and "1주차 · 파이토치(PyTorch) 기본 익히기" in body.decode()
    await in_process.service.rotate(guild_id=GUILD_ID, actor=ADMIN)
    assert (await fetch(page))[0] == 404  # no wait: the child had it before rotate() returned
    page = page_of(in_process, runtime)
    assert (await fetch(page))[0] == 200
    # The snapshot, the records and the bot's (test) clock reach the child too.
    await runtime.services.sessions.cancel(guild_id=GUILD_ID, actor=ADMIN, day=date(2026, 12, 10), reason="연말 휴식")
    assert "연말 휴식" in (await fetch(page))[1].decode()
    clock.set(clock.now() + timedelta(days=2, hours=1))
    name = runtime.directory.all()[0].members[0].name
    await runtime.services.attendance.set_status(
        guild_id=GUILD_ID, actor=ADMIN, name=name, week=1, status=AttendanceStatus.LATE
    )
    deadline = asyncio.get_running_loop().time() + 5
    while 'class="a-late"' not in (await fetch(page))[1].decode():
        assert asyncio.get_running_loop().time() < deadline, "the correction did not reach the page"
        await asyncio.sleep(0.05)
    await in_process.service.set_enabled(guild_id=GUILD_ID, actor=ADMIN, enabled=False)
    assert (await fetch(page))[0] == 404


async def test_a_crashed_child_is_started_again_on_the_same_address(in_process: WebFeature, runtime: Runtime) -> None:
    server = in_process.server
    assert isinstance(server, ProcessWebServer)
    page = page_of(in_process, runtime)
    first = server.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    deadline = asyncio.get_running_loop().time() + 20
    while server.pid == first or (await fetch(page))[0] != 200:
        assert asyncio.get_running_loop().time() < deadline, "the page process was not started again"
        await asyncio.sleep(0.1)
    assert server.restarts == 1 and not alive(first)
    # The bot itself carried on: its services still work and the new child hears of changes.
    await in_process.service.rotate(guild_id=GUILD_ID, actor=ADMIN)
    assert (await fetch(page))[0] == 404 and (await fetch(page_of(in_process, runtime)))[0] == 200


async def test_the_child_dies_with_the_bot(tmp_path: Path) -> None:
    parent = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.web.page_process_parent",
        f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert parent.stdout is not None
        line = await asyncio.wait_for(parent.stdout.readline(), 60)
        child, port = (int(part) for part in line.split())
        assert alive(child) and child != parent.pid
        status, _ = await fetch(f"http://127.0.0.1:{port}/")
        assert status == 200
        parent.kill()  # SIGKILL: no clean-up code runs in the bot
        await asyncio.wait_for(parent.wait(), 10)
        deadline = asyncio.get_running_loop().time() + 10
        while alive(child):
            assert asyncio.get_running_loop().time() < deadline, "the page process outlived the bot"
            await asyncio.sleep(0.05)
    finally:
        if parent.returncode is None:
            parent.kill()
            await parent.wait()

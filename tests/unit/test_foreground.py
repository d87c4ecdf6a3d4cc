"""The loop's foreground (`bot.foreground`): background steps wait while a command is being answered, go one per
turn of the loop after it, never wait past `max_wait`; an interaction closes when its callback request leaves."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import ClientSession, TraceConfig, web

from bot.foreground import Foreground, foreground, watch
from tests.unit.local_http import local_server


class Turns:
    """Counts turns of the event loop (one increment per turn while it runs)."""

    def __init__(self) -> None:
        self.count = 0
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            self.count += 1
            await asyncio.sleep(0)

    def stop(self) -> None:
        self._task.cancel()


async def test_nothing_open_and_nothing_queued_costs_no_wait() -> None:
    front = Foreground(asyncio.get_running_loop())
    await front.turn()
    assert front.waited == 0 and not front.busy()


async def test_steps_wait_for_the_command_then_go_one_per_turn_in_order() -> None:
    front = Foreground(asyncio.get_running_loop(), max_wait=30)
    front.begin("1", "week")
    turns = Turns()
    resumed: list[tuple[int, int]] = []

    async def step(n: int) -> None:
        await front.turn()
        resumed.append((n, turns.count))

    steps = [asyncio.create_task(step(n)) for n in range(4)]
    await asyncio.sleep(0)
    assert front.waited == 4  # all four are queued
    for _ in range(20):
        await asyncio.sleep(0)
    assert resumed == []  # the command is still open
    front.end("1")
    await asyncio.wait_for(asyncio.gather(*steps), timeout=5)
    turns.stop()
    assert [n for n, _ in resumed] == [0, 1, 2, 3]  # first come, first served
    at = [turn for _, turn in resumed]
    assert len(set(at)) == 4  # each in a turn of its own: a command arriving meanwhile waits for one step


async def test_a_step_queued_behind_others_waits_its_turn_even_when_nothing_is_open() -> None:
    front = Foreground(asyncio.get_running_loop(), max_wait=30)
    front.begin("1")
    first = asyncio.create_task(front.turn())
    await asyncio.sleep(0)
    assert front.waited == 1
    front.end("1")
    await front.turn()  # nothing open, but one is queued: this one goes after it
    assert first.done()
    assert front.waited == 2


async def test_a_command_that_never_answers_holds_nothing_past_max_wait() -> None:
    loop = asyncio.get_running_loop()
    front = Foreground(loop, max_wait=0.05)
    seen: list[bool] = []
    front.on_change(seen.append)
    front.begin("never-answered")
    began = loop.time()
    await asyncio.wait_for(front.turn(), timeout=5)
    assert loop.time() - began >= 0.04  # it did wait (loop time counts whole milliseconds on uvloop)
    assert not front.busy()
    assert seen == [True, False]


async def test_listeners_hear_busy_once_and_quiet_after_the_last_one_or_when_forgotten() -> None:
    front = Foreground(asyncio.get_running_loop(), max_wait=0.05)
    seen: list[bool] = []
    unsubscribe = front.on_change(seen.append)
    front.begin("a")
    front.begin("b")
    front.end("a")
    assert seen == [True]
    front.end("b")
    assert seen == [True, False]
    front.end("b")  # closed twice: nothing more
    assert seen == [True, False]
    # Never answered, and nobody asks `busy()`: the listener still hears "quiet" (a timer forgets it).
    front.begin("c")
    for _ in range(200):
        if seen[-1] is False:
            break
        await asyncio.sleep(0.01)
    assert seen == [True, False, True, False]
    unsubscribe()
    front.begin("d")
    assert seen == [True, False, True, False]


async def test_the_parser_wrapper_opens_every_interaction_it_passes_on() -> None:
    front = Foreground(asyncio.get_running_loop(), max_wait=30)
    passed: list[Any] = []
    parse = front.interaction_parser(passed.append)
    parse({"id": "42", "type": 2, "data": {"name": "week"}})
    assert passed == [{"id": "42", "type": 2, "data": {"name": "week"}}]
    assert front.busy()
    front.end("42")
    assert not front.busy()


async def test_an_interaction_closes_when_its_callback_request_leaves() -> None:
    async def ok(request: web.Request) -> web.Response:
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/api/v10/interactions/{id}/{token}/callback", ok)
    app.router.add_post("/api/v10/channels/{id}/messages", ok)
    front = foreground()  # the running loop's: what the trace closes
    front.timings = []
    try:
        front.begin("7", "week")
        front.begin("8", "attendance")
        async with local_server(app) as base, ClientSession(trace_configs=[watch(TraceConfig())]) as session:
            api = f"{base}/api/v10"
            async with session.post(f"{api}/channels/1/messages", json={"content": "x"}) as response:
                assert response.status == 204
            assert front.busy()  # another request: nothing closed
            async with session.post(f"{api}/interactions/7/token-7/callback", json={"type": 4}) as response:
                assert response.status == 204
            assert front.busy()  # 8 is still open
            async with session.post(f"{api}/interactions/8/token-8/callback", json={"type": 5}) as response:
                assert response.status == 204
        assert not front.busy()
        assert [name for name, _ in front.timings] == ["week", "attendance"]
    finally:
        front.timings = None

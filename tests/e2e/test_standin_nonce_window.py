"""The stand-in's nonce window: like Discord, a repeated `enforce_nonce` send gets the first message back only
for a few minutes, measured on the stand-in's own clock — afterwards the same nonce posts a new message."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from standin import StandIn

pytestmark = pytest.mark.e2e


async def post(standin: StandIn, channel_id: int, body: dict[str, Any]) -> dict[str, Any]:
    headers = {"Authorization": f"Bot {standin.app.token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{standin.api_base_url}/channels/{channel_id}/messages", json=body, headers=headers) as response,
    ):
        assert response.status == 200, await response.text()
        data: dict[str, Any] = await response.json()
        return data


async def test_a_nonce_is_deduplicated_inside_the_window_and_not_after_it() -> None:
    async with StandIn(nonce_window=300.0) as standin:
        world = standin.defaults
        assert world is not None
        body = {"content": "reminder", "nonce": "rem-1-d1", "enforce_nonce": True}
        first = await post(standin, world.channel_id, body)
        standin.advance_clock(timedelta(seconds=299))
        assert standin.nonce_remembered(world.channel_id, "rem-1-d1")
        assert (await post(standin, world.channel_id, body))["id"] == first["id"]
        assert standin.nonce_hits == 1
        standin.advance_clock(timedelta(seconds=2))
        assert not standin.nonce_remembered(world.channel_id, "rem-1-d1")
        again = await post(standin, world.channel_id, body)
        assert again["id"] != first["id"]
        assert [m.content for m in standin.messages(world.channel_id)] == ["reminder", "reminder"]


async def test_message_ids_and_times_follow_the_standins_clock() -> None:
    async with StandIn() as standin:
        world = standin.defaults
        assert world is not None
        before = await post(standin, world.channel_id, {"content": "before"})
        standin.advance_clock(timedelta(hours=2))
        after = await post(standin, world.channel_id, {"content": "after"})
        first, second = standin.messages(world.channel_id)
        assert second.created_at - first.created_at >= timedelta(hours=2)
        # Snowflakes carry the time in their upper bits (milliseconds since 2015).
        gap_ms = (int(after["id"]) >> 22) - (int(before["id"]) >> 22)
        assert gap_ms >= 2 * 3600 * 1000

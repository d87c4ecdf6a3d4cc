"""The stand-in's global rate limit is Discord's: per bot token, counted across every connection (every
process of the bot), and not shared with another bot."""

from __future__ import annotations

import aiohttp
import pytest

from standin import StandIn

pytestmark = pytest.mark.e2e


async def post_many(standin: StandIn, token: str, channel_id: int, count: int) -> list[int]:
    """`count` messages over a connection of its own (as another process would have); their statuses."""
    url = f"{standin.api_base_url}/channels/{channel_id}/messages"
    statuses = []
    async with aiohttp.ClientSession(headers={"Authorization": f"Bot {token}"}) as http:
        for n in range(count):
            async with http.post(url, json={"content": f"m{n}"}) as answer:
                statuses.append(answer.status)
                if answer.status == 429:
                    body = await answer.json()
                    assert body["global"] is True
    return statuses


async def test_one_bot_s_connections_count_together_and_another_bot_counts_apart(standin: StandIn) -> None:
    world = standin.defaults
    assert world is not None
    standin.faults.set_global_limit(5)
    first = await post_many(standin, standin.app.token, world.channel_id, 3)
    second = await post_many(standin, standin.app.token, world.channel_id, 3)  # the same bot, another process
    assert first == [200, 200, 200]
    assert second == [200, 200, 429]  # six in the same second: the sixth is over the bot's limit
    other = standin.add_application("another bot")
    assert await post_many(standin, other.token, world.channel_id, 5) == [200] * 5  # its own window

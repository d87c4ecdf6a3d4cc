"""Which servers a process owns when the bot runs as several processes (Discord's shard rule).

Pure: a `ShardPlan` says which shards one process connects; `owns(guild_id)` decides whether a server's
study — its reminders, notices and server events — belongs to this process. No plan means one process
that owns every server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_SHARD_COUNT = 1024
_SPEC = re.compile(r"^\s*(\d+)(?:\s*-\s*(\d+))?\s*/\s*(\d+)\s*$")


class ShardSpecError(ValueError):
    """A shard setting is wrong; the message says what is allowed."""


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard Discord delivers a server's events to."""
    return (guild_id >> 22) % shard_count


@dataclass(frozen=True, slots=True)
class ShardPlan:
    """The shards one process connects, out of `shard_count` shards in all."""

    shard_ids: tuple[int, ...]
    shard_count: int

    def __post_init__(self) -> None:
        check_shards(self.shard_ids, self.shard_count)

    def owns(self, guild_id: int) -> bool:
        return shard_of(guild_id, self.shard_count) in self.shard_ids

    @property
    def several_processes(self) -> bool:
        """More than one shard in all: other processes may share the database."""
        return self.shard_count > 1

    def describe(self) -> str:
        ids = self.shard_ids
        contiguous = list(ids) == list(range(ids[0], ids[-1] + 1))
        shown = f"{ids[0]}-{ids[-1]}" if contiguous and len(ids) > 1 else ",".join(map(str, ids))
        return f"{shown}/{self.shard_count}"


def budget_share(plan: ShardPlan | None, rate: float) -> float:
    """This process's part of a per-bot rate: Discord's global limit counts every process of the bot, so
    each paces its own posts at the share of its shards (all of it without shards). Processes that
    overlap during a rolling restart briefly sum to a little more; Discord answers the excess with a 429
    that discord.py waits out.
    """
    if plan is None:
        return rate
    return rate * len(plan.shard_ids) / plan.shard_count


def slot_grid(plan: ShardPlan | None) -> tuple[int, frozenset[int]]:
    """(positions, owned positions) of this process on the bot's one grid of rate-limit slots: a position per
    shard, this process's shards its own, so processes with disjoint shards take turns (`RateGate`)."""
    if plan is None:
        return 1, frozenset({0})
    return plan.shard_count, frozenset(plan.shard_ids)


def owns(plan: ShardPlan | None, guild_id: int) -> bool:
    """Does the process running `plan` own this server? Without a plan it owns every server."""
    return plan is None or plan.owns(guild_id)


def check_shards(shard_ids: tuple[int, ...], shard_count: int) -> None:
    if not 1 <= shard_count <= MAX_SHARD_COUNT:
        raise ShardSpecError(f"the shard count is {shard_count}: allowed is a whole number from 1 to {MAX_SHARD_COUNT}")
    if not shard_ids:
        raise ShardSpecError("no shard ids: list at least one, e.g. [0, 1]")
    for shard_id in shard_ids:
        if not 0 <= shard_id < shard_count:
            raise ShardSpecError(
                f"shard id {shard_id} is out of range: with {shard_count} shards allowed are 0 to {shard_count - 1}"
            )
    if len(set(shard_ids)) != len(shard_ids):
        raise ShardSpecError(f"shard ids {list(shard_ids)} repeat an id: list each shard once")


def parse_shard_spec(text: str) -> ShardPlan:
    """`0-3/8` (an inclusive range, then the count) or `5/8` (one shard)."""
    match = _SPEC.match(text)
    if match is None:
        raise ShardSpecError(f"{text!r} is not a shard range: write FIRST-LAST/COUNT, e.g. 0-3/8, or ID/COUNT")
    first, last, count = int(match[1]), int(match[2] if match[2] is not None else match[1]), int(match[3])
    if last < first:
        raise ShardSpecError(f"{text!r} runs backwards: write the lower shard id first, e.g. {last}-{first}/{count}")
    return ShardPlan(tuple(range(first, last + 1)), count)

"""Shards per process: the ownership rule, the shard settings (config and `run --shards`), and the guard that
keeps one SQLite file to one serving process."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bot.cli import _shard_settings
from bot.config import ConfigError, Settings, settings_from_mapping
from bot.core.sharding import ShardPlan, ShardSpecError, owns, parse_shard_spec, shard_of
from bot.sharding import DatabaseInUse, single_sqlite_process

PG = "postgresql+asyncpg://u:p@127.0.0.1/db"


def guild_on(shard: int, count: int, n: int = 0) -> int:
    """A server id Discord puts on `shard` of `count`."""
    return ((n * count + shard) << 22) | 12345


def settings(discord: dict[str, object], *, url: str = PG, database: dict[str, object] | None = None) -> Settings:
    raw = {"discord": {"token": "t", **discord}, "database": {"url": url, **(database or {})}}
    return settings_from_mapping(raw, source="config.toml", base_dir=Path("/tmp"), environ={})


def test_shard_of_follows_discords_rule() -> None:
    assert shard_of(guild_on(3, 8), 8) == 3
    assert shard_of(41771983423143937, 1) == 0
    assert shard_of(41771983423143937, 4) == (41771983423143937 >> 22) % 4


def test_a_plan_owns_exactly_the_servers_on_its_shards() -> None:
    plan = ShardPlan((0, 1, 2, 3), 8)
    assert all(plan.owns(guild_on(s, 8, n)) for s in range(4) for n in range(5))
    assert not any(plan.owns(guild_on(s, 8, n)) for s in range(4, 8) for n in range(5))
    assert owns(None, guild_on(7, 8))  # no plan: one process, every server


@pytest.mark.parametrize(
    ("spec", "ids", "count"),
    [("0-3/8", (0, 1, 2, 3), 8), ("5/8", (5,), 8), (" 2 - 3 / 6 ", (2, 3), 6), ("0-0/1", (0,), 1)],
)
def test_parse_shard_spec(spec: str, ids: tuple[int, ...], count: int) -> None:
    plan = parse_shard_spec(spec)
    assert (plan.shard_ids, plan.shard_count) == (ids, count)


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("0-3", "FIRST-LAST/COUNT"),
        ("3-1/8", "backwards"),
        ("0-8/8", "out of range"),
        ("0/0", "from 1"),
        ("a-b/c", "FIRST-LAST/COUNT"),
    ],
)
def test_bad_shard_spec_says_what_is_allowed(spec: str, says: str) -> None:
    with pytest.raises(ShardSpecError, match=says):
        parse_shard_spec(spec)


def test_config_shards() -> None:
    got = settings({"shard_count": 8, "shard_ids": [0, 1, 2, 3]})
    assert got.shards == ShardPlan((0, 1, 2, 3), 8)
    assert got.reload_seconds == 30.0  # several processes: edits through the others arrive within 30 s
    assert got.shards.describe() == "0-3/8"


def test_no_shard_settings_is_one_process_as_before() -> None:
    got = settings({}, url="sqlite+aiosqlite:///x.db")
    assert got.shards is None
    assert got.reload_seconds is None


def test_reload_period_is_configurable() -> None:
    got = settings({"shard_count": 2, "shard_ids": [1]}, database={"reload_seconds": 5})
    assert got.reload_seconds == 5.0
    with pytest.raises(ConfigError, match=r"database.reload_seconds.*1 to 3600"):
        settings({}, database={"reload_seconds": 0})


@pytest.mark.parametrize(
    ("discord", "key", "says"),
    [
        ({"shard_ids": [0]}, "discord.shard_count", "is missing"),
        ({"shard_count": 4}, "discord.shard_ids", "is missing"),
        ({"shard_count": "4", "shard_ids": [0]}, "discord.shard_count", "whole number"),
        ({"shard_count": 4, "shard_ids": "0-1"}, "discord.shard_ids", "list of whole numbers"),
        ({"shard_count": 4, "shard_ids": [0, 4]}, "discord.shard_ids", "0 to 3"),
        ({"shard_count": 4, "shard_ids": [1, 1]}, "discord.shard_ids", "repeat"),
        ({"shard_count": 4, "shard_ids": []}, "discord.shard_ids", "at least one"),
        ({"shard_count": 0, "shard_ids": [0]}, "discord.shard_count", "from 1"),
    ],
)
def test_bad_shard_settings_name_key_file_and_what_is_allowed(discord: dict[str, object], key: str, says: str) -> None:
    with pytest.raises(ConfigError) as info:
        settings(discord)
    assert info.value.key == key
    assert info.value.source == "config.toml"
    assert says in info.value.problem


def test_several_shards_need_postgresql() -> None:
    with pytest.raises(ConfigError, match="PostgreSQL") as info:
        settings({"shard_count": 2, "shard_ids": [0]}, url="sqlite+aiosqlite:///x.db")
    assert info.value.key == "discord.shard_count"
    # One shard in all is one process: SQLite is fine.
    assert settings({"shard_count": 1, "shard_ids": [0]}, url="sqlite+aiosqlite:///x.db").shards is not None


def run_args(shards: str | None, command: str = "run") -> argparse.Namespace:
    return argparse.Namespace(command=command, shards=shards)


def test_run_shards_overrides_the_config() -> None:
    base = settings({"shard_count": 8, "shard_ids": [0, 1, 2, 3]})
    got = _shard_settings(run_args("4-7/8"), base)
    assert got.shards == ShardPlan((4, 5, 6, 7), 8)
    assert _shard_settings(run_args(None), base).shards == base.shards
    # Other commands (import, export, …) serve every server.
    assert _shard_settings(run_args(None, "import"), base).shards is None


def test_run_shards_checked_like_the_config() -> None:
    sqlite = settings({}, url="sqlite+aiosqlite:///x.db")
    with pytest.raises(ConfigError, match="PostgreSQL") as info:
        _shard_settings(run_args("0-1/6"), sqlite)
    assert info.value.key == "--shards"
    with pytest.raises(ConfigError, match="backwards"):
        _shard_settings(run_args("3-1/6"), sqlite)


def test_second_serving_process_on_one_sqlite_file_is_refused(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'studybot.db'}"
    refused = pytest.raises(DatabaseInUse, match=r"already serving the SQLite database .*PostgreSQL")
    with single_sqlite_process(url), refused, single_sqlite_process(url):
        pass
    with single_sqlite_process(url):  # released when the first one stops
        pass
    with single_sqlite_process(PG), single_sqlite_process(PG):  # PostgreSQL is shared on purpose
        pass


def test_each_process_paces_at_the_share_of_its_shards() -> None:
    from bot.core.sharding import budget_share

    assert budget_share(None, 45.0) == 45.0
    assert budget_share(ShardPlan((0, 1), 6), 45.0) == 15.0
    shares = [budget_share(ShardPlan((i,), 4), 45.0) for i in range(4)]
    assert sum(shares) == 45.0

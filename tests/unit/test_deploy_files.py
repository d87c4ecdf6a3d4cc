"""The deployment files (deploy/): the systemd unit template and the compose file parse, and every command-line
flag, shard range and environment variable they use is one the bot knows."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import _parser
from bot.config import settings_from_mapping
from bot.core.sharding import parse_shard_spec

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "studybot@.service"
COMPOSE = ROOT / "deploy" / "compose.yaml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def unit_sections(text: str) -> dict[str, dict[str, list[str]]]:
    """A systemd unit as section → key → values (keys may repeat; comments and blank lines skipped)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"a setting outside any section: {line!r}"
        key, sep, value = line.partition("=")
        assert sep, f"not a Key=Value line: {line!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def studybot_args(command: list[str]) -> list[str]:
    """The arguments after the `studybot` executable."""
    index = next(i for i, word in enumerate(command) if word.endswith("studybot"))
    return command[index + 1 :]


def test_the_unit_runs_the_instance_s_shard_range_and_stops_within_the_bot_s_limit() -> None:
    unit = unit_sections(UNIT.read_text(encoding="utf-8"))
    assert set(unit) == {"Unit", "Service", "Install"}
    service = unit["Service"]
    [exec_start] = service["ExecStart"]
    [count] = [v.split("=", 1)[1] for v in service["Environment"] if v.startswith("STUDYBOT_SHARD_COUNT=")]
    # `studybot@0-3.service` with STUDYBOT_SHARD_COUNT=8 → `studybot run --config … --shards 0-3/8`
    words = exec_start.replace("%i", "0-3").replace("${STUDYBOT_SHARD_COUNT}", count).split()
    args = _parser().parse_args(studybot_args(words))
    assert args.command == "run" and args.config == Path("/etc/studybot/config.toml")
    plan = parse_shard_spec(args.shards)
    assert (plan.shard_ids, plan.shard_count) == ((0, 1, 2, 3), 8)

    from bot.runtime import SHUTDOWN_LIMIT

    assert service["KillSignal"] == ["SIGTERM"]
    assert SHUTDOWN_LIMIT < int(service["TimeoutStopSec"][0]) <= SHUTDOWN_LIMIT + 10
    assert service["Restart"] == ["always"]
    assert service["RestartPreventExitStatus"] == ["2"]  # the bot's exit status for a configuration error
    for hardening in ("NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp", "RestrictAddressFamilies"):
        assert hardening in service, hardening
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    """`systemd-analyze verify` on an instance; the executable is pointed at this checkout's, since
    /opt/studybot does not exist on a test machine."""
    studybot = Path(sys.executable).with_name("studybot")
    if not studybot.exists():
        pytest.skip("the studybot command is not installed next to this Python")
    text = UNIT.read_text(encoding="utf-8").replace("/opt/studybot/.venv/bin/studybot", str(studybot))
    instance = tmp_path / "studybot@0-3.service"
    instance.write_text(text, encoding="utf-8")
    result = subprocess.run(
        ["systemd-analyze", "verify", str(instance)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert [line for line in (result.stdout + result.stderr).splitlines() if "studybot@" in line] == []


def compose_commands_by_regex(text: str) -> dict[str, list[str]]:
    """Each service's `command: [...]` (the fallback when PyYAML is not installed)."""
    commands: dict[str, list[str]] = {}
    service = ""
    for line in text.splitlines():
        header = re.match(r"^  ([\w-]+):\s*$", line)
        if header:
            service = header[1]
        found = re.match(r"^\s+command:\s*(\[.*\])\s*$", line)
        if found:
            commands[service] = re.findall(r'"([^"]*)"', found[1])
    return commands


def test_the_compose_services_run_shard_ranges_that_cover_every_shard_once() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    commands = compose_commands_by_regex(text)
    assert set(commands) == {"bot-a", "bot-b"}
    covered: list[int] = []
    counts = set()
    for command in commands.values():
        args = _parser().parse_args(studybot_args(command))
        assert args.command == "run"
        plan = parse_shard_spec(args.shards)
        covered += plan.shard_ids
        counts.add(plan.shard_count)
    [count] = counts
    assert sorted(covered) == list(range(count))
    # The environment variables the bot services set are the ones the bot reads.
    settings = settings_from_mapping(
        {"discord": {}, "database": {}},
        source="compose",
        base_dir=ROOT,
        environ={"DISCORD_TOKEN": "a-token", "STUDYBOT_DATABASE_URL": "postgresql+asyncpg://u:p@postgres:5432/s"},
    )
    assert settings.token == "a-token" and settings.database_url.startswith("postgresql+asyncpg://")
    for variable in ("DISCORD_TOKEN", "STUDYBOT_DATABASE_URL"):
        assert f"{variable}:" in text
    assert 'CMD ["studybot", "run"' in DOCKERFILE.read_text(encoding="utf-8")


def test_the_compose_file_is_valid_yaml_with_a_healthy_postgres_the_bots_wait_for() -> None:
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed: the compose file's structure is not parsed")
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    services = compose["services"]
    postgres = services["postgres"]
    assert postgres["image"] == "postgres:15"
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert any(v.endswith(":/var/lib/postgresql/data") for v in postgres["volumes"])
    bots = {name: s for name, s in services.items() if name.startswith("bot-")}
    assert bots and compose_commands_by_regex(COMPOSE.read_text(encoding="utf-8")).keys() == bots.keys()
    for service in bots.values():
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert service["stop_signal"] == "SIGTERM"
        assert "/etc/studybot/config.toml" in service["volumes"][0]

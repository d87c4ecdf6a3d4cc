"""The `studybot` command line as a user runs it: clear one-sentence failures, import/export/calendar, sync."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from icalendar import Calendar

from bot.core.definition import load_definition
from bot.offline import BUNDLED_STUDY, write_config
from standin import StandIn

ROOT = Path(__file__).resolve().parents[2]


def studybot(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "STUDYBOT_DATABASE_URL")}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**base, "PYTHONPATH": str(ROOT), **(env or {})},
    )


def test_run_without_token_says_what_to_do_in_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[[study]]\nguild_id = 1\n", encoding="utf-8")
    result = studybot("run", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "`discord.token` is empty" in result.stderr and "DISCORD_TOKEN" in result.stderr


def test_missing_config_and_bad_values_name_the_key_and_file(tmp_path: Path) -> None:
    missing = studybot("run", "--config", "nope.toml", cwd=tmp_path)
    assert missing.returncode == 2 and "nope.toml" in missing.stderr and "config.example.toml" in missing.stderr
    (tmp_path / "bad.toml").write_text('[discord]\ntoken = "x"\ngateway_url = "http://x"\n', encoding="utf-8")
    bad = studybot("run", "--config", "bad.toml", cwd=tmp_path)
    assert bad.returncode == 2 and "bad.toml" in bad.stderr and "discord.gateway_url" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_import_export_roundtrip_and_calendar(tmp_path: Path) -> None:
    env = {"STUDYBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"}
    first = studybot("import", str(BUNDLED_STUDY), "--guild", "42", cwd=tmp_path, env=env)
    assert first.returncode == 0 and "imported" in first.stdout, first.stderr
    exported = studybot("export", "--guild", "42", "-o", "out.toml", cwd=tmp_path, env=env)
    assert exported.returncode == 0, exported.stderr
    assert load_definition(tmp_path / "out.toml") == load_definition(BUNDLED_STUDY)
    again = studybot("import", "out.toml", "--guild", "42", cwd=tmp_path, env=env)
    assert again.returncode == 0 and "unchanged" in again.stdout
    cal = studybot("calendar", "--guild", "42", "-o", "study.ics", cwd=tmp_path, env=env)
    assert cal.returncode == 0, cal.stderr
    events = list(Calendar.from_ical((tmp_path / "study.ics").read_bytes()).walk("VEVENT"))
    assert len(events) == 9
    bad = studybot("import", str(ROOT / "pyproject.toml"), "--guild", "42", cwd=tmp_path, env=env)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "pyproject.toml" in bad.stderr
    unknown = studybot("export", "--guild", "7", cwd=tmp_path, env=env)
    assert unknown.returncode == 2 and "no study" in unknown.stderr


async def test_sync_registers_commands_even_when_unchanged_and_posts_nothing(tmp_path: Path, standin: StandIn) -> None:
    world = standin.defaults
    assert world is not None
    config = write_config(
        tmp_path / "config.toml",
        standin=standin,
        database=tmp_path / "db.sqlite",
        definition=BUNDLED_STUDY,
        guild_id=world.guild_id,
        channel_id=world.channel_id,
        ping_role_id=world.study_role_id,
    )
    for expected in (1, 2):
        result = await asyncio.to_thread(studybot, "sync", "--config", str(config), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert standin.sync_count() == expected
    assert {c["name"] for c in standin.commands()} >= {"week", "admin"}
    assert standin.messages(world.channel_id) == []


def test_unusable_database_is_named_not_a_traceback(tmp_path: Path) -> None:
    env = {"STUDYBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'db.sqlite'}"}
    result = studybot("import", str(BUNDLED_STUDY), "--guild", "42", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "database.url" in result.stderr and "cannot be opened" in result.stderr
    assert "Traceback" not in result.stderr
    folder = studybot("run", "--config", str(tmp_path), cwd=tmp_path)
    assert folder.returncode == 2 and "cannot be read" in folder.stderr and "Traceback" not in folder.stderr

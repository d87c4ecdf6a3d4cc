"""The `studybot` command line as a user runs it: clear one-sentence failures, import/export/calendar, sync."""

from __future__ import annotations

import asyncio
import os
import re
import socket
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


# --------------------------------------------------------------------------------------------------
# One sentence, never a traceback — and never a password or a token


def one_sentence(result: subprocess.CompletedProcess[str], code: int = 2) -> str:
    assert result.returncode == code, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    [line] = [x for x in result.stderr.splitlines() if x.startswith("studybot: ")]
    return line


def test_import_of_a_missing_file_is_one_sentence_and_creates_no_database(tmp_path: Path) -> None:
    line = one_sentence(studybot("import", "missing.toml", "--guild", "1", cwd=tmp_path))
    assert "missing.toml: no such file" in line
    folder = one_sentence(studybot("import", str(tmp_path), "--guild", "1", cwd=tmp_path))
    assert "is a folder" in folder
    assert list(tmp_path.iterdir()) == []


def test_console_with_a_missing_study_or_db_folder_is_one_sentence(tmp_path: Path) -> None:
    line = one_sentence(studybot("console", "--study", "missing.toml", cwd=tmp_path), code=1)
    assert "--study missing.toml: no such file" in line
    db = one_sentence(studybot("console", "--db", "no/such/dir/x.db", cwd=tmp_path), code=1)
    assert "the folder no/such/dir does not exist" in db


def test_export_and_calendar_need_an_existing_database_and_create_none(tmp_path: Path) -> None:
    for command in ("export", "calendar"):
        line = one_sentence(studybot(command, "--guild", "1", cwd=tmp_path))
        assert f"no database at {tmp_path / 'studybot.db'}" in line
        assert f"looked for {tmp_path / 'config.toml'}" in line and "STUDYBOT_DATABASE_URL" in line
    env = {"STUDYBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'other.db'}"}
    named = one_sentence(studybot("export", "--guild", "1", cwd=tmp_path, env=env))
    assert "other.db" in named and "from STUDYBOT_DATABASE_URL" in named
    (tmp_path / "config.toml").write_text('[database]\nurl = "sqlite+aiosqlite:///data/bot.db"\n', encoding="utf-8")
    configured = one_sentence(studybot("calendar", "--guild", "1", cwd=tmp_path))
    assert str(tmp_path / "data" / "bot.db") in configured and "database.url from config.toml" in configured
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


def test_postgres_url_without_asyncpg_says_which_extra_to_install(tmp_path: Path) -> None:
    shim = tmp_path / "shim" / "asyncpg"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'asyncpg'\", name='asyncpg')\n", encoding="utf-8"
    )
    env = {
        "PYTHONPATH": f"{tmp_path / 'shim'}{os.pathsep}{ROOT}",
        "STUDYBOT_DATABASE_URL": "postgresql+asyncpg://bot:hunter2-secret@127.0.0.1/studybot",
    }
    line = one_sentence(studybot("migrate", cwd=tmp_path, env=env))
    assert "asyncpg" in line and 'pip install -e ".[postgres]"' in line
    assert "hunter2-secret" not in line and "bot:***@127.0.0.1" in line


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_unreachable_api_base_url_names_the_url_and_what_failed(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/api/v10"
    (tmp_path / "config.toml").write_text(
        f'[discord]\ntoken = "a-token-of-some-length"\napi_base_url = "{url}"\n\n[[study]]\nguild_id = 5\n',
        encoding="utf-8",
    )
    for command in ("run", "sync"):
        line = one_sentence(studybot(command, cwd=tmp_path), code=1)
        assert f"Discord's REST API at {url} (discord.api_base_url in config.toml) cannot be reached" in line
        assert "Connect call failed" in line or "Cannot connect" in line


def test_database_errors_never_print_the_password(tmp_path: Path) -> None:
    secret = "pa55-w0rd-sEcret"
    urls = [f"postgresql+asyncpg://studybot:{secret}@127.0.0.1:{closed_port()}/studybot"]
    server = os.environ.get("STUDYBOT_TEST_POSTGRES_URL")
    if server:  # the real server, with a wrong password: its own error message must not leak it either
        urls.append(re.sub(r"://([^:/@]+):[^@]*@", rf"://\1:{secret}@", server))
    for url in urls:
        (tmp_path / "config.toml").write_text(
            f'[discord]\ntoken = "the-bot-token-{secret}"\n\n[database]\nurl = "{url}"\n\n'
            '[logging]\nlevel = "DEBUG"\n\n[[study]]\nguild_id = 5\n',
            encoding="utf-8",
        )
        for command in ("run", "migrate"):
            result = studybot(command, cwd=tmp_path)
            line = one_sentence(result)
            assert "cannot be opened" in line and "studybot:***@127.0.0.1" in line
            assert secret not in result.stderr + result.stdout
    bad = studybot("migrate", cwd=tmp_path, env={"STUDYBOT_DATABASE_URL": f"mysql://root:{secret}@db/x"})
    assert "root:***@db" in one_sentence(bad) and secret not in bad.stderr

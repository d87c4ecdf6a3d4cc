"""The command line refuses, in one sentence, what the rulebook refuses: a config that would serve nothing or
a made-up server, and a study file holding what the commands would not store."""

from __future__ import annotations

import shutil
from pathlib import Path

from bot.offline import BUNDLED_STUDY
from tests.e2e.test_cli import ROOT, studybot


def test_run_refuses_a_config_without_any_study(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[discord]\ntoken = "x"\n', encoding="utf-8")

    result = studybot("run", cwd=tmp_path)

    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "config.toml: `study` is missing" in result.stderr and "[[study]]" in result.stderr


def test_run_refuses_the_examples_placeholder_server_id(tmp_path: Path) -> None:
    shutil.copy(ROOT / "config.example.toml", tmp_path / "config.toml")
    (tmp_path / "studies").mkdir()
    shutil.copy(BUNDLED_STUDY, tmp_path / "studies" / "pytorch-study.toml")

    result = studybot("run", cwd=tmp_path, env={"DISCORD_TOKEN": "x"})

    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "`study[1].guild_id` is still the example's placeholder" in result.stderr


def test_import_refuses_a_name_that_would_ping_everyone(tmp_path: Path) -> None:
    text = BUNDLED_STUDY.read_text(encoding="utf-8").replace('name = "강동연"', 'name = "강동연 @here"')
    (tmp_path / "study.toml").write_text(text, encoding="utf-8")
    env = {"STUDYBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"}

    result = studybot("import", "study.toml", "--guild", "42", cwd=tmp_path, env=env)

    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "study.toml: member[1].name: must not contain @" in result.stderr

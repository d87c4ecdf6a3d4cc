"""`studybot console` shows the session-start post with its button, and `:click checkin` presses it as the
current console user."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_console_shows_the_checkin_button_and_click_presses_it(tmp_path: Path) -> None:
    script = "\n".join(
        [
            ":lang en",
            ":click checkin",
            ":as admin",
            "/admin roster link name:강동연 user:member",
            ":as member",
            ":ff next",
            ":ff next",
            ":ff next",
            ":click checkin",
            ":click checkin",
            "/attendance member:강동연",
            ":quit",
        ]
    )
    env = {k: v for k, v in os.environ.items() if k != "DISCORD_TOKEN"}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "console"],
        input=script,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, result.stderr[-2000:]
    assert "no such button yet" in out  # before the post
    assert "[ ✅ 출석 체크 ]   ← :click checkin" in out  # the session-start post, with its button
    assert "**강동연**, you are checked in for week 1: ✅ present" in out
    assert "You already checked in for week 1" in out
    assert "강동연 — attendance" in out
    assert "Traceback" not in result.stderr

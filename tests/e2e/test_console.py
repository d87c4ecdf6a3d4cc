"""`studybot console` from the command line, as a newcomer runs it: no token, no config, piped input."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_console_answers_commands_and_shows_reminders_after_fast_forward(tmp_path: Path) -> None:
    script = "\n".join(
        [
            "/week",
            ":lang en",
            "/materials week:3",
            "/admin roster add name:홍길동",
            ":as admin",
            "/admin roster add name:홍길동",
            "/roster",
            ":ff next",
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
    assert "1주차 · 파이토치(PyTorch) 기본 익히기" in out  # week 1 is live: shifted to the coming Thursday
    assert "Week 3 materials · PART 2: Neural Network" in out
    assert "Only study admins can do this" in out  # the member was refused
    assert "Added **홍길동** to the roster." in out
    assert "— 11 members" in out
    assert "posted by the bot" in out  # the reminder, as it was posted
    assert re.search(r"@Study ⏰ \d주차", out)  # pinging the study role (week 1, or 2 if 1 is about to start)
    assert "<t:" not in out  # timestamps rendered as dates
    assert "Traceback" not in result.stderr

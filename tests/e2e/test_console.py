"""`studybot console` from the command line, as a newcomer runs it: no token, no config, piped input."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

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


def console_env(tmp_path: Path) -> dict[str, str]:
    """The console's environment, with its temporary folder under `tmp_path/tmp` so a test can see it go."""
    temp = tmp_path / "tmp"
    temp.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "DISCORD_TOKEN"}
    return {**env, "PYTHONPATH": str(ROOT), "TMPDIR": str(temp)}


def run_console(tmp_path: Path, script: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "console"],
        input="\n".join(script) + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=console_env(tmp_path),
        check=False,
    )


def test_console_takes_korean_names_and_answers_bad_input_in_one_line(tmp_path: Path) -> None:
    result = run_console(
        tmp_path,
        [
            "/주차",
            "/자료 주차:2",
            "/일정",
            "/다음모임",
            "/명단",
            "/캘린더",
            "/주차 번호:abc",
            "/bogus",
            "/관리",
            "/week colour:red",
            '/week "unclosed',
            ":as admin",
            "/관리 명단 추가 이름:김철수 역할:스터디장",
            "/admin curriculum remove-material week:2 item:1",
            ":lang en",
            "/week number:abc",
        ],
    )
    out = result.stdout
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and "Traceback" not in out
    assert "1주차 · 파이토치(PyTorch) 기본 익히기" in out  # /주차
    assert "2주차 자료" in out  # /자료 주차:2
    assert "📎 " in out and ".ics" in out  # /캘린더 attached the calendar
    assert "`번호`에는 정수를 적어 주세요" in out  # the study's (and the reader's) language
    assert "`/bogus` 명령은 없습니다" in out and "/주차, " in out
    assert "`/관리` 다음에 하위 명령을 고르세요" in out
    assert "`/주차`에는 `colour` 옵션이 없습니다" in out
    assert "따옴표가 닫히지 않았습니다" in out
    assert "**김철수**" in out  # added as leader through the Korean choice name
    assert "Lab-01-1 Tensor Manipulation 1" in out  # item 1 of week 2 as /materials numbers it
    assert "`number` must be a whole number" in out
    assert list((tmp_path / "tmp").iterdir()) == []  # the temporary folder is gone


def wait_for_output(stream: Any, needle: str, seen: list[str], *, count: int = 1, timeout: float = 60.0) -> None:
    """Read the console's output into `seen` until `needle` has appeared `count` times."""
    deadline = time.monotonic() + timeout
    while "".join(seen).count(needle) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{needle!r} not printed; got {''.join(seen)[-2000:]!r}")
        ready, _, _ = select.select([stream], [], [], 0.5)
        if ready:
            chunk = os.read(stream.fileno() if hasattr(stream, "fileno") else stream, 65536)
            if not chunk:
                raise EOFError("".join(seen)[-2000:])
            seen.append(chunk.decode("utf-8", "replace"))


def test_ctrl_c_with_piped_input_leaves_cleanly_and_removes_the_folder(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "console"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env=console_env(tmp_path),
    )
    try:
        seen: list[str] = []
        assert process.stdout is not None and process.stdin is not None
        wait_for_output(process.stdout, "Console commands:", seen)
        process.stdin.write(b"/week\n")
        process.stdin.flush()
        wait_for_output(process.stdout, "1주차", seen)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        assert process.stderr is not None
        assert "Traceback" not in process.stderr.read().decode()
    finally:
        if process.poll() is None:
            process.kill()
    assert list((tmp_path / "tmp").iterdir()) == []


def test_ctrl_c_at_a_terminal_clears_the_line_and_twice_leaves(tmp_path: Path) -> None:
    main, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "console"],
        stdin=terminal,
        stdout=terminal,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env=console_env(tmp_path),
    )
    os.close(terminal)
    try:
        seen: list[str] = []
        wait_for_output(main, "studybot> ", seen)
        process.send_signal(signal.SIGINT)  # at the prompt: a fresh prompt, the bot keeps running
        wait_for_output(main, "(Ctrl-C again, Ctrl-D or :quit to leave)", seen)
        os.write(main, b"/week\n")
        wait_for_output(main, "1주차", seen)
        process.send_signal(signal.SIGINT)
        wait_for_output(main, "(Ctrl-C again", seen, count=2)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        assert process.stderr is not None
        assert "Traceback" not in process.stderr.read().decode()
    finally:
        os.close(main)
        if process.poll() is None:
            process.kill()
    assert list((tmp_path / "tmp").iterdir()) == []


def test_console_saves_the_progress_picture_and_prints_its_path(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DISCORD_TOKEN"}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "console"],
        input="/progress\n:quit\n",
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    match = re.search(r"📎 \S+\.png \(\d+ bytes\) → (\S+\.png)", result.stdout)
    assert match, result.stdout[-2000:]
    saved = Path(match.group(1))
    assert saved.is_file() and saved.read_bytes().startswith(b"\x89PNG")
    assert saved.parent == tmp_path / "studybot-console-files"  # where the console was started

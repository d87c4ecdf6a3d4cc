"""The suite itself: database tests show up on PostgreSQL too — as skipped, with the reason — when no server
is configured, so a run without one says what it did not check instead of quietly running fewer tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_postgres_runs_report_as_skipped_with_a_reason_without_a_server() -> None:
    env = {k: v for k, v in os.environ.items() if k != "STUDYBOT_TEST_POSTGRES_URL"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
            "tests/integration/test_concurrency.py",
            "-k",
            "many_concurrent_adds",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 1 skipped" in result.stdout, result.stdout
    assert "STUDYBOT_TEST_POSTGRES_URL" in result.stdout

"""`studybot records --guild ID -o DIR`: attendance.csv and logs.csv, UTF-8 with a byte-order mark so Excel
shows Korean names; an unknown server is one clear sentence."""

from __future__ import annotations

import csv
import io
import sqlite3
from pathlib import Path

import pytest

from tests.e2e.test_cli import studybot

pytestmark = pytest.mark.practice


def test_records_writes_attendance_and_logs_as_excel_friendly_csv(tmp_path: Path) -> None:
    database = tmp_path / "db.sqlite"
    env = {"STUDYBOT_DATABASE_URL": f"sqlite+aiosqlite:///{database}"}
    imported = studybot(
        "import",
        str(Path(__file__).resolve().parents[2] / "studies" / "pytorch-study.toml"),
        "--guild",
        "42",
        cwd=tmp_path,
        env=env,
    )
    assert imported.returncode == 0, imported.stderr
    with sqlite3.connect(database) as conn:
        study_id, member_id, name = conn.execute(
            "SELECT s.id, m.id, m.name FROM study s JOIN member m ON m.study_id = s.id ORDER BY m.id LIMIT 1"
        ).fetchone()
        conn.execute(
            "INSERT INTO attendance (study_id, member_id, original_date, status, checked_in_at, source, updated_at)"
            " VALUES (?, ?, '2026-12-03', 'present', '2026-12-03 00:01:00', 'button', '2026-12-03 00:01:00')",
            (study_id, member_id),
        )
        conn.execute(
            "INSERT INTO study_log (study_id, member_id, original_date, url, note, created_at)"
            " VALUES (?, ?, '2026-12-03', 'https://github.com/x/notes', '텐서 정리', '2026-12-03 02:00:00')",
            (study_id, member_id),
        )

    result = studybot("records", "--guild", "42", "-o", "out", cwd=tmp_path, env=env)

    assert result.returncode == 0, result.stderr
    raw = (tmp_path / "out" / "attendance.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [(r["member"], r["week"], r["status"], r["session_start"]) for r in rows] == [
        (name, "1", "present", "2026-12-03T09:00+09:00")
    ]
    logs = list(csv.DictReader(io.StringIO((tmp_path / "out" / "logs.csv").read_text(encoding="utf-8-sig"))))
    assert [(r["member"], r["note"], r["url"]) for r in logs] == [(name, "텐서 정리", "https://github.com/x/notes")]

    unknown = studybot("records", "--guild", "7", "-o", "out", cwd=tmp_path, env=env)
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr

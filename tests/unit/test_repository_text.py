"""Comments, docstrings and documentation cite only what a reader of this repository can open: no design
notes, issue threads or folders that live somewhere else."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ["bot", "standin", "bench", "migrations", "studies", "tests", "README.md", "config.example.toml"]
SUFFIXES = {".py", ".toml", ".md", ".ini", ".cfg", ".txt"}
OUTSIDE = re.compile(r"DESIGN(\.md)?\s*§|\bDESIGN\.md\b|\bSTYLE\.md\b|\bshared/|\.\./shared|\bissue ?#?\d+\b")


def scanned_files() -> list[Path]:
    files: list[Path] = []
    for name in SCANNED:
        path = ROOT / name
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files += [p for p in path.rglob("*") if p.is_file() and p.suffix in SUFFIXES]
    return [p for p in files if p != Path(__file__).resolve()]


def test_nothing_cites_documents_that_are_not_in_the_repository() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in scanned_files()
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1)
        if OUTSIDE.search(line)
    ]
    assert found == []

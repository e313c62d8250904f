"""The README's first command, run as a user runs it: `make run` in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def make_run(db: Path, stdin: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBRIEF_")}
    return subprocess.run(
        # VENV: the environment running these tests (the .venv `make test` made), set up already
        # and -o: `make test` installed it already, so this never reinstalls into that venv
        [
            "make",
            "--no-print-directory",
            "-o",
            f"{sys.prefix}/.run-installed",
            "run",
            f"DB={db}",
            f"VENV={sys.prefix}",
        ],
        cwd=ROOT,
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_make_run_with_stdin_closed_prints_the_digest_seed_story_first(tmp_path: Path) -> None:
    done = make_run(tmp_path / "bot.db", None)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Ingested: 6 new, 0 already stored, 0 failed." in out
    first_item = out.split("\n1. ", 1)[1].split("\n2. ", 1)[0]
    assert "3 sources: European Pravda, Danube Dispatch, Northline News" in first_item
    assert "security guarantees" in first_item
    assert "Traceback" not in done.stderr


def test_make_run_answers_piped_commands_and_exits(tmp_path: Path) -> None:
    done = make_run(tmp_path / "bot.db", "/help\n/brief\n")
    assert done.returncode == 0, done.stderr
    assert "/brief [public] [topic]" in done.stdout
    assert "Latest 4 stories." in done.stdout


def test_output_cut_short_by_the_reader_ends_quietly(tmp_path: Path) -> None:
    # `... | head -1`: the reader has gone before the bot writes its next answer
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--db", str(tmp_path / "bot.db"), "seeds/"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().startswith(b"Ingested:")
    proc.stdout.close()
    proc.stdin.write(b"/help\n/brief\n")
    proc.stdin.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 1
    assert "Traceback" not in err

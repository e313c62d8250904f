"""Start time of `python -m bot --help` and `health --live`, beside `python -c pass`.

Run: ``.venv/bin/python benches/startup.py [ROUNDS] [--against DIR]`` (from anywhere; the
commands run in the repository root with this interpreter). ``--against DIR`` also times the
same two commands in another checkout (say the main branch's, unpacked with ``git archive``),
in the same rounds, so a change is measured against what it replaces.

The container's health check runs `python -m bot health` every 30 s, so its start is paid all
day (issue 17): the must is under 0.25 s, the goal under 0.15 s. `health --live` asks a port on
127.0.0.1 that nothing listens on, so it fails at once and times the start, not a server.

Every command runs with its bytecode compiled, as in the container (pip compiles what it
installs): into a temporary ``PYTHONPYCACHEPREFIX``, even where ``PYTHONDONTWRITEBYTECODE`` is set,
which would otherwise have each run compile our modules from source again (about 20 ms).

Shared machines are noisy, so the commands run in alternating rounds (each round runs every
command once, in turn) and each keeps its median: a burst of load slows one round of each, not
one side of the comparison.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MUST = 0.25
GOAL = 0.15
IDLE_PASS = 0.03
"""`python -c pass` on an idle machine, as the issue measured it."""


def _closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then let go)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(port: int, pycache: str) -> dict[str, str]:
    """The environment without our settings or tokens, the health port pointed at `port`, and
    bytecode kept in `pycache`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("NEWSBRIEF_", "SLACK_", "DISCORD_"))
        and k not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")
    }
    env["NEWSBRIEF_HEALTH_PORT"] = str(port)
    env["PYTHONPYCACHEPREFIX"] = pycache
    return env


def _time(args: list[str], cwd: Path, env: dict[str, str], expect: int) -> float:
    """Seconds one run of `python ARGS` takes, from spawn to exit."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, timeout=60
    )
    seconds = time.perf_counter() - start
    if done.returncode != expect:
        raise SystemExit(f"{args} in {cwd} exited {done.returncode}: {done.stderr.decode()}")
    return seconds


def main() -> None:
    args = sys.argv[1:]
    against = None
    if "--against" in args:
        at = args.index("--against")
        against = Path(args[at + 1]).resolve()
        del args[at : at + 2]
    rounds = int(args[0]) if args else 15
    with tempfile.TemporaryDirectory(prefix="startup-pyc-") as pycache:
        _bench(rounds, against, _env(_closed_port(), pycache))


def _bench(rounds: int, against: Path | None, env: dict[str, str]) -> None:
    # name, arguments, directory, expected exit code (health: 1, nothing answers)
    runs: list[tuple[str, list[str], Path, int]] = [
        ("python -c pass", ["-c", "pass"], ROOT, 0),
        ("python -m bot --help", ["-m", "bot", "--help"], ROOT, 0),
        ("python -m bot health --live", ["-m", "bot", "health", "--live"], ROOT, 1),
    ]
    if against:
        runs += [
            (f"{against.name}: --help", ["-m", "bot", "--help"], against, 0),
            (f"{against.name}: health --live", ["-m", "bot", "health", "--live"], against, 1),
        ]
    for _, argv, cwd, expect in runs:  # compile the bytecode; warm the page cache
        _time(argv, cwd, env, expect)
    times: dict[str, list[float]] = {name: [] for name, *_ in runs}
    for _ in range(rounds):
        for name, argv, cwd, expect in runs:
            times[name].append(_time(argv, cwd, env, expect))
    medians = {name: statistics.median(t) for name, t in times.items()}
    base = medians["python -c pass"]
    print(f"start time, median of {rounds} alternating rounds ({sys.executable})")
    for name, median in medians.items():
        ratio = "" if name == "python -c pass" else f"   ({median / base:.1f}x python -c pass)"
        print(f"{name:<34}: {median:6.3f} s{ratio}")
    ours = [medians["python -m bot --help"], medians["python -m bot health --live"]]
    for label, limit in (("must", MUST), ("goal", GOAL)):
        verdict = "met" if max(ours) < limit else "missed"
        print(f"{label}: --help and health --live under {limit:.2f} s: {verdict}")
    if base > IDLE_PASS * 1.5:
        # the limits are absolute; a loaded machine slows every start, not in proportion
        print(
            f"note: python -c pass took {base:.3f} s, not the {IDLE_PASS:.2f} s of an idle "
            "machine: the machine is loaded, so the verdicts above say little; run it again"
        )


if __name__ == "__main__":
    main()

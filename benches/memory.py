"""Memory of a process that opens a 100k store and builds the start-up digest, as `python -m
bot run` does: resident set idle before, at its peak while building, and idle after (before and
after `bot.memory.release_memory`); beside a bare fetch of the rows the old digest read whole
(the undelivered articles), and the old way.

Run: ``.venv/bin/python benches/memory.py [--size 100000] [--keep DIR]`` (about 2 minutes, most
of it building the store in bulk, `benches/bulk_store.py`). Each way runs in a fresh process of
its own. The channel's last digest came before the first article stored, so every article is
in its window (`bot.digest.window_start`) and the digest looks at the most it ever does,
`CANDIDATE_LIMIT`. The goal (issue 17): idle after the digest within 20% of idle before it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GOAL = 1.2
WAYS = ("digest", "old", "bare")


def _status(field: str) -> float:
    """A field of /proc/self/status, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(way: str, path: Path) -> dict[str, float]:
    """In this process: open the store at `path`, then take `way`, and the RSS figures."""
    import bot.app  # noqa: F401  (what `run` has imported before its first digest)
    from benches.bulk_store import bulk_store, whole_window
    from benches.digest_100k import old_digest
    from bot.digest import CANDIDATE_LIMIT, build_digest
    from bot.memory import release_memory
    from bot.models import ChannelRef

    channel = ChannelRef("console", "terminal")
    store, now = bulk_store(path, 0)
    whole_window(store, channel)
    store.count_articles()
    idle = _status("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # the peak from here on
    if way == "digest":
        result: object = build_digest(store, channel, now=now)
    elif way == "old":
        result = old_digest(store, now, channel=channel)
    else:
        result = store.undelivered_articles(channel, limit=CANDIDATE_LIMIT)
    peak = _status("VmHWM")
    del result
    held = _status("VmRSS")
    release_memory(store)
    return {"idle": idle, "peak": peak, "held": held, "after": _status("VmRSS")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="a folder to keep the store in")
    parser.add_argument("--way", choices=WAYS, help=argparse.SUPPRESS)
    parser.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.way:
        print(json.dumps(measure(args.way, args.path)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"digest-{args.size}-7.db"
        from benches.bulk_store import bulk_store

        bulk_store(path, args.size)[0].close()
        figures = {}
        for way in WAYS:
            out = subprocess.run(
                [sys.executable, __file__, "--way", way, "--path", str(path)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            figures[way] = json.loads(out.splitlines()[-1])
    names = {
        "digest": "start-up digest",
        "old": "the old way (all candidates read whole)",
        "bare": "bare fetch of the undelivered rows",
    }
    print(f"resident memory, MB, a store of {args.size:,} articles, each way in a fresh process:")
    for way in WAYS:
        f = figures[way]
        print(
            f"  {names[way]:40} idle {f['idle']:6.1f}  peak {f['peak']:6.1f}"
            f"  after {f['held']:6.1f}, released {f['after']:6.1f}"
            f" ({f['after'] / f['idle']:.2f}x idle)"
        )
    f = figures["digest"]
    met = f["after"] <= GOAL * f["idle"]
    print(
        f"digest: idle after / before {f['after'] / f['idle']:.2f}x, goal <= {GOAL}x:"
        f" {'met' if met else 'NOT met'}; its peak {f['peak'] - f['idle']:.1f} MB over idle,"
        f" the bare fetch's {figures['bare']['peak'] - figures['bare']['idle']:.1f} MB"
    )


if __name__ == "__main__":
    main()

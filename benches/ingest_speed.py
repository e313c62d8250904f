"""Ingest throughput: real news and 10k articles through the real pipeline, beside plain inserts.

Run: ``.venv/bin/python benches/ingest_speed.py [--articles 10000] [--rounds 2]``

Two corpora, each as JSON Lines files of 1,000 records:

- **real news**: every distinct article of ``benches/data`` (2,928: the 1,479 reports of
  ``clusters_dev.jsonl`` with their outlets, dates and links, the BBC articles of
  ``headlines_dev.jsonl``, and the CNN/DM stories of the QA, factuality and summary sets);
- **synthetic**: N generated articles (`benches.synthetic`: many outlets' reports of fewer
  events, 300-600 words each), the 10k of issue 17's figure.

Each is timed, in alternating rounds, in a fresh child process on a fresh database file:

- **project**: ``python -m bot ingest``'s path, `bot.ingest.pipeline.ingest` over the folder into
  a new SQLite store: every article deduplicated, summarised, indexed for search and grouped
  into a story, as a running bot does it;
- **ceiling**: the same records inserted with `sqlite3` into one table and an FTS5 index over
  title and text, in one transaction, with nothing else done: what no ingest can beat.

Printed per side (median of the rounds): articles per second, peak memory (``VmHWM`` of the
child, plus the peak of each summarising worker process it started), and the bytes it wrote
to disk (``write_bytes`` of ``/proc/self/io``: the database, its WAL and their checkpoints),
then the ratios. The project summarises in ``cores - 1`` worker processes
(`bot.ingest.prepare`), so its rate depends on the cores free: a line says how many, and
the CPU each article cost in the ingesting process (storing and grouping) and in the workers
(summarising); the busier of the two bounds the rate.

Issue 17 asks for at least 400 articles/s with a peak of at most 150 MB (goal: 600/s and at
most 200 MB written per 10k).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benches.real_news import real_records  # noqa: E402

PER_FILE = 1_000
MUST_RATE, MUST_PEAK_MB = 400.0, 150.0
GOAL_RATE, GOAL_WRITTEN_MB = 600.0, 200.0


def write_corpus(folder: Path, count: int, seed: int) -> None:
    """`count` synthetic articles as JSON Lines files of `PER_FILE` records in `folder`."""
    from benches.synthetic import make_articles

    out = None
    for n, article in enumerate(make_articles(count, seed=seed)):
        if n % PER_FILE == 0:
            if out is not None:
                out.close()
            out = (folder / f"part-{n // PER_FILE:03d}.jsonl").open("w", encoding="utf-8")
        record = {
            "url": article.url,
            "title": article.title,
            "source": article.source,
            "published": article.published.isoformat() if article.published else None,
            "text": article.text,
        }
        assert out is not None
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    if out is not None:
        out.close()


def write_real_corpus(folder: Path) -> int:
    """Every distinct real article of ``benches/data`` as JSON Lines files; how many."""
    records = real_records()
    for start in range(0, len(records), PER_FILE):
        part = folder / f"part-{start // PER_FILE:03d}.jsonl"
        with part.open("w", encoding="utf-8") as out:
            for record in records[start : start + PER_FILE]:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return len(records)


def _usage() -> dict[str, float]:
    status = Path("/proc/self/status").read_text()
    peak_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
    io = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    return {"peak_mb": peak_kb / 1024, "written_mb": int(io["write_bytes"]) / 1e6}


def child_project(folder: Path, db: Path) -> dict[str, float]:
    import asyncio
    import resource

    from bot.ingest.http import FetchPolicy
    from bot.ingest.pipeline import ingest
    from bot.ingest.prepare import POOL_FROM, default_workers
    from bot.store import Store

    before = _usage()["written_mb"]
    start = time.perf_counter()
    with Store.open(db) as store:
        result = asyncio.run(ingest([str(folder)], store, FetchPolicy(), workers=default_workers()))
    elapsed = time.perf_counter() - start
    if result.failures:
        raise SystemExit(f"ingest failed: {result.failures[:3]}")
    usage = _usage()
    # the summarising workers (bot/ingest/prepare.py) have ended: the biggest one's peak,
    # once per worker, counts beside this process's
    workers = default_workers() if len(result.added) >= POOL_FROM else 0
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "articles": len(result.added),
        "seconds": elapsed,
        "peak_mb": usage["peak_mb"] + workers * children.ru_maxrss / 1024,
        "written_mb": usage["written_mb"] - before,
        "workers": workers,
        # CPU seconds of this process (start-up included) and of the summarising workers
        "cpu": own.ru_utime + own.ru_stime,
        "worker_cpu": children.ru_utime + children.ru_stime,
    }


def child_ceiling(folder: Path, db: Path) -> dict[str, float]:
    import sqlite3

    before = _usage()["written_mb"]
    start = time.perf_counter()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(
        "CREATE TABLE articles (id INTEGER PRIMARY KEY, url TEXT UNIQUE, title TEXT,"
        " source TEXT, published TEXT, text TEXT)"
    )
    conn.execute("CREATE VIRTUAL TABLE articles_fts USING fts5(title, text)")
    added = 0
    conn.execute("BEGIN")
    for path in sorted(folder.glob("*.jsonl")):
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                r = json.loads(line)
                cur = conn.execute(
                    "INSERT INTO articles (url, title, source, published, text)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (r["url"], r.get("title"), r.get("source"), r.get("published"), r["text"]),
                )
                if cur.rowcount:
                    conn.execute(
                        "INSERT INTO articles_fts (rowid, title, text) VALUES (?, ?, ?)",
                        (cur.lastrowid, r.get("title"), r["text"]),
                    )
                    added += 1
    conn.execute("COMMIT")
    conn.close()
    elapsed = time.perf_counter() - start
    usage = _usage()
    return {
        "articles": added,
        "seconds": elapsed,
        "peak_mb": usage["peak_mb"],
        "written_mb": usage["written_mb"] - before,
    }


def run_child(side: str, folder: Path, db: Path) -> dict[str, float]:
    for leftover in db.parent.glob(db.name + "*"):
        leftover.unlink()
    done = subprocess.run(
        [sys.executable, __file__, "--child", side, str(folder), str(db)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{side} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--child", nargs=3, metavar=("SIDE", "FOLDER", "DB"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        side, folder, db = args.child
        run = child_project if side == "project" else child_ceiling
        print(json.dumps(run(Path(folder), Path(db))))
        return

    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
        real = Path(tmp) / "real"
        real.mkdir()
        count = write_real_corpus(real)
        measure(f"real news from benches/data ({count:,} articles)", real, args.rounds, None)
        synthetic = Path(tmp) / "synthetic"
        synthetic.mkdir()
        write_corpus(synthetic, args.articles, args.seed)
        measure(f"{args.articles:,} synthetic articles", synthetic, args.rounds, args.articles)


def measure(label: str, folder: Path, rounds: int, judged: int | None) -> None:
    """Time the project and the ceiling on `folder` in alternating rounds and print the
    figures; `judged`: the corpus issue 17's Must and goal are about (its size)."""
    db = folder.parent / "bench.db"
    runs: dict[str, list[dict[str, float]]] = {"project": [], "ceiling": []}
    for n in range(rounds):
        # alternate which side goes first, so a burst of load does not favour one
        order = ["project", "ceiling"] if n % 2 == 0 else ["ceiling", "project"]
        for side in order:
            runs[side].append(run_child(side, folder, db))
            r = runs[side][-1]
            print(
                f"  round {n + 1} {side:8} {r['articles']:6.0f} articles in {r['seconds']:6.1f} s",
                flush=True,
            )

    def med(side: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[side])

    rate = {s: med(s, "articles") / med(s, "seconds") for s in runs}
    print(f"\ningest of {label} ({rounds} alternating rounds, medians)")
    print(f"{'':28}{'articles/s':>12}{'peak MB':>10}{'written MB':>12}")
    labels = {"project": "project (full pipeline)", "ceiling": "ceiling (SQLite+FTS5 insert)"}
    for side in ("project", "ceiling"):
        print(
            f"{labels[side]:28}{rate[side]:12.0f}{med(side, 'peak_mb'):10.0f}"
            f"{med(side, 'written_mb'):12.0f}"
        )
    per = 1000 / max(med("project", "articles"), 1)
    print(
        f"project summarised in {med('project', 'workers'):.0f} worker process(es);"
        f" CPU per article: {med('project', 'cpu') * per:.2f} ms in the ingesting process,"
        f" {med('project', 'worker_cpu') * per:.2f} ms in the workers"
        " (the busier one bounds the rate)"
    )
    print(
        f"ratio ceiling/project: {rate['ceiling'] / rate['project']:.1f}x the rate,"
        f" {med('project', 'written_mb') / max(med('ceiling', 'written_mb'), 1e-9):.1f}x"
        " the bytes written\n"
    )
    if judged is None:
        return
    per10k = med("project", "written_mb") * 10_000 / max(med("project", "articles"), 1)
    must = rate["project"] >= MUST_RATE and med("project", "peak_mb") <= MUST_PEAK_MB
    goal = rate["project"] >= GOAL_RATE and per10k <= GOAL_WRITTEN_MB
    print(
        f"must (>= {MUST_RATE:.0f}/s, peak <= {MUST_PEAK_MB:.0f} MB):"
        f" {'met' if must else 'MISSED'};"
        f" goal (>= {GOAL_RATE:.0f}/s, <= {GOAL_WRITTEN_MB:.0f} MB written per 10k,"
        f" here {per10k:.0f}): {'met' if goal else 'missed'}"
    )


if __name__ == "__main__":
    main()

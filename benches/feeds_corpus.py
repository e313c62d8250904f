"""Real feeds through the real fetch path: crashes, rejections, captions, dates, encodings, outlets.

Run: ``.venv/bin/python benches/feeds_corpus.py [--baseline REF | --no-baseline] [--only NAME]``

Every feed of ``benches/data/feeds.tar.xz`` (122 files captured from real sites: news outlets,
blogs, podcasts, software projects; see ``benches/data/README.md``) and a few feedparser-style
cases written here (undeclared KOI8-R, windows-1251, EUC-JP and Shift_JIS; UTF-16 and UTF-32;
Hugo's year-1 dates; European month names; photo captions in Media RSS; "Continue reading…";
section titles; entries without a link; an empty feed) is served from a loopback server as
``application/rss+xml``, ``application/xml``, ``text/xml`` and, mislabelled, ``text/html``, and
ingested with ``bot.ingest.pipeline.ingest`` into a fresh SQLite store, exactly as
``python -m bot ingest URL`` does. Teaser pages on the real sites are never fetched (every host
name but 127.0.0.1 resolves to an address the fetch policy refuses), so the run is offline.

The same run ingests the same cases with the code of ``--baseline`` (default ``main``), checked
out in a temporary ``git worktree`` and run in its own process, and prints its figures beside.

Musts: 0 crashes, 0 hangs, 0 captions or furniture stored as the article in the news feeds,
every entry title of the encoding cases decoded right.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benches.feeds_eval import (
    CONTENT_TYPES,
    NEWS_OUTLETS,
    archive_hash,
    load_outcomes,
    real_cases,
    synthetic_cases,
    worker,
)

ROOT = Path(__file__).resolve().parents[1]


class _Worker:
    """One checkout's ingest of every case, in a process of its own (both run at once)."""

    def __init__(self, root: Path, only: list[str]) -> None:
        with tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False) as handle:
            self.out = Path(handle.name)
        self.root = root
        self.start = time.perf_counter()
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", str(root), str(self.out)]
        for name in only:
            cmd += ["--only", name]
        self.process = subprocess.Popen(
            cmd, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )

    def wait(self) -> tuple[list[dict[str, Any]], float]:
        _, err = self.process.communicate()
        elapsed = time.perf_counter() - self.start
        try:
            if self.process.returncode != 0:
                # the whole worker died: that checkout's figures cannot be shown
                print(f"worker for {self.root} exited {self.process.returncode}: {err[-2000:]}")
                return [], elapsed
            return load_outcomes(self.out), elapsed
        finally:
            self.out.unlink(missing_ok=True)


def _baseline_checkout(ref: str, into: Path) -> Path | None:
    try:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(into), ref],
            check=True,
            capture_output=True,
            text=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"no baseline: cannot check out {ref}: {getattr(exc, 'stderr', exc)}")
        return None
    return into


def _figures(outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    real = [o for o in outcomes if not o["case"].startswith(tuple(_SYNTHETIC))]
    news_names = set(NEWS_OUTLETS) | {c.name for c in synthetic_cases() if c.news}
    news = [o for o in outcomes if o["case"] in news_names]
    status = Counter(o["status"] for o in outcomes)
    return {
        "tried": len(outcomes),
        "ingested": status["ok"],
        "rejected": status["rejected"],
        "crashed": status["crashed"],
        "hung": status["hung"],
        "articles": sum(o["articles"] for o in outcomes),
        "zero articles (accepted feeds)": sum(
            1 for o in outcomes if o["status"] == "ok" and not o["articles"]
        ),
        "captions stored as the article (news)": sum(o["captions"] for o in news),
        "furniture in stored text (news)": sum(o["furniture"] for o in news),
        "captions stored as the article (all)": sum(o["captions"] for o in outcomes),
        "furniture in stored text (all)": sum(o["furniture"] for o in outcomes),
        "dates unknown": sum(o["unknown_dates"] for o in outcomes),
        "dates before 1990 or in the future": sum(o["insane_dates"] for o in outcomes),
        "garbled text (mojibake)": sum(o["garbled"] for o in outcomes),
        "encoding cases: titles wrong": sum(o["titles_wrong"] for o in outcomes),
        "bullets": sum(o["bullets"] for o in outcomes),
        "bullets under five words": sum(o["short_bullets"] for o in outcomes),
        "bullets with furniture": sum(o["furniture_bullets"] for o in outcomes),
        "real feeds: articles": sum(o["articles"] for o in real),
        "outlets right (news, first content type)": _outlets_right(outcomes),
    }


_SYNTHETIC = {c.name for c in synthetic_cases()}


def _outlets_right(outcomes: list[dict[str, Any]]) -> str:
    expected = {c.name: c.outlets for c in synthetic_cases() if c.outlets}
    expected.update(NEWS_OUTLETS)
    first = [o for o in outcomes if o["ctype"] == CONTENT_TYPES[0] and o["case"] in expected]
    right = sum(1 for o in first if o["outlets"] and set(o["outlets"]) <= set(expected[o["case"]]))
    return f"{right}/{len(first)}"


def _print_table(now: dict[str, Any], base: dict[str, Any] | None, ref: str) -> None:
    width = max(len(k) for k in now)
    head = f"{'':<{width}}  {'now':>8}"
    if base is not None:
        head += f"  {ref:>8}"
    print(head)
    for key, value in now.items():
        line = f"{key:<{width}}  {value!s:>8}"
        if base is not None:
            line += f"  {base.get(key, '-')!s:>8}"
        print(line)


def _details(outcomes: list[dict[str, Any]], label: str) -> None:
    print(f"\n{label}: rejected, crashed or hung (one line each)")
    shown = 0
    for o in outcomes:
        if o["status"] != "ok":
            print(f"  {o['status']:<8} {o['case'][:40]:<40} {o['ctype']:<20} {o['reason'][:90]}")
            shown += 1
    if not shown:
        print("  none")
    print(f"\n{label}: what the checks flagged (first 3 per case)")
    flagged = 0
    for o in outcomes:
        if o["examples"] and o["ctype"] == CONTENT_TYPES[0]:
            for example in o["examples"][:3]:
                print(f"  {o['case'][:40]:<40} {example[:100]}")
            flagged += 1
    if not flagged:
        print("  none")


def _outlet_sample(outcomes: list[dict[str, Any]], label: str) -> None:
    print(f"\n{label}: outlet names (news feeds and section-titled cases)")
    expected = {c.name: c.outlets for c in synthetic_cases() if c.outlets}
    expected.update(NEWS_OUTLETS)
    for o in outcomes:
        if o["ctype"] == CONTENT_TYPES[0] and o["case"] in expected:
            print(f"  {o['case'][:40]:<40} {', '.join(o['outlets'])[:60]}")


def _deltas(now: list[dict[str, Any]], base: list[dict[str, Any]], ref: str) -> None:
    print(f"\narticles stored, where now and {ref} differ (first content type)")
    before = {o["case"]: o for o in base if o["ctype"] == CONTENT_TYPES[0]}
    shown = 0
    for o in now:
        b = before.get(o["case"])
        if o["ctype"] == CONTENT_TYPES[0] and b is not None and b["articles"] != o["articles"]:
            print(f"  {o['case'][:40]:<40} {b['articles']:>5} -> {o['articles']:<5}")
            shown += 1
    if not shown:
        print("  none")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--baseline", default="main", help="git ref to compare with (main)")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--only", action="append", default=[], help="cases whose name has this")
    parser.add_argument("--worker", nargs=2, metavar=("ROOT", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], args.worker[1], args.only)
        return 0

    cases = real_cases()
    print(
        f"{len(cases)} real feed files ({archive_hash()}), {len(synthetic_cases())} "
        f"feedparser-style cases, each served as {', '.join(CONTENT_TYPES)}"
    )
    base: list[dict[str, Any]] | None = None
    base_seconds = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        current = _Worker(ROOT, args.only)
        checkout = None if args.no_baseline else _baseline_checkout(args.baseline, Path(tmp) / "b")
        try:
            baseline = _Worker(checkout, args.only) if checkout is not None else None
            now, seconds = current.wait()
            if baseline is not None:
                base, base_seconds = baseline.wait()
        finally:
            if checkout is not None:
                subprocess.run(
                    ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(checkout)],
                    capture_output=True,
                )
    now_figures = _figures(now)
    base_figures = _figures(base) if base is not None else None
    print(f"(now: {seconds:.0f} s; {args.baseline}: {base_seconds:.0f} s)\n")
    _print_table(now_figures, base_figures, args.baseline)
    _outlet_sample(now, "now")
    if base is not None:
        _outlet_sample(base, args.baseline)
    if base is not None:
        _deltas(now, base, args.baseline)
    _details(now, "now")
    if base is not None:
        _details(base, args.baseline)
    musts = {
        "0 crashes": now_figures["crashed"] == 0,
        "0 hangs": now_figures["hung"] == 0,
        "0 captions or furniture in news feeds": now_figures[
            "captions stored as the article (news)"
        ]
        + now_figures["furniture in stored text (news)"]
        == 0,
        "every encoding case decoded": now_figures["encoding cases: titles wrong"] == 0,
    }
    print()
    for name, ok in musts.items():
        print(f"MUST {name}: {'met' if ok else 'NOT MET'}")
    return 0 if all(musts.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

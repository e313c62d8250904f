"""Every distinct real article of ``benches/data``, as plain records: the reports of
``clusters_dev.jsonl`` with their outlets, dates and links, and the whole articles of the
headline, QA, factuality and summary sets (2,928 in all).

`benches/ingest_speed.py` ingests them; `benches/ask_quality.py --distractors` stores those the
QA set does not hold beside its articles, as the rest of a real store.
"""

from __future__ import annotations

import json
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"

ARTICLE_SETS = [
    "headlines_dev.jsonl",
    "qa_dev.jsonl",
    "factuality_dev.jsonl",
    "dev.jsonl",
    "summeval.jsonl",
]
"""Sets of whole articles (``article``, some with ``title``) besides the grouping reports."""


def real_records() -> list[dict[str, str | None]]:
    """Each distinct article (by its first 200 characters) once: url, title, source,
    published (ISO date or None) and text."""
    records: list[dict[str, str | None]] = []
    seen: set[str] = set()

    def add(record: dict[str, str | None]) -> None:
        key = str(record["text"])[:200]
        if key not in seen:
            seen.add(key)
            records.append(record)

    with (DATA / "clusters_dev.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            for report in json.loads(line)["articles"]:
                add(
                    {
                        "url": report.get("url") or f"https://eval.invalid/{report['id']}",
                        "title": report.get("title"),
                        "source": report.get("outlet"),
                        "published": report.get("date"),
                        "text": report["text"],
                    }
                )
    for name in ARTICLE_SETS:
        with (DATA / name).open(encoding="utf-8") as lines:
            for line in lines:
                row = json.loads(line)
                key = row.get("article_id") or row["id"]
                add(
                    {
                        "url": f"https://eval.invalid/{key}",
                        "title": row.get("title"),
                        "source": None,
                        "published": None,
                        "text": row["article"],
                    }
                )
    return records

"""Publication dates from sources: parsed in the languages of European news, kept only when
believable, and never a reason for a run to fail.

A date is believable from 1990 (before the web had news feeds: Hugo writes ``Mon, 01 Jan 0001``
for undated posts, databases write the epoch) up to a day after the article was fetched (time
zones; anything later is a typo such as year 9999). An unbelievable date is unknown (None): the
article is then ordered by the time it was first seen, as `bot.cluster.grouping_time` does.

Example:
    published = plausible(parse_date("Seg, 24 Set 2018 19:42:40 -0300"), fetched_at)
"""

from __future__ import annotations

import calendar
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import cache
from typing import Any

log = logging.getLogger(__name__)

__all__ = ["EARLIEST", "from_struct", "parse_date", "plausible"]

#: Dates before this are not publication dates (Hugo's year 1, the Unix epoch).
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
#: How far past the fetch time a date may be (time zones, clocks a little ahead).
AHEAD = timedelta(days=1)
#: Languages whose month and day names dates are read in, when feedparser cannot read them.
LANGUAGES = "en de fr es it pt nl pl cs sk sl hr ro hu sv da nb fi el ru uk tr ca".split()
# dateparser keeps the locale that worked last, which is not safe to share between threads
_PARSER_LOCK = threading.Lock()


def plausible(moment: datetime | None, seen: datetime) -> datetime | None:
    """`moment` as aware UTC if it can be a publication date for something seen at `seen`.

    Args:
        moment: A parsed date (naive ones are taken as UTC).
        seen: When the article was fetched (first seen).

    Returns:
        The date, or None when it is before 1990 or more than a day after `seen`.
    """
    if moment is None:
        return None
    try:
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        aware = aware.astimezone(UTC)
        limit = (seen if seen.tzinfo is not None else seen.replace(tzinfo=UTC)) + AHEAD
    except (OverflowError, ValueError, OSError):
        # year 1 in a zone east of UTC, year 9999 west of it
        return None
    if not EARLIEST <= aware <= limit:
        log.debug("date %s is not believable for something seen at %s", moment, seen)
        return None
    return aware


def from_struct(value: Any) -> datetime | None:
    """An aware UTC datetime from feedparser's UTC ``time.struct_time`` (None if it is not one)."""
    if not isinstance(value, time.struct_time):
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (OverflowError, ValueError, OSError):
        return None


@cache
def _parser() -> Any:
    # imported on first use: dateparser takes half a second to import and a second to load
    # its locales, and most feeds never need it
    from dateparser.date import DateDataParser

    return DateDataParser(
        languages=list(LANGUAGES),
        try_previous_locales=True,
        settings={
            "RETURN_AS_TIMEZONE_AWARE": True,
            "TO_TIMEZONE": "UTC",
            "DATE_ORDER": "DMY",
            # "hier" or "3 days ago" in a date field is not a date to trust; nor a lone month
            "PARSERS": ["absolute-time"],
            "REQUIRE_PARTS": ["day", "month", "year"],
        },
    )


def parse_date(text: str | None) -> datetime | None:
    """Read a date as sources write it: RFC 822, ISO 8601, or in another European language.

    Never raises: a date that cannot be read is None.

    Args:
        text: The date as written ("Seg, 24 Set 2018 19:42:40 -0300", "Di, 05 Mär 2024").

    Returns:
        An aware datetime (UTC when the text has no zone), or None. Not checked for
        plausibility: see `plausible`.
    """
    if not text or not text.strip() or len(text) > 200:
        return None
    value = text.strip()
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        moment = None
    if moment is None:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            moment = None
    if moment is None:
        try:
            with _PARSER_LOCK:
                moment = _parser().get_date_data(value).date_obj
        except Exception as exc:  # dateparser fails in ways of its own; no date is worth a run
            log.debug("could not read date %r: %s: %s", value, type(exc).__name__, exc)
            return None
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

"""Full-text search over article titles and texts, the same on both backends.

A query is a `Match`: all of its groups, each any of its phrases, a phrase one or more words
(``(("ines weber",), ("beat", "defeat"))``: "ines weber" followed, and "beat" or "defeat"). The
store renders it per backend, so no caller writes FTS5 or tsquery syntax:

- SQLite: an FTS5 expression over ``articles_fts`` (``tokenize='porter unicode61'``), ranked by
  ``bm25(articles_fts, 5.0, 1.0)``.
- PostgreSQL: a ``tsvector`` column holding the very tokens FTS5 makes of the article (taken from
  SQLite's own tokenizer, in memory: casefolded, diacritics removed, Porter-stemmed), the title's
  weighted 'A' and the text's 'D', with a GIN index; and the same BM25 computed in SQL from the
  tsvector's positions and weights, each article's token count and the article count. A word's
  counts are also in ``article_postings`` (kept from ``tsv`` by a trigger): a query of single
  words is ranked from its words' postings, or from the GIN index's articles and a probe of
  their postings, whichever is guessed cheaper; a phrase of several words from positions.

Both therefore find the same articles and order them the same way (ties by article id).
Caveat: a tsvector keeps at most 256 positions of a word and none past 16383, so in a very long
article (over ~16000 words) a word's count, and phrases far down, can differ from FTS5's.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Protocol

from bot.errors import StoreError
from bot.models import Article
from bot.store.db import Cursor, Database, Room
from bot.store.rows import A_COLUMNS, to_article
from bot.text import TOKEN

Match = tuple[tuple[str, ...], ...]
"""All of (any of phrases): each inner tuple is one group of alternative phrases."""

# FTS5's bm25() constants, and the column weights newsbrief ranks with (title, text)
K1 = 1.2
B = 0.75
TITLE_WEIGHT = 5.0
TEXT_WEIGHT = 1.0

MAX_POSITION = 16383  # PostgreSQL's largest tsvector position
MAX_POSITIONS = 256  # and how many positions of one lexeme it keeps

# what ranking costs on PostgreSQL, to choose how (`_postings_cheaper`)
WORD_POSTING_US = 2.0
GIN_POSTING_US = 0.5
FOUND_ROW_US = 4.0
PROBE_US = 5.0


class _Tokenizer(threading.local):
    """An in-memory FTS5 table per thread: SQLite's own tokenizer, for PostgreSQL's index."""

    def __init__(self) -> None:
        self.conn = sqlite3.connect(":memory:")
        self.conn.execute(
            "CREATE VIRTUAL TABLE t USING fts5 (title, text, tokenize='porter unicode61')"
        )
        self.conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab (t, 'instance')")


_TOKENIZER = _Tokenizer()


def tokenize(title: str, text: str = "") -> tuple[list[str], list[str]]:
    """The tokens FTS5 indexes of a title and a text, in order (as ``articles_fts`` does)."""
    conn = _TOKENIZER.conn
    conn.execute("INSERT INTO t (rowid, title, text) VALUES (1, ?, ?)", (title, text))
    try:
        rows = conn.execute("SELECT term, col, offset FROM v WHERE doc = 1").fetchall()
    finally:
        conn.execute("DELETE FROM t")
    columns: dict[str, dict[int, str]] = {"title": {}, "text": {}}
    for term, col, offset in rows:
        columns[col][int(offset)] = term
    return (
        [columns["title"][i] for i in sorted(columns["title"])],
        [columns["text"][i] for i in sorted(columns["text"])],
    )


@lru_cache(maxsize=4096)
def phrase_tokens(phrase: str) -> tuple[str, ...]:
    """The tokens of a query phrase, as FTS5 tokenizes it."""
    return tuple(tokenize(phrase)[0])


def normalize(match: Match) -> Match:
    """`match` without phrases that hold no token (FTS5 ignores them) and groups left empty."""
    groups = (tuple(p for p in group if phrase_tokens(p)) for group in match)
    return tuple(g for g in groups if g)


def words_match(query: str) -> Match:
    """Every word of a user's plain query, all required."""
    return tuple((t,) for t in TOKEN.findall(query) if t)


def fts5_expression(match: Match) -> str:
    """`match` (normalized) as an FTS5 expression, each phrase quoted so that ``NEAR``,
    ``OR``, ``*`` and ``"`` in it are taken literally."""
    groups = []
    for group in match:
        phrases = ['"' + p.replace('"', '""') + '"' for p in group]
        groups.append(phrases[0] if len(phrases) == 1 else "(" + " OR ".join(phrases) + ")")
    return " AND ".join(groups)


def _lexeme(token: str) -> str:
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_literal(title: list[str], text: list[str]) -> str:
    """The tokens of an article as a tsvector: title positions from 1 (weight A), text ones
    after a gap (weight D) so no phrase spans the two, as none does in FTS5."""
    positions: dict[str, list[str]] = {}
    for index, token in enumerate(title):
        positions.setdefault(token, []).append(f"{min(index + 1, MAX_POSITION)}A")
    start = len(title) + 2
    for index, token in enumerate(text):
        positions.setdefault(token, []).append(f"{min(start + index, MAX_POSITION)}")
    return " ".join(
        _lexeme(token) + ":" + ",".join(list(dict.fromkeys(marks))[:MAX_POSITIONS])
        for token, marks in positions.items()
    )


def tsquery_literal(match: Match) -> str:
    """`match` (normalized) as a tsquery: ``<->`` within a phrase, ``|`` and ``&``."""
    groups = []
    for group in match:
        phrases = [" <-> ".join(_lexeme(t) for t in phrase_tokens(p)) for p in group]
        groups.append("(" + " | ".join(f"({p})" for p in phrases) + ")")
    return " & ".join(groups)


class SearchRoom(Room):
    """Full-text search; each backend renders a `Match` its own way."""

    def search_articles(self, query: str, limit: int = 20) -> list[Article]:
        """Full-text search over titles and texts (BM25, title weighted), best first.

        `query` is plain words from a user, all required; any punctuation or search syntax in
        it is taken literally and never raises.
        """
        return self.match_articles(words_match(query), limit)

    def count_matching(self, match: Match) -> int:
        """How many articles `match` finds (a term's document frequency when it is one group).

        Raises:
            StoreError: the database cannot be read.
        """
        match = normalize(match)
        return self._count_matching(match) if match else 0

    def match_articles(self, match: Match, limit: int) -> list[Article]:
        """The best `limit` articles for `match`: BM25 with the title weighted 5, ties by id.

        Raises:
            StoreError: the database cannot be read.
        """
        match = normalize(match)
        return self._match_articles(match, limit) if match and limit > 0 else []

    def _count_matching(self, match: Match) -> int:
        raise NotImplementedError

    def _match_articles(self, match: Match, limit: int) -> list[Article]:
        raise NotImplementedError


class Fts5Search(SearchRoom):
    """Search on SQLite's FTS5 table, which triggers keep in step with ``articles``."""

    def _count_matching(self, match: Match) -> int:
        try:
            row = self.db.execute(
                "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH ?",
                (fts5_expression(match),),
            ).fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"search failed: {exc}") from exc
        return int(row[0])

    def _match_articles(self, match: Match, limit: int) -> list[Article]:
        try:
            return self._ranked(match, limit)
        except sqlite3.Error as exc:
            raise StoreError(f"search failed: {exc}") from exc

    def _ranked(self, match: Match, limit: int) -> list[Article]:
        # ranked in a subquery on the index alone, so only the winners' texts are read
        rows = self.db.execute(
            f"SELECT {A_COLUMNS} FROM ("
            " SELECT rowid AS id, bm25(articles_fts, 5.0, 1.0) AS score FROM articles_fts"
            " WHERE articles_fts MATCH ? ORDER BY score, rowid LIMIT ?"
            ") AS hit JOIN articles a ON a.id = hit.id ORDER BY hit.score, hit.id",
            (fts5_expression(match), limit),
        ).fetchall()
        return [to_article(r) for r in rows]


class IndexedDatabase(Database, Protocol):
    """A database that can run a read on its indexes only (`PostgresDatabase`)."""

    def execute_by_index(self, sql: str, params: Sequence[Any] = ()) -> Cursor: ...


class TsvectorSearch(SearchRoom):
    """Search on PostgreSQL's ``articles.tsv``, ranked as FTS5's bm25() ranks."""

    db: IndexedDatabase

    def _index_article(self, db: Database, article_id: int) -> None:
        row = db.execute("SELECT title, text FROM articles WHERE id = ?", (article_id,)).fetchone()
        title, text = tokenize(row["title"], row["text"])
        db.execute(
            "UPDATE articles SET tsv = ?::tsvector, ntokens = ? WHERE id = ?",
            (tsvector_literal(title, text), len(title) + len(text), article_id),
        )

    def _count_matching(self, match: Match) -> int:
        row = self.db.execute_by_index(
            "SELECT count(*) FROM articles WHERE tsv @@ ?::tsquery", (tsquery_literal(match),)
        ).fetchone()
        return int(row[0])

    def _match_articles(self, match: Match, limit: int) -> list[Article]:
        phrases = [p for group in match for p in group]
        stats = self.db.execute(
            "SELECT count(*), coalesce(sum(ntokens), 0) FROM articles"
        ).fetchone()
        rows, tokens = float(stats[0]), float(stats[1])
        if rows == 0:
            return []
        # as fts5_aux.c: IDF per phrase from the rows that phrase alone matches, floored at
        # 1e-6; the average row size over all rows; the same operations in the same order
        idfs = []
        counts: dict[str, int] = {}
        for phrase in phrases:
            counts[phrase] = self._phrase_rows(phrase)
            hits = float(counts[phrase])
            idf = math.log((rows - hits + 0.5) / (hits + 0.5))
            idfs.append(idf if idf > 0.0 else 1e-6)
        avgdl = tokens / rows
        if all(len(phrase_tokens(p)) == 1 for p in phrases) and _postings_cheaper(
            match, counts, rows
        ):
            return self._match_words(match, phrases, idfs, avgdl, limit)
        terms: list[str] = []
        params: list[object] = []
        freqs: list[str] = []
        freq_params: list[object] = []
        for index, (phrase, idf) in enumerate(zip(phrases, idfs, strict=True)):
            sql, args = _frequency(phrase_tokens(phrase))
            freqs.append(f"({sql}) AS f{index}")
            freq_params += args
            terms.append(_term(index, "h.ntokens"))
            params += [idf, K1 + 1.0, K1, 1 - B, B, avgdl]
        score = "(" * len(terms) + "0.0::float8" + "".join(f" + {t})" for t in terms)
        # A word's weighted count is read from its posting (a probe of the postings' key); a
        # phrase of several words needs positions: the matching row's tsvector cut down to
        # those phrases' lexemes (ts_delete of all the others, in C) before any unnest.
        # OFFSET 0 keeps each frequency from being inlined into the score, where it would be
        # computed twice.
        several = [phrase_tokens(p) for p in phrases if len(phrase_tokens(p)) > 1]
        lexemes = sorted({t for tokens in several for t in tokens})
        rows_found = self.db.execute_by_index(
            f"SELECT {A_COLUMNS} FROM ("
            f" SELECT h.id, {score} AS score FROM articles h"
            " CROSS JOIN LATERAL (SELECT ts_delete(h.tsv,"
            " tsvector_to_array(ts_delete(h.tsv, ?::text[]))) AS tsv OFFSET 0) AS k"
            f" CROSS JOIN LATERAL (SELECT {', '.join(freqs)} OFFSET 0) AS f"
            " WHERE h.tsv @@ ?::tsquery ORDER BY score DESC, h.id LIMIT ?"
            ") AS hit JOIN articles a ON a.id = hit.id ORDER BY hit.score DESC, hit.id",
            (*params, lexemes, *freq_params, tsquery_literal(match), limit),
        ).fetchall()
        return [to_article(r) for r in rows_found]

    def _match_words(
        self, match: Match, words: list[str], idfs: list[float], avgdl: float, limit: int
    ) -> list[Article]:
        """`match` when each of its phrases is one word, from the postings of its words alone:
        an article matches when it has a posting of some word of every group, and each word's
        weighted count and the article's token count are in its postings."""
        lexemes = [phrase_tokens(w)[0] for w in words]
        terms: list[str] = []
        params: list[object] = []
        freqs: list[str] = []
        freq_params: list[object] = []
        for index, (lexeme, idf) in enumerate(zip(lexemes, idfs, strict=True)):
            freqs.append(
                "coalesce(sum(p.tf_title * ?::float8 + p.tf_text * ?::float8)"
                f" FILTER (WHERE p.lexeme = ?), 0.0) AS f{index}"
            )
            freq_params += [TITLE_WEIGHT, TEXT_WEIGHT, lexeme]
            terms.append(_term(index, "f.ntokens"))
            params += [idf, K1 + 1.0, K1, 1 - B, B, avgdl]
        score = "(" * len(terms) + "0.0::float8" + "".join(f" + {t})" for t in terms)
        every = " AND ".join("bool_or(p.lexeme = ANY (?::text[]))" for _ in match)
        groups = [sorted({phrase_tokens(w)[0] for w in group}) for group in match]
        rows_found = self.db.execute_by_index(
            f"SELECT {A_COLUMNS} FROM ("
            f" SELECT f.id, {score} AS score FROM ("
            f" SELECT p.article_id AS id, max(p.ntokens) AS ntokens, {', '.join(freqs)}"
            " FROM article_postings p WHERE p.lexeme = ANY (?::text[])"
            f" GROUP BY p.article_id HAVING {every}) AS f"
            " ORDER BY score DESC, f.id LIMIT ?"
            ") AS hit JOIN articles a ON a.id = hit.id ORDER BY hit.score DESC, hit.id",
            (*params, *freq_params, sorted(set(lexemes)), *groups, limit),
        ).fetchall()
        return [to_article(r) for r in rows_found]

    def _phrase_rows(self, phrase: str) -> int:
        """How many articles hold `phrase`: for one word, its postings."""
        tokens = phrase_tokens(phrase)
        if len(tokens) > 1:
            return self._count_matching(((phrase,),))
        row = self.db.execute(
            "SELECT count(*) FROM article_postings WHERE lexeme = ?", (tokens[0],)
        ).fetchone()
        return int(row[0])


def _postings_cheaper(match: Match, counts: dict[str, int], rows: float) -> bool:
    """Whether reading every posting of a match's words costs less than finding the articles
    through the GIN index and probing each one's postings.

    The articles found are guessed from the smallest group's, times the square root of the
    share of the articles each other group holds (the words of a question go together more
    often than by chance). Costs measured at 100k articles: a posting read and grouped about
    2 µs (and a tenth more per phrase); the GIN index about 0.5 µs a posting, and 4 µs an
    article found plus 5 µs per phrase probed in it.
    """
    sizes = sorted(min(float(sum(counts[p] for p in group)), rows) for group in match)
    found = sizes[0]
    for size in sizes[1:]:
        found *= math.sqrt(size / rows)
    postings = float(sum(counts.values()))
    phrases = sum(len(group) for group in match)
    words = WORD_POSTING_US * postings * (1.0 + 0.1 * phrases)
    probes = GIN_POSTING_US * postings + found * (FOUND_ROW_US + PROBE_US * phrases)
    return words < probes


def _term(index: int, ntokens: str) -> str:
    """Phrase `index`'s BM25 term of the score, from its weighted count ``f.f<index>``: its
    parameters are the IDF, k1 + 1, k1, 1 - b, b and the average row size."""
    return (
        f"?::float8 * (f.f{index} * ?::float8 / (f.f{index} + ?::float8"
        f" * (?::float8 + ?::float8 * {ntokens} / ?::float8)))"
    )


def _frequency(tokens: Sequence[str]) -> tuple[str, list[object]]:
    """SQL for a phrase's weighted count in article ``h`` (5 per title instance, 1 per text
    one), and its parameters. One word: its posting's counts (none: 0). Several: in the cut
    tsvector ``k``, each position of the first word followed by the others in turn."""
    if len(tokens) == 1:
        sql = (
            "SELECT coalesce((SELECT p.tf_title * ?::float8 + p.tf_text * ?::float8"
            " FROM article_postings p WHERE p.lexeme = ? AND p.article_id = h.id), 0.0)"
        )
        return sql, [TITLE_WEIGHT, TEXT_WEIGHT, tokens[0]]
    follow = "".join(
        " AND EXISTS (SELECT 1 FROM unnest(k.tsv) AS n WHERE n.lexeme = ?"
        f" AND x.p + {offset} = ANY (n.positions))"
        for offset in range(1, len(tokens))
    )
    sql = (
        "SELECT coalesce(sum(CASE WHEN x.w = 'A' THEN ?::float8 ELSE ?::float8 END), 0.0)"
        " FROM unnest(k.tsv) AS u, unnest(u.positions, u.weights) AS x (p, w)"
        f" WHERE u.lexeme = ?{follow}"
    )
    return sql, [TITLE_WEIGHT, TEXT_WEIGHT, tokens[0], *tokens[1:]]

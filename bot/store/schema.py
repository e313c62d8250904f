"""Versioned schemas, one list of migrations per backend.

Each entry moves the schema one version forward; never edit a released one, append. SQLite
records its version in ``PRAGMA user_version``; PostgreSQL in the one-row table
``schema_version``, and migrates under an advisory lock so replicas starting together take
turns (`bot.store.postgres`).
"""

from __future__ import annotations

SQLITE_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE articles (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL UNIQUE,
        content_hash TEXT NOT NULL UNIQUE,
        title TEXT NOT NULL,
        source TEXT NOT NULL,
        text TEXT NOT NULL,
        published TEXT,
        fetched_at TEXT NOT NULL,
        language TEXT,
        origin TEXT,
        story_id INTEGER
    );
    CREATE INDEX articles_recent ON articles (coalesce(published, fetched_at) DESC);
    CREATE INDEX articles_story ON articles (story_id);
    CREATE INDEX articles_origin ON articles (origin);
    CREATE VIRTUAL TABLE articles_fts USING fts5 (
        title, text, content='articles', content_rowid='id', tokenize='porter unicode61'
    );
    CREATE TRIGGER articles_ai AFTER INSERT ON articles BEGIN
        INSERT INTO articles_fts (rowid, title, text) VALUES (new.id, new.title, new.text);
    END;
    CREATE TRIGGER articles_ad AFTER DELETE ON articles BEGIN
        INSERT INTO articles_fts (articles_fts, rowid, title, text)
        VALUES ('delete', old.id, old.title, old.text);
    END;
    CREATE TRIGGER articles_au AFTER UPDATE OF title, text ON articles BEGIN
        INSERT INTO articles_fts (articles_fts, rowid, title, text)
        VALUES ('delete', old.id, old.title, old.text);
        INSERT INTO articles_fts (rowid, title, text) VALUES (new.id, new.title, new.text);
    END;
    CREATE TABLE briefings (
        article_id INTEGER PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
        headline TEXT NOT NULL,
        bullets TEXT NOT NULL
    );
    CREATE TABLE feeds (
        url TEXT PRIMARY KEY,
        title TEXT,
        etag TEXT,
        last_modified TEXT,
        last_polled TEXT,
        last_ok TEXT,
        error_count INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        next_poll TEXT
    );
    CREATE TABLE subscriptions (
        id INTEGER PRIMARY KEY,
        platform TEXT NOT NULL,
        channel TEXT NOT NULL,
        source TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (platform, channel, source)
    );
    CREATE TABLE deliveries (
        platform TEXT NOT NULL,
        channel TEXT NOT NULL,
        article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
        delivered_at TEXT NOT NULL,
        PRIMARY KEY (platform, channel, article_id)
    ) WITHOUT ROWID;
    -- story grouping (version 1: MinHash bands; replaced in version 2)
    CREATE TABLE article_signatures (
        article_id INTEGER PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
        day TEXT NOT NULL,
        features TEXT NOT NULL,
        minhash BLOB NOT NULL
    );
    CREATE TABLE story_bands (
        band_key INTEGER NOT NULL,
        day TEXT NOT NULL,
        article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
        PRIMARY KEY (band_key, day, article_id)
    ) WITHOUT ROWID;
    -- how many grouped articles of each day have a term, and how many were grouped that day:
    -- the document frequencies of story grouping; old days are pruned
    CREATE TABLE feature_counts (
        feature TEXT NOT NULL,
        day TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (feature, day)
    ) WITHOUT ROWID;
    CREATE TABLE signature_days (
        day TEXT PRIMARY KEY,
        articles INTEGER NOT NULL
    ) WITHOUT ROWID;
    -- per-channel settings: digest schedule, keyword filter, and whether the platform still
    -- lets us post there
    CREATE TABLE channels (
        platform TEXT NOT NULL,
        channel TEXT NOT NULL,
        digest_time TEXT,
        timezone TEXT NOT NULL DEFAULT 'UTC',
        filter TEXT,
        enabled INTEGER NOT NULL DEFAULT 1,
        disabled_reason TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (platform, channel)
    );
    -- one row per channel and digest slot, claimed before sending: the unique key is what
    -- makes a digest go out once even with two processes or a restart
    CREATE TABLE digest_runs (
        platform TEXT NOT NULL,
        channel TEXT NOT NULL,
        slot TEXT NOT NULL,
        article_ids TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('claimed', 'sent', 'failed')),
        claimed_at TEXT NOT NULL,
        sent_at TEXT,
        attempts INTEGER NOT NULL DEFAULT 1,
        error TEXT,
        PRIMARY KEY (platform, channel, slot)
    );
    """,
    # 2: story grouping compares TF-IDF vectors with story centroids (bot/cluster.py) instead
    # of MinHash bands. Signatures, bands and counts are derived data: they are dropped, and
    # stories formed before keep their ids but take no new reports.
    """
    DROP TABLE story_bands;
    DROP TABLE article_signatures;
    DELETE FROM feature_counts;
    DELETE FROM signature_days;
    -- each grouped article's terms (for the per-day document counts) and the UTC day it is
    -- filed under (of its published time, else its fetch time)
    CREATE TABLE article_terms (
        article_id INTEGER PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
        day TEXT NOT NULL,
        terms TEXT NOT NULL
    );
    -- a story's time span, size and centroid (the sum of its members' unit TF-IDF vectors,
    -- heaviest terms only, as JSON); its id is the id of its first article
    CREATE TABLE stories (
        id INTEGER PRIMARY KEY,
        first_at TEXT NOT NULL,
        last_at TEXT NOT NULL,
        size INTEGER NOT NULL,
        centroid TEXT NOT NULL
    );
    CREATE INDEX stories_last ON stories (last_at);
    -- the candidate index: each member's heaviest terms under its story, by the member's day,
    -- so a lookup reads only the rows of the days within the grouping window
    CREATE TABLE story_postings (
        term TEXT NOT NULL,
        day TEXT NOT NULL,
        story_id INTEGER NOT NULL,
        PRIMARY KEY (term, day, story_id)
    ) WITHOUT ROWID;
    """,
    # 3: article revisions and what each channel was shown (bot/updates.py)
    """
    -- revisions: a source that changes an article under the same link updates it in place
    -- (`revision` counts the changes) and each replaced version is kept in article_revisions.
    -- `entry_hash` is a hash of the text as the source gave it (a feed entry before its teaser
    -- was completed from the page), so a poll tells a changed entry without fetching the page;
    -- NULL for articles stored before this version, whose next poll is taken as the baseline
    ALTER TABLE articles ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE articles ADD COLUMN entry_hash TEXT;
    ALTER TABLE articles ADD COLUMN update_marker INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX articles_revised ON articles (id) WHERE revision > 0;
    CREATE TABLE article_revisions (
        article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
        revision INTEGER NOT NULL,
        title TEXT NOT NULL,
        text TEXT NOT NULL,
        replaced_at TEXT NOT NULL,
        PRIMARY KEY (article_id, revision)
    ) WITHOUT ROWID;
    -- what each channel was shown, written with its deliveries: per article the revision and
    -- the story it was shown in, per story the outlets and bullet texts; a story it was sent
    -- comes back only with something new to it (bot/updates.py)
    CREATE TABLE article_views (
        platform TEXT NOT NULL,
        channel TEXT NOT NULL,
        article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
        revision INTEGER NOT NULL,
        story_id INTEGER NOT NULL,
        PRIMARY KEY (platform, channel, article_id)
    ) WITHOUT ROWID;
    CREATE TABLE story_views (
        platform TEXT NOT NULL,
        channel TEXT NOT NULL,
        story_id INTEGER NOT NULL,
        outlets TEXT NOT NULL,
        bullets TEXT NOT NULL,
        shown_at TEXT NOT NULL,
        PRIMARY KEY (platform, channel, story_id)
    ) WITHOUT ROWID;
    """,
    # 4: an article without a named outlet has source "" (shown by its file name or host and
    # counted as a report, not a source); files stored before were all called "Local file"
    """
    UPDATE articles SET source = '' WHERE source = 'Local file';
    """,
    # 5: exactly-once per message (bot/delivery.py): a run's parts are planned, and each one
    # recorded when the platform accepts it; claims are leased by a process and renewed while
    # it sends; failed runs wait for their next attempt; failures people were told about
    """
    -- digest_runs gains an id (parts refer to it), a lease, a retry time and what to record
    -- when it completes; rebuilt because its status CHECK gains 'abandoned'
    CREATE TABLE digest_runs_5 (
        id INTEGER PRIMARY KEY,
        platform TEXT NOT NULL,
        channel TEXT NOT NULL,
        slot TEXT NOT NULL,
        article_ids TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('claimed', 'sent', 'failed', 'abandoned')),
        claimed_at TEXT NOT NULL,
        sent_at TEXT,
        attempts INTEGER NOT NULL DEFAULT 1,
        error TEXT,
        -- when the digest was due: retries stop digest.missed_grace after it
        due_at TEXT NOT NULL,
        -- the process sending it, and until when its claim holds unless renewed
        owner TEXT,
        lease_until TEXT,
        -- a failed run's next retry, and its first failure
        next_attempt TEXT,
        failed_since TEXT,
        -- the articles and story views to record as delivered once every part is sent (JSON)
        shown TEXT,
        parts INTEGER NOT NULL DEFAULT 0,
        parts_sent INTEGER NOT NULL DEFAULT 0,
        UNIQUE (platform, channel, slot)
    );
    -- claims of earlier versions: a 'claimed' one has no lease (taken over at once), a failed
    -- one is due for a retry now
    INSERT INTO digest_runs_5 (platform, channel, slot, article_ids, status, claimed_at, sent_at,
        attempts, error, due_at, next_attempt)
    SELECT platform, channel, slot, article_ids, status, claimed_at, sent_at, attempts, error,
        claimed_at, CASE WHEN status = 'failed' THEN claimed_at END
    FROM digest_runs;
    DROP TABLE digest_runs;
    ALTER TABLE digest_runs_5 RENAME TO digest_runs;
    CREATE INDEX digest_runs_open ON digest_runs (status) WHERE status IN ('claimed', 'failed');
    -- each message of a run: planned (payload as rendered), sending (it may have landed:
    -- look before sending again), or sent (the platform's message id or ts)
    CREATE TABLE digest_parts (
        run_id INTEGER NOT NULL REFERENCES digest_runs (id) ON DELETE CASCADE,
        part INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('planned', 'sending', 'sent')),
        payload TEXT,
        message_id TEXT,
        attempted_at TEXT,
        sent_at TEXT,
        PRIMARY KEY (run_id, part)
    ) WITHOUT ROWID;
    -- consecutive failures of a feed ('feed', its URL) or of a channel's digests ('digest',
    -- 'platform:channel'), and when people were told, so they are told once, and once more
    -- when it recovers
    CREATE TABLE alerts (
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        failures INTEGER NOT NULL DEFAULT 0,
        since TEXT,
        last_error TEXT,
        notified_at TEXT,
        recovered_at TEXT,
        PRIMARY KEY (kind, subject)
    );
    -- one row a write probe rewrites: a committed write needs room on the disk and a writable
    -- file, which a rolled-back one does not show
    CREATE TABLE write_probe (id INTEGER PRIMARY KEY CHECK (id = 1), at TEXT NOT NULL);
    """,
    # 6: how many articles a feed's last poll found (0: a working feed with nothing to read,
    # which /sources says); and dates no article can have (Hugo's year 1, the epoch, year
    # 9999) are unknown, as ingest now stores them: such articles order by when first seen
    """
    ALTER TABLE feeds ADD COLUMN entries INTEGER;
    UPDATE articles SET published = NULL
    WHERE published < '1990-01-01' OR julianday(published) > julianday(fetched_at) + 1;
    """,
    # 7: an optional language model (bot/summarize/llm.py): its checked results, keyed by the
    # model and a hash of the request, so a digest, its retry and /brief pay once; and what it
    # cost and did each day (`python -m bot stats`)
    """
    CREATE TABLE llm_cache (
        model TEXT NOT NULL,
        prompt_hash TEXT NOT NULL,
        result TEXT NOT NULL,
        tokens INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (model, prompt_hash)
    ) WITHOUT ROWID;
    CREATE TABLE llm_usage (
        day TEXT NOT NULL,
        model TEXT NOT NULL,
        requests INTEGER NOT NULL DEFAULT 0,
        prompt_tokens INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        cache_hits INTEGER NOT NULL DEFAULT 0,
        written INTEGER NOT NULL DEFAULT 0,
        fallbacks INTEGER NOT NULL DEFAULT 0,
        rejected INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (day, model)
    ) WITHOUT ROWID;
    """,
    # 8: feed claims, so several replicas poll each due feed once between them
    """
    CREATE TABLE feed_claims (
        url TEXT PRIMARY KEY,
        owner TEXT NOT NULL DEFAULT '',
        until TEXT NOT NULL DEFAULT ''
    ) WITHOUT ROWID;
    """,
    # 9: a digest ranks its candidate stories from two covering indexes and reads no article
    # row (the columns it needs lie after the text in a row, so reading one reads the text):
    # the articles newest first (NEWEST_FIRST, in bot/store/articles.py) with their story and
    # origin, and each story's members' outlets, times and text lengths (`story_outlines`).
    # Each holds the index it replaces as its first columns.
    """
    DROP INDEX articles_recent;
    DROP INDEX articles_story;
    CREATE INDEX articles_newest ON articles
        (coalesce(published, fetched_at) DESC, length(text) DESC, id, story_id, origin);
    CREATE INDEX articles_outline ON articles (
        story_id, coalesce(nullif(source, ''), nullif(origin, ''), url),
        coalesce(published, fetched_at), length(text)
    );
    """,
    # 10: a digest's candidates are the articles fetched since the channel's last digest (or
    # in the last day): the window read from one covering index, with what ranking and the
    # filters need, however many articles are stored (`bot.store.channels.undelivered_window`)
    """
    CREATE INDEX articles_fetched ON articles
        (fetched_at, coalesce(published, fetched_at), length(text), story_id, origin);
    """,
)

# PostgreSQL starts at SQLite's schema of version 7, in one script. Text columns compare as
# bytes (COLLATE "C", as SQLite's BINARY), so both backends sort names and dates alike. Search:
# `tsv` holds FTS5's tokens of the title (weight A) and text (weight D), `ntokens` how many.
_POSTGRES_1 = """
CREATE TABLE articles (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,
    content_hash TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    source TEXT NOT NULL,
    text TEXT NOT NULL,
    published TEXT,
    fetched_at TEXT NOT NULL,
    language TEXT,
    origin TEXT,
    story_id BIGINT,
    revision INTEGER NOT NULL DEFAULT 0,
    entry_hash TEXT,
    update_marker INTEGER NOT NULL DEFAULT 0,
    tsv TSVECTOR NOT NULL DEFAULT ''::tsvector,
    ntokens INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX articles_recent ON articles ((coalesce(published, fetched_at)) DESC);
CREATE INDEX articles_story ON articles (story_id);
CREATE INDEX articles_origin ON articles (origin);
CREATE INDEX articles_revised ON articles (id) WHERE revision > 0;
CREATE INDEX articles_search ON articles USING GIN (tsv);
CREATE INDEX articles_tokens ON articles (ntokens);
CREATE TABLE article_revisions (
    article_id BIGINT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    revision INTEGER NOT NULL,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    replaced_at TEXT NOT NULL,
    PRIMARY KEY (article_id, revision)
);
CREATE TABLE briefings (
    article_id BIGINT PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
    headline TEXT NOT NULL,
    bullets TEXT NOT NULL
);
CREATE TABLE feeds (
    url TEXT PRIMARY KEY,
    title TEXT,
    etag TEXT,
    last_modified TEXT,
    last_polled TEXT,
    last_ok TEXT,
    error_count INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    next_poll TEXT,
    entries INTEGER
);
CREATE TABLE subscriptions (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    platform TEXT NOT NULL,
    channel TEXT NOT NULL,
    source TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (platform, channel, source)
);
CREATE TABLE deliveries (
    platform TEXT NOT NULL,
    channel TEXT NOT NULL,
    article_id BIGINT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    delivered_at TEXT NOT NULL,
    PRIMARY KEY (platform, channel, article_id)
);
CREATE TABLE feature_counts (
    feature TEXT NOT NULL,
    day TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (feature, day)
);
CREATE TABLE signature_days (
    day TEXT PRIMARY KEY,
    articles INTEGER NOT NULL
);
CREATE TABLE article_terms (
    article_id BIGINT PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
    day TEXT NOT NULL,
    terms TEXT NOT NULL
);
CREATE TABLE stories (
    id BIGINT PRIMARY KEY,
    first_at TEXT NOT NULL,
    last_at TEXT NOT NULL,
    size INTEGER NOT NULL,
    centroid TEXT NOT NULL
);
CREATE INDEX stories_last ON stories (last_at);
CREATE TABLE story_postings (
    term TEXT NOT NULL,
    day TEXT NOT NULL,
    story_id BIGINT NOT NULL,
    PRIMARY KEY (term, day, story_id)
);
CREATE TABLE article_views (
    platform TEXT NOT NULL,
    channel TEXT NOT NULL,
    article_id BIGINT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    revision INTEGER NOT NULL,
    story_id BIGINT NOT NULL,
    PRIMARY KEY (platform, channel, article_id)
);
CREATE TABLE story_views (
    platform TEXT NOT NULL,
    channel TEXT NOT NULL,
    story_id BIGINT NOT NULL,
    outlets TEXT NOT NULL,
    bullets TEXT NOT NULL,
    shown_at TEXT NOT NULL,
    PRIMARY KEY (platform, channel, story_id)
);
CREATE TABLE channels (
    platform TEXT NOT NULL,
    channel TEXT NOT NULL,
    digest_time TEXT,
    timezone TEXT NOT NULL DEFAULT 'UTC',
    filter TEXT,
    enabled INTEGER NOT NULL DEFAULT 1,
    disabled_reason TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (platform, channel)
);
CREATE TABLE digest_runs (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    platform TEXT NOT NULL,
    channel TEXT NOT NULL,
    slot TEXT NOT NULL,
    article_ids TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('claimed', 'sent', 'failed', 'abandoned')),
    claimed_at TEXT NOT NULL,
    sent_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 1,
    error TEXT,
    due_at TEXT NOT NULL,
    owner TEXT,
    lease_until TEXT,
    next_attempt TEXT,
    failed_since TEXT,
    shown TEXT,
    parts INTEGER NOT NULL DEFAULT 0,
    parts_sent INTEGER NOT NULL DEFAULT 0,
    UNIQUE (platform, channel, slot)
);
CREATE INDEX digest_runs_open ON digest_runs (status) WHERE status IN ('claimed', 'failed');
CREATE TABLE digest_parts (
    run_id BIGINT NOT NULL REFERENCES digest_runs (id) ON DELETE CASCADE,
    part INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('planned', 'sending', 'sent')),
    payload TEXT,
    message_id TEXT,
    attempted_at TEXT,
    sent_at TEXT,
    PRIMARY KEY (run_id, part)
);
CREATE TABLE alerts (
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0,
    since TEXT,
    last_error TEXT,
    notified_at TEXT,
    recovered_at TEXT,
    PRIMARY KEY (kind, subject)
);
CREATE TABLE write_probe (id INTEGER PRIMARY KEY CHECK (id = 1), at TEXT NOT NULL);
CREATE TABLE llm_cache (
    model TEXT NOT NULL,
    prompt_hash TEXT NOT NULL,
    result TEXT NOT NULL,
    tokens INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (model, prompt_hash)
);
CREATE TABLE llm_usage (
    day TEXT NOT NULL,
    model TEXT NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cache_hits INTEGER NOT NULL DEFAULT 0,
    written INTEGER NOT NULL DEFAULT 0,
    fallbacks INTEGER NOT NULL DEFAULT 0,
    rejected INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, model)
);
""".replace(" TEXT", ' TEXT COLLATE "C"')

# 2 (SQLite's 8): feed claims
_POSTGRES_2 = """
CREATE TABLE feed_claims (
    url TEXT COLLATE "C" PRIMARY KEY,
    owner TEXT COLLATE "C" NOT NULL DEFAULT '',
    until TEXT COLLATE "C" NOT NULL DEFAULT ''
);
"""

# 3: search postings, so ranking reads a few index entries per matching article instead of
# unpacking its whole tsvector: per article and lexeme of its `tsv`, how many of the lexeme's
# positions are in the title (weight A) and in the text, as `TsvectorSearch` counts them, and
# the article's `ntokens` (so a query of single words is ranked from the postings alone).
# Derived from `tsv` alone by a trigger, so every writer of `tsv` (the store, the migration from
# SQLite, the benches) keeps them, and a deleted article takes its postings along (looked up by
# their key, through the old `tsv`: no foreign key, whose check per posting would double the cost
# of writing them). The backfill builds them from the `tsv` of every stored article, the key
# after the rows (one sort instead of 20M index inserts at 100k articles).
_POSTGRES_3 = """
CREATE TABLE article_postings (
    article_id BIGINT NOT NULL,
    tf_title INTEGER NOT NULL,
    tf_text INTEGER NOT NULL,
    ntokens INTEGER NOT NULL,
    lexeme TEXT COLLATE "C" NOT NULL
);
CREATE FUNCTION article_postings_of(of_id BIGINT, of_tsv TSVECTOR, of_ntokens INTEGER)
RETURNS TABLE (
    article_id BIGINT, tf_title INTEGER, tf_text INTEGER, ntokens INTEGER, lexeme TEXT
)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT of_id, count(*) FILTER (WHERE x.w = 'A')::int,
        count(*) FILTER (WHERE x.w <> 'A')::int, of_ntokens, u.lexeme
    FROM unnest(of_tsv) AS u LEFT JOIN LATERAL unnest(u.positions, u.weights) AS x (p, w) ON true
    GROUP BY u.lexeme
$$;
CREATE FUNCTION article_postings_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        DELETE FROM article_postings
        WHERE lexeme = ANY (tsvector_to_array(OLD.tsv)) AND article_id = OLD.id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO article_postings (article_id, tf_title, tf_text, ntokens, lexeme)
        SELECT * FROM article_postings_of(NEW.id, NEW.tsv, NEW.ntokens);
    END IF;
    RETURN NULL;
END
$$;
SET LOCAL maintenance_work_mem = '256MB';
INSERT INTO article_postings (article_id, tf_title, tf_text, ntokens, lexeme)
SELECT p.* FROM articles a CROSS JOIN LATERAL article_postings_of(a.id, a.tsv, a.ntokens) AS p;
ALTER TABLE article_postings
    ADD PRIMARY KEY (lexeme, article_id) INCLUDE (tf_title, tf_text, ntokens);
CREATE TRIGGER articles_postings AFTER INSERT OR DELETE OR UPDATE OF id, tsv, ntokens ON articles
FOR EACH ROW EXECUTE FUNCTION article_postings_keep();
ANALYZE article_postings;
"""

# 4: the articles newest first, as a digest and /brief order them (NEWEST_FIRST): the
# longer text first among reports of one time, without reading every text to sort them
_POSTGRES_4 = """
DROP INDEX articles_recent;
CREATE INDEX articles_newest ON articles
    ((coalesce(published, fetched_at)) DESC, (length(text)) DESC, id) INCLUDE (story_id, origin);
"""

# 5 (SQLite's 10): the articles by fetch time, the window a digest takes its candidates from
_POSTGRES_5 = """
CREATE INDEX articles_fetched ON articles (fetched_at) INCLUDE (published, story_id, origin);
"""

POSTGRES_MIGRATIONS: tuple[str, ...] = (
    _POSTGRES_1,
    _POSTGRES_2,
    _POSTGRES_3,
    _POSTGRES_4,
    _POSTGRES_5,
)

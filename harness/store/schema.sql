-- The run store. Portable SQL: plain types, no SQLite-only syntax, so the same statements can
-- serve a shared PostgreSQL store. Times are ISO 8601 text in UTC ("...+00:00").

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- The plan: one row per probe, written when the run is created (a repeating schedule's is
-- extended as the run goes on, never changed).
CREATE TABLE probes (
    probe_id     TEXT PRIMARY KEY,
    seq          INTEGER NOT NULL,
    persona      TEXT NOT NULL,
    brand        TEXT NOT NULL,
    industry     TEXT NOT NULL,
    channel      TEXT NOT NULL,
    category     TEXT NOT NULL,
    mention      TEXT NOT NULL,
    week         INTEGER NOT NULL,
    day          INTEGER NOT NULL,
    scheduled_at TEXT NOT NULL,
    text         TEXT NOT NULL,
    follow_ups   TEXT NOT NULL,  -- JSON list of {"delay_s": int, "text": str}
    closed_at    TEXT           -- when its observation window ended
);

-- Every send attempt. A row is written as 'intended' before the platform is called and
-- updated to 'sent' (or 'failed') after, so a crash in between leaves a trace to reconcile.
CREATE TABLE sends (
    probe_id    TEXT NOT NULL REFERENCES probes (probe_id),
    step        INTEGER NOT NULL,  -- 0 = the probe's message, 1.. = follow-ups
    attempt     INTEGER NOT NULL,
    state       TEXT NOT NULL,     -- intended | sent | failed | not_sent | uncertain
    intended_at TEXT NOT NULL,
    sent_at     TEXT,              -- the platform's timestamp of the post
    platform_id TEXT,
    in_reply_to TEXT,
    text        TEXT NOT NULL,
    error       TEXT,              -- what happened, in words (for people)
    retry_at    TEXT,              -- for a failed attempt worth retrying: not before this
    reason      TEXT,              -- why it was not sent (records.Reason), since schema 3
    PRIMARY KEY (probe_id, step, attempt)
);
CREATE INDEX sends_by_platform_id ON sends (platform_id);

-- Everything that came back, matched to a probe where possible.
CREATE TABLE replies (
    channel     TEXT NOT NULL,
    platform_id TEXT NOT NULL,
    probe_id    TEXT,              -- NULL when it matched no probe
    step        INTEGER,           -- the step it answered
    matched_by  TEXT NOT NULL,     -- in_reply_to | conversation | recent_probe | none
    author      TEXT NOT NULL,
    from_brand  INTEGER NOT NULL,  -- 1 if the author is one of the brand's official handles
    kind        TEXT NOT NULL,     -- public_reply | direct_message | email | other
    automated   INTEGER NOT NULL,
    text        TEXT NOT NULL,
    created_at  TEXT NOT NULL,     -- the platform's timestamp
    received_at TEXT NOT NULL,     -- when we polled it (never used for latency)
    in_reply_to TEXT,
    raw         TEXT NOT NULL,     -- the payload as the platform sent it (JSON)
    PRIMARY KEY (channel, platform_id)
);
CREATE INDEX replies_by_probe ON replies (probe_id);

-- Where each channel's polling got to. Updated in the same transaction as the replies.
CREATE TABLE cursors (
    channel   TEXT PRIMARY KEY,
    cursor    TEXT,
    polled_at TEXT NOT NULL
);

-- How each channel is doing: its current run of consecutive failures (0 when the last poll or
-- send worked), since when, the last error, and every failure so far. Added in schema 2.
CREATE TABLE channel_health (
    channel        TEXT PRIMARY KEY,
    failures       INTEGER NOT NULL,  -- consecutive failures, 0 after a success
    since          TEXT,              -- first failure of the current run of failures
    last_error     TEXT,
    total_failures INTEGER NOT NULL,
    updated_at     TEXT NOT NULL
);

-- Alerts (schema 4): per objective and brand, what was last judged and what was announced, so
-- that a restart announces nothing twice (harness.monitor decides, harness.store.alerts reads
-- and writes). (No semicolons in comments: statements are split at them.)
CREATE TABLE alert_state (
    objective        TEXT NOT NULL,
    brand            TEXT NOT NULL,
    state            TEXT NOT NULL,  -- unknown | ok | failing: as last judged
    since            TEXT,           -- when that state was first judged
    breach_since     TEXT,           -- start of the breach announced (NULL: none announced)
    last_notified_at TEXT,           -- when the breach notice or the latest reminder was due
    checked_at       TEXT NOT NULL,  -- the moment last judged (the run's clock)
    PRIMARY KEY (objective, brand)
);

-- Every notification decided, delivered or not: each destination is sent it once.
CREATE TABLE notifications (
    id           INTEGER PRIMARY KEY,
    objective    TEXT NOT NULL,
    brand        TEXT NOT NULL,
    kind         TEXT NOT NULL,  -- breach | recovery | reminder
    at           TEXT NOT NULL,  -- when it was decided (the run's clock)
    title        TEXT NOT NULL,
    text         TEXT NOT NULL,
    attempts     INTEGER NOT NULL,
    delivered_to TEXT NOT NULL,  -- JSON list: the destinations (index in alerts.urls) that have it
    delivered_at TEXT,           -- when the last destination had it (NULL: not delivered yet)
    last_error   TEXT            -- the last failure, naming destinations by index and scheme only
);

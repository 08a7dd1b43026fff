-- 001: watches (check-ins and alerts), the outbox, inbound de-duplication, counters.
-- Sensitive values are sealed (AES-256-GCM) by relay.store before they reach SQL; lookups use keyed
-- HMACs. Times are integer milliseconds since the epoch, UTC.

CREATE TABLE watches (
    id               TEXT PRIMARY KEY,          -- random row key; also binds sealed columns (AAD)
    member_tag       BLOB NOT NULL,             -- HMAC of her alias: find her live watch, learn nothing
    phase            TEXT NOT NULL,
    next_at          INTEGER,                   -- when the timer must wake for this watch (NULL: never)
    started_at       INTEGER NOT NULL,
    closed_at        INTEGER,
    detail           BLOB NOT NULL              -- sealed JSON: alias, kind, deadline, note, alerted, acked_by …
);
CREATE INDEX watches_next_at ON watches (next_at) WHERE next_at IS NOT NULL;
-- At most one live watch per member: a second IN restarts the first, SOS turns it into an alert.
CREATE UNIQUE INDEX watches_one_live ON watches (member_tag) WHERE phase != 'closed';
CREATE INDEX watches_alerted ON watches (phase) WHERE phase IN ('alerted', 'acked');

CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,  -- send order
    row_key          TEXT NOT NULL,
    recipient_tag    BLOB NOT NULL,             -- HMAC of the address: order is kept per recipient
    recipient        BLOB NOT NULL,             -- sealed address (number, uuid or group id)
    body             BLOB NOT NULL,             -- sealed text
    attachments      BLOB,                      -- sealed JSON list of attachment vault keys
    purpose          TEXT NOT NULL,             -- reply | reminder | alert | notice
    watch_id         TEXT,
    created_at       INTEGER NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    last_error       TEXT,                      -- a failure class (never a server's text: it may quote numbers)
    sent_at          INTEGER,
    signal_timestamp INTEGER,                   -- what signal-cli-rest-api returned: quotes and reactions point at it
    stuck_reported   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_pending ON outbox (recipient_tag, id) WHERE sent_at IS NULL;
CREATE INDEX outbox_signal_ts ON outbox (signal_timestamp) WHERE signal_timestamp IS NOT NULL;

CREATE TABLE inbox_seen (
    tag              BLOB PRIMARY KEY,          -- HMAC of sender + sender's timestamp
    seen_at          INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE counters (
    name             TEXT PRIMARY KEY,
    value            INTEGER NOT NULL
) WITHOUT ROWID;

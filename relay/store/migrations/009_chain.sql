-- 009: knowing the chain works (issue 21): who was welcomed, what reached whose phone, practice
-- drills. As everywhere since issue 17, a seized database links nobody: no tag here appears on
-- two rows, a time that is not a live deadline is kept to the hour, and everything else —
-- names, numbers, which alert, who was asked, exact times — is sealed with its row.

-- Members the relay has welcomed (or met while the welcome was off): an HMAC of alias and
-- number. A member removed from the rules loses her row, so she is welcomed again if re-added.
CREATE TABLE welcomed (
    tag          BLOB PRIMARY KEY,
    at_hour      INTEGER NOT NULL            -- to the hour
) WITHOUT ROWID;

-- One row per alert or practice drill whose messages went out: for each recipient (sealed),
-- when her first message went, the Signal timestamps of hers, when her phone said it arrived
-- (delivery receipt) and was read (read receipt, where she has them on), her tier.
CREATE TABLE deliveries (
    ref_tag      BLOB PRIMARY KEY,           -- HMAC of the alert's or drill's id
    row_key      TEXT NOT NULL,              -- binds the sealed detail to this row (AAD)
    check_at     INTEGER,                    -- live deadline: look whether a tier reached a phone
    sent_hour    INTEGER NOT NULL,           -- its first message, to the hour (retention)
    detail       BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX deliveries_check ON deliveries (check_at) WHERE check_at IS NOT NULL;
CREATE INDEX deliveries_sent ON deliveries (sent_hour);

-- Each tracked send request's Signal timestamp (keyed), so a receipt naming it finds its row.
CREATE TABLE delivery_stamps (
    tag          BLOB PRIMARY KEY,           -- HMAC of the timestamp
    row_key      TEXT NOT NULL,
    sent_hour    INTEGER NOT NULL,
    target       BLOB NOT NULL               -- sealed: which alert or drill
) WITHOUT ROWID;
CREATE INDEX delivery_stamps_sent ON delivery_stamps (sent_hour);

-- Practice drills: whose, who was asked and who answered are sealed; in clear only what the
-- timer needs (the report's deadline) and the hour it started (retention).
CREATE TABLE drills (
    id           TEXT PRIMARY KEY,           -- random; binds the sealed detail (AAD)
    state        TEXT NOT NULL CHECK (state IN ('running', 'done')),
    report_at    INTEGER,                    -- live deadline; NULL once reported
    started_hour INTEGER NOT NULL,
    detail       BLOB NOT NULL
);
CREATE INDEX drills_report ON drills (report_at) WHERE report_at IS NOT NULL;

-- The rate limit of her own DRILL: one row per member while it applies.
CREATE TABLE drill_limits (
    member_tag   BLOB PRIMARY KEY,           -- HMAC of her alias
    row_key      TEXT NOT NULL,
    until_hour   INTEGER NOT NULL,           -- the row is deleted after this (rounded up)
    detail       BLOB NOT NULL               -- sealed: when she last ran one herself
) WITHOUT ROWID;

-- The rules' scheduled drill (one row): when it last ran (to the hour); before its first run,
-- when that is due and for which schedule (`plan`: every and at), so a restart does not push
-- it back.
CREATE TABLE drill_schedule (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    last_hour    INTEGER,
    first_at     INTEGER,
    plan         TEXT
);

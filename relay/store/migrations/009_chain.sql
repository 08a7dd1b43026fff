-- 009: knowing the chain works (issue 21): who was welcomed, what reached a phone, practice drills.
-- Nothing here holds a number, a name or a word of a message in clear: members and recipients are
-- keyed HMACs, Signal's timestamps are keyed HMACs, labels and drill details are sealed.

-- Members the relay has welcomed (or met while the welcome was off): an HMAC of alias and
-- number. A member removed from the rules loses her row, so she is welcomed again if re-added.
CREATE TABLE welcomed (
    tag          BLOB PRIMARY KEY,
    at           INTEGER NOT NULL
) WITHOUT ROWID;

-- One row per recipient of an alert or a practice alert: when it was first sent to her, when
-- her phone said it arrived (delivery receipt) and was read (read receipt, where she has them on).
CREATE TABLE deliveries (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    about        TEXT NOT NULL CHECK (about IN ('alert', 'drill')),
    ref          TEXT NOT NULL,          -- the watch's or the drill's random id
    recipient_tag BLOB NOT NULL,         -- HMAC of the address (number or group id)
    row_key      TEXT NOT NULL,          -- binds the sealed label to this row (AAD)
    label        BLOB NOT NULL,          -- sealed JSON: how she is shown, and whether a group
    tier         INTEGER NOT NULL,       -- the escalation tier she was first alerted in
    sent_at      INTEGER NOT NULL,
    delivered_at INTEGER,
    read_at      INTEGER,
    check_at     INTEGER,                -- when to look whether her tier reached any phone
    UNIQUE (about, ref, recipient_tag)
);
CREATE INDEX deliveries_check ON deliveries (check_at) WHERE check_at IS NOT NULL;
CREATE INDEX deliveries_sent ON deliveries (sent_at);

-- Signal's timestamp of each tracked message (keyed), to find its row when a receipt names it.
CREATE TABLE delivery_stamps (
    tag          BLOB NOT NULL,
    delivery     INTEGER NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    PRIMARY KEY (tag, delivery)
) WITHOUT ROWID;
CREATE INDEX delivery_stamps_delivery ON delivery_stamps (delivery);

-- Practice drills: one row per member's drill. The detail (her alias, who was asked, who
-- answered when) is sealed; in clear only what the timer and the rate limit need.
CREATE TABLE drills (
    id           TEXT PRIMARY KEY,       -- random; binds the sealed detail (AAD)
    member_tag   BLOB NOT NULL,          -- HMAC of her alias (the rate limit)
    batch        TEXT NOT NULL,          -- drills started together report to the admin together
    state        TEXT NOT NULL CHECK (state IN ('running', 'done')),
    asked_by     TEXT NOT NULL CHECK (asked_by IN ('member', 'admin')),
    started_at   INTEGER NOT NULL,
    report_at    INTEGER,                -- when her report is due (NULL once sent)
    detail       BLOB NOT NULL
);
CREATE INDEX drills_report ON drills (report_at) WHERE report_at IS NOT NULL;
CREATE INDEX drills_member ON drills (member_tag, started_at);

-- The rules' scheduled drill (one row): when it last ran; before its first run, when that is
-- due and for which schedule (`plan`: every and at), so a restart does not push it back.
CREATE TABLE drill_schedule (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    last_run     INTEGER,
    first_at     INTEGER,
    plan         TEXT
);

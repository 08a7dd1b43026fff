-- 002: bad-client reports (REPORT), their screening keys (CHECK, CLIENT) and the moderation record.
-- A report's text, author and identifiers are sealed in `body`; screening finds reports through
-- keyed HMACs of normalised identifiers only. A withdrawn, rejected, removed or expired report is
-- deleted outright (secure_delete zeroes its pages); what stays is a who-less line in
-- report_actions: which number, what happened, when.

CREATE TABLE reports (
    number      INTEGER PRIMARY KEY AUTOINCREMENT,  -- the small number moderators see; never reused
    row_key     TEXT NOT NULL,                      -- random; binds the sealed body to this row (AAD)
    author_tag  BLOB,                               -- HMAC of the reporter's alias (WITHDRAW, REPORT 3)
    status      TEXT NOT NULL CHECK (status IN ('pending', 'approved')),
    severity    INTEGER CHECK (severity BETWEEN 1 AND 3),  -- NULL: she has not said yet
    created_at  INTEGER NOT NULL,
    decided_at  INTEGER,
    expires_at  INTEGER,                            -- NULL: the rules keep reports until removed
    body        BLOB NOT NULL                       -- sealed JSON: author, text, identifiers
);
CREATE INDEX reports_author ON reports (author_tag) WHERE author_tag IS NOT NULL;
CREATE INDEX reports_expiry ON reports (expires_at) WHERE expires_at IS NOT NULL;

-- One row per screening key of a report: HMAC of a normalised phone, email or handle, or of each
-- one-slip key of a plate (so a plate read with one wrong character is still found).
CREATE TABLE report_keys (
    tag         BLOB NOT NULL,
    number      INTEGER NOT NULL REFERENCES reports (number) ON DELETE CASCADE,
    PRIMARY KEY (tag, number)
) WITHOUT ROWID;
CREATE INDEX report_keys_number ON report_keys (number);

-- Photos sent with a report: attachment-vault keys (the files are sealed; a key opens nothing).
CREATE TABLE report_photos (
    number      INTEGER NOT NULL REFERENCES reports (number) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    vault_key   TEXT NOT NULL,
    PRIMARY KEY (number, position)
) WITHOUT ROWID;

-- Every step of every report, without who took it: submitted, rated, approved, rejected,
-- removed, withdrawn, expired. No foreign key: the record outlives the report.
CREATE TABLE report_actions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    number      INTEGER NOT NULL,
    action      TEXT NOT NULL,
    at          INTEGER NOT NULL
);
CREATE INDEX report_actions_number ON report_actions (number);

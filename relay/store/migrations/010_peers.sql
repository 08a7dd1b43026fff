-- 010: warnings between collectives (issue 20). A partner relay's warning is kept as a report
-- (reports, sealed, with its screening keys); these tables hold only what the exchange itself
-- needs. As everywhere since issue 17, no tag here appears on two rows and every "when" that is
-- not a deadline is kept to the hour (or the day).

-- A partner's warning ids already taken (an HMAC of the partner's number and the id), so the
-- same signed warning sent again is refused. Kept 60 days: older messages are refused as stale.
CREATE TABLE peer_seen (
    tag         BLOB PRIMARY KEY,
    until_hour  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX peer_seen_until ON peer_seen (until_hour);

-- A partner's warning held here as a report, under the same tag as in peer_seen: how its
-- retraction finds it. Goes with the report.
CREATE TABLE peer_received (
    tag         BLOB PRIMARY KEY,
    number      INTEGER NOT NULL REFERENCES reports (number) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX peer_received_number ON peer_received (number);

-- What SHARE sent: for each partner a report went to, sealed, the partner's number and the
-- warning's id: where a retraction must go if the report is withdrawn or removed.
CREATE TABLE peer_shared (
    number      INTEGER NOT NULL REFERENCES reports (number) ON DELETE CASCADE,
    row_key     TEXT NOT NULL,              -- random; binds the sealed detail (AAD)
    detail      BLOB NOT NULL,
    PRIMARY KEY (number, row_key)
) WITHOUT ROWID;

-- Today's counts per partner (an HMAC of its number and the UTC day): warnings sent to it,
-- taken from it, refused, and whether the admin was told of a refusal today. Rows of past days
-- are deleted as new ones are written.
CREATE TABLE peer_days (
    tag         BLOB NOT NULL,
    what        TEXT NOT NULL CHECK (what IN ('sent', 'accepted', 'refused', 'told')),
    day         INTEGER NOT NULL,           -- the UTC day, as ms at 00:00
    count       INTEGER NOT NULL,
    PRIMARY KEY (tag, what)
) WITHOUT ROWID;
CREATE INDEX peer_days_day ON peer_days (day);

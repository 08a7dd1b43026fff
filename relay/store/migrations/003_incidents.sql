-- 003: each member's incident log (LOG, EXPORT): sealed entries chained by hash, each signed.
-- Only what the chain needs to extend and check itself is in clear: her owner tag (an HMAC of her
-- alias), entry numbers, hashes and signatures. Time, text, photos and salt are sealed; a hash
-- covers a random salt, so it says nothing about a short text to someone guessing it.

CREATE TABLE incident_logs (
    owner_tag   BLOB PRIMARY KEY,      -- HMAC of her alias
    log_id      TEXT NOT NULL,         -- random; binds the chain and its signatures to this log
    head_seq    INTEGER NOT NULL,      -- number of the newest entry
    head_hash   TEXT NOT NULL,         -- its hash: the next entry's "prev"
    first_seq   INTEGER NOT NULL DEFAULT 1  -- entries before it were deleted under retention
) WITHOUT ROWID;

CREATE TABLE incident_entries (
    owner_tag   BLOB NOT NULL REFERENCES incident_logs (owner_tag) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    row_key     TEXT NOT NULL,         -- random; binds the sealed content to this row (AAD)
    hash        TEXT NOT NULL,
    signature   BLOB NOT NULL,         -- Ed25519 over (log, seq, hash): see relay.incidents.hashchain
    content     BLOB NOT NULL,         -- sealed JSON: time, text, salt, prev, photos
    PRIMARY KEY (owner_tag, seq)
) WITHOUT ROWID;

-- The files an EXPORT sent her (readable copy, JSON, photo copies) are sealed into the vault for
-- the outbox to send; they are hers, so FORGET deletes them, and retention deletes them once the
-- messages that carried them are old (retention.messages).
CREATE TABLE incident_exports (
    owner_tag   BLOB NOT NULL,
    vault_key   TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (owner_tag, vault_key)
) WITHOUT ROWID;
CREATE INDEX incident_exports_created ON incident_exports (created_at);

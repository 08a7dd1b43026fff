-- 007: the inbox. Each envelope read from signal-cli's socket is written here (sealed) before it
-- is decided, and deleted once it was: signal-cli acknowledged it to Signal's servers before
-- handing it over, so a relay that dies between reading and deciding must find it here again.
CREATE TABLE inbox (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,  -- arrival order
    row_key          TEXT NOT NULL,             -- binds the sealed body (AAD)
    body             BLOB NOT NULL,             -- sealed: the envelope's JSON as signal-cli wrote it
    received_at      INTEGER NOT NULL
);

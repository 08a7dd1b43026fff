-- 006: what a seized database can link (issue 17). A sent message's row is deleted as soon as it
-- is sent; all the relay still needs from it — which watch a buddy's quote of it or reaction to
-- it answers — is kept here, with nothing in clear: a keyed HMAC of the timestamp Signal gave the
-- message (the only thing a quote or reaction names) and the watch id, sealed. No time, no
-- recipient, no purpose. Retention deletes a ref once its watch is no longer live.
CREATE TABLE sent_refs (
    tag              BLOB PRIMARY KEY,          -- HMAC of signal-cli's timestamp for the message
    row_key          TEXT NOT NULL,             -- random; binds the sealed watch id (AAD)
    watch            BLOB NOT NULL              -- sealed watch id
) WITHOUT ROWID;

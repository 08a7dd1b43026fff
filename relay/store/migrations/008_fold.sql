-- 008: a keyed tag tying an unsent alert message to its recipient and watch, so that a repeat
-- of the alert to someone who has not yet received the last one is folded into it (no flood
-- after an outage). HMAC only: it names neither; the row goes when the message is sent.
ALTER TABLE outbox ADD COLUMN fold_tag BLOB;
CREATE INDEX outbox_fold ON outbox (fold_tag) WHERE fold_tag IS NOT NULL AND sent_at IS NULL;

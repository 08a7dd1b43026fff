-- 004: a value sealed under the relay key when the database was first opened, so a start with
-- another (valid-looking) key is refused at once instead of failing on every sealed row.
CREATE TABLE key_check (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    row_key          TEXT NOT NULL,             -- binds the sealed value (AAD), like every table's
    sealed           BLOB NOT NULL
);

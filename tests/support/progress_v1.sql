-- The progress database of coupadl's first release (schema version 1), taken verbatim from
-- src/coupadl/batch/progress.py at commit 273e6a4 (`_SCHEMA`), to build output folders an older version wrote.
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pos (
    po                     TEXT PRIMARY KEY,      -- the PO's digits
    raw                    TEXT NOT NULL,
    display                TEXT NOT NULL,
    status                 TEXT NOT NULL,
    supplier               TEXT,
    attachments_found      INTEGER,
    attachments_downloaded INTEGER,
    attachment_names       TEXT NOT NULL DEFAULT '[]',   -- JSON list of saved names
    download_folder        TEXT,
    coupa_url              TEXT,
    attempts               INTEGER NOT NULL DEFAULT 0,   -- across all runs
    worker                 TEXT,
    error_message          TEXT,
    last_processed         TEXT,                  -- ISO 8601 UTC
    in_flight              INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS files (
    po             TEXT NOT NULL,
    attachment_key TEXT NOT NULL,                 -- source URL or attachment id
    saved_name     TEXT NOT NULL,
    size           INTEGER NOT NULL,
    sha256         TEXT NOT NULL,
    saved_at       TEXT NOT NULL,
    PRIMARY KEY (po, attachment_key)
);
PRAGMA user_version = 1;

-- The core schema of spec/data-model.md: identity, conversations, messages, datasets, usage and history,
-- plus the two extended tables (created here so every table exists from the first start).

CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    oidc_issuer   TEXT NOT NULL,
    oidc_subject  TEXT NOT NULL,
    email         TEXT NOT NULL,
    name          TEXT NOT NULL,
    avatar_url    TEXT,
    created_at    TEXT NOT NULL,
    last_login_at TEXT NOT NULL,
    UNIQUE (oidc_issuer, oidc_subject)
);

CREATE TABLE sessions (
    id               TEXT PRIMARY KEY NOT NULL,
    token_hash       BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    user_id          TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at       TEXT NOT NULL,
    expires_at       TEXT NOT NULL,
    last_extended_at TEXT NOT NULL
);
CREATE INDEX idx_sessions_user_id ON sessions (user_id);
CREATE INDEX idx_sessions_expires_at ON sessions (expires_at);

CREATE TABLE oidc_pending_logins (
    state         TEXT PRIMARY KEY NOT NULL,
    pkce_verifier TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    referral_key  TEXT,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL
);
CREATE INDEX idx_oidc_pending_logins_expires_at ON oidc_pending_logins (expires_at);

CREATE TABLE referral_keys (
    key        TEXT PRIMARY KEY NOT NULL,
    created_by TEXT REFERENCES users(id) ON DELETE SET NULL,
    used_by    TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at TEXT NOT NULL,
    used_at    TEXT
);
CREATE INDEX idx_referral_keys_used_by ON referral_keys (used_by);

CREATE TABLE conversations (
    id                TEXT PRIMARY KEY NOT NULL,
    user_id           TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    title             TEXT NOT NULL DEFAULT '' CHECK (length(title) <= 100),
    is_pinned         INTEGER NOT NULL DEFAULT 0 CHECK (is_pinned IN (0, 1)),
    next_table_number INTEGER NOT NULL DEFAULT 1 CHECK (next_table_number >= 1),
    share_token       TEXT UNIQUE,
    shared_at         TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX idx_conversations_user_order ON conversations (user_id, is_pinned, updated_at);

CREATE TABLE messages (
    id              TEXT PRIMARY KEY NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role            TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    content         TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'complete' CHECK (status IN ('complete', 'stopped', 'error')),
    error_message   TEXT,
    sql_query       TEXT CHECK (sql_query IS NULL OR json_valid(sql_query)),
    reasoning       TEXT,
    tool_call_trace TEXT CHECK (tool_call_trace IS NULL OR json_valid(tool_call_trace)),
    input_tokens    INTEGER NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
    output_tokens   INTEGER NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
    token_count     INTEGER NOT NULL DEFAULT 0,
    model           TEXT,
    created_at      TEXT NOT NULL
);
CREATE INDEX idx_messages_conversation_order ON messages (conversation_id, created_at, id);

CREATE TABLE uploads (
    id            TEXT PRIMARY KEY NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    sha256        TEXT NOT NULL,
    size_bytes    INTEGER NOT NULL CHECK (size_bytes >= 0),
    original_name TEXT NOT NULL,
    format        TEXT NOT NULL CHECK (format IN ('parquet', 'csv', 'tsv', 'ndjson')),
    compression   TEXT NOT NULL DEFAULT 'none' CHECK (compression IN ('none', 'gzip')),
    created_at    TEXT NOT NULL,
    UNIQUE (user_id, sha256)
);

CREATE TABLE datasets (
    id                  TEXT PRIMARY KEY NOT NULL,
    conversation_id     TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    name                TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 63),
    source              TEXT NOT NULL CHECK (source IN ('url', 'upload')),
    url                 TEXT NOT NULL,
    upload_id           TEXT REFERENCES uploads(id) ON DELETE CASCADE,
    format              TEXT NOT NULL CHECK (format IN ('parquet', 'csv', 'tsv', 'ndjson')),
    compression         TEXT NOT NULL DEFAULT 'none' CHECK (compression IN ('none', 'gzip')),
    status              TEXT NOT NULL DEFAULT 'ready' CHECK (status IN ('loading', 'ready', 'error')),
    error_message       TEXT,
    row_count           INTEGER NOT NULL DEFAULT 0,
    column_count        INTEGER NOT NULL DEFAULT 0,
    schema_json         TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(schema_json)),
    column_descriptions TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(column_descriptions)),
    file_size_bytes     INTEGER,
    etag                TEXT,
    last_modified       TEXT,
    version             TEXT,
    created_at          TEXT NOT NULL,
    loaded_at           TEXT,
    CHECK ((source = 'upload') = (upload_id IS NOT NULL)),
    CHECK (status <> 'ready' OR (version IS NOT NULL AND loaded_at IS NOT NULL))
);
CREATE INDEX idx_datasets_conversation_order ON datasets (conversation_id, created_at, id);
CREATE UNIQUE INDEX idx_datasets_conversation_name ON datasets (conversation_id, name COLLATE NOCASE);
CREATE UNIQUE INDEX idx_datasets_conversation_url ON datasets (conversation_id, url) WHERE source = 'url';
CREATE INDEX idx_datasets_upload_id ON datasets (upload_id);

CREATE TABLE token_usage (
    id              TEXT PRIMARY KEY NOT NULL,
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    conversation_id TEXT REFERENCES conversations(id) ON DELETE SET NULL,
    message_id      TEXT REFERENCES messages(id) ON DELETE SET NULL,
    call_kind       TEXT NOT NULL CHECK (call_kind IN ('chat', 'explain_sql', 'generate_sql')),
    provider        TEXT NOT NULL CHECK (provider IN ('gemini', 'openai')),
    model_name      TEXT NOT NULL,
    input_tokens    INTEGER NOT NULL CHECK (input_tokens >= 0),
    output_tokens   INTEGER NOT NULL CHECK (output_tokens >= 0),
    estimated       INTEGER NOT NULL DEFAULT 0 CHECK (estimated IN (0, 1)),
    cost            REAL NOT NULL DEFAULT 0,
    timestamp       TEXT NOT NULL
);
CREATE INDEX idx_token_usage_user_timestamp ON token_usage (user_id, timestamp);
CREATE INDEX idx_token_usage_conversation ON token_usage (conversation_id);

CREATE TABLE query_history (
    id                TEXT PRIMARY KEY NOT NULL,
    user_id           TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    conversation_id   TEXT REFERENCES conversations(id) ON DELETE SET NULL,
    source            TEXT NOT NULL CHECK (source IN ('sql_panel', 'llm')),
    query             TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('success', 'error')),
    error_message     TEXT,
    row_count         INTEGER,
    execution_time_ms REAL,
    is_starred        INTEGER NOT NULL DEFAULT 0 CHECK (is_starred IN (0, 1)),
    created_at        TEXT NOT NULL
);
CREATE INDEX idx_query_history_user_created ON query_history (user_id, created_at);
CREATE INDEX idx_query_history_user_starred ON query_history (user_id, is_starred, created_at);

CREATE TABLE saved_queries (
    id                TEXT PRIMARY KEY NOT NULL,
    user_id           TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name              TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    query             TEXT NOT NULL,
    result_json       TEXT,
    execution_time_ms REAL,
    folder            TEXT NOT NULL DEFAULT '' CHECK (length(folder) <= 50),
    is_pinned         INTEGER NOT NULL DEFAULT 0 CHECK (is_pinned IN (0, 1)),
    share_token       TEXT UNIQUE,
    shared_at         TEXT,
    created_at        TEXT NOT NULL
);
CREATE INDEX idx_saved_queries_user_order ON saved_queries (user_id, is_pinned, created_at);

CREATE TABLE user_settings (
    user_id        TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    dev_mode       INTEGER NOT NULL DEFAULT 1 CHECK (dev_mode IN (0, 1)),
    selected_model TEXT,
    updated_at     TEXT NOT NULL
);

-- Assistants (docs/api.md, "Assistants"): a reusable setup owned by one user, visible to everyone when shared.
-- `tools` is a JSON array of tool names or NULL for "every tool the user has"; `datasets` a JSON array of
-- {url, name, column_descriptions}.
CREATE TABLE assistants (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    instructions TEXT NOT NULL DEFAULT '',
    model TEXT,
    temperature REAL,
    tools TEXT,
    datasets TEXT NOT NULL DEFAULT '[]',
    is_shared BOOLEAN NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX idx_assistants_user ON assistants (user_id);
CREATE INDEX idx_assistants_shared ON assistants (is_shared) WHERE is_shared;

-- What a conversation copied from the assistant it started from. No foreign key: deleting the assistant leaves
-- its conversations working with their copy.
ALTER TABLE conversations ADD COLUMN assistant_id TEXT;
ALTER TABLE conversations ADD COLUMN assistant_instructions TEXT;
ALTER TABLE conversations ADD COLUMN assistant_model TEXT;
ALTER TABLE conversations ADD COLUMN assistant_temperature REAL;
ALTER TABLE conversations ADD COLUMN assistant_tools TEXT;

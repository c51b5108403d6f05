-- Archived conversations leave the default list but stay readable, searchable and exportable (docs/api.md,
-- "Conversations").
ALTER TABLE conversations ADD COLUMN is_archived INTEGER NOT NULL DEFAULT 0 CHECK (is_archived IN (0, 1));
DROP INDEX idx_conversations_user_order;
CREATE INDEX idx_conversations_user_order ON conversations (user_id, is_archived, is_pinned, updated_at);

DROP INDEX idx_conversations_user_order;
ALTER TABLE conversations DROP COLUMN is_archived;
CREATE INDEX idx_conversations_user_order ON conversations (user_id, is_pinned, updated_at);

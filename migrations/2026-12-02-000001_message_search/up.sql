-- Search over message content (docs/api.md, "Search"): an FTS5 trigram index answers case-insensitive substring
-- queries without scanning every message.
--
-- Each message is indexed with two U+0001 characters after it, so every character of the content starts a trigram:
-- a text of one or two characters is then found through the index's terms that begin with it (read through
-- `message_search_terms`), not only texts of three or more.
--
-- `message_search_keys` gives each message a stable integer key (an INTEGER PRIMARY KEY survives VACUUM, a
-- plain rowid does not; AUTOINCREMENT never hands a key out twice) and carries the owner and the time, so a search filters by user and orders newest first
-- without touching `messages`. Triggers keep both in step with every insert and delete, inside the writing
-- transaction, whatever wrote it (chat turns, imports, forks, redo, cascading conversation and user deletes).

CREATE TABLE message_search_keys (
    key        INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL UNIQUE,
    user_id    TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX idx_message_search_keys_user_created ON message_search_keys (user_id, created_at, message_id);

CREATE VIRTUAL TABLE message_search USING fts5 (
    content,
    content = '',
    contentless_delete = 1,
    tokenize = 'trigram case_sensitive 0'
);
CREATE VIRTUAL TABLE message_search_terms USING fts5vocab (message_search, 'row');

CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN
    INSERT INTO message_search_keys (message_id, user_id, created_at)
        SELECT new.id, c.user_id, new.created_at FROM conversations c WHERE c.id = new.conversation_id;
    INSERT INTO message_search (rowid, content)
        SELECT key, new.content || char(1, 1) FROM message_search_keys WHERE message_id = new.id;
END;

CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN
    DELETE FROM message_search
        WHERE rowid = (SELECT key FROM message_search_keys WHERE message_id = old.id);
    DELETE FROM message_search_keys WHERE message_id = old.id;
END;

CREATE TRIGGER messages_search_update AFTER UPDATE OF content, created_at ON messages BEGIN
    UPDATE message_search_keys SET created_at = new.created_at WHERE message_id = new.id;
    UPDATE message_search SET content = new.content || char(1, 1)
        WHERE rowid = (SELECT key FROM message_search_keys WHERE message_id = new.id);
END;

INSERT INTO message_search_keys (message_id, user_id, created_at)
    SELECT m.id, c.user_id, m.created_at FROM messages m JOIN conversations c ON c.id = m.conversation_id
    ORDER BY m.created_at, m.id;
INSERT INTO message_search (rowid, content)
    SELECT k.key, m.content || char(1, 1) FROM message_search_keys k JOIN messages m ON m.id = k.message_id;

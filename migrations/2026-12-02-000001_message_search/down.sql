DROP TRIGGER messages_search_update;
DROP TRIGGER messages_search_delete;
DROP TRIGGER messages_search_insert;
DROP TABLE message_search_terms;
DROP TABLE message_search;
DROP TABLE message_search_keys;

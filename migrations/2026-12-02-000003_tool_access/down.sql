ALTER TABLE user_settings DROP COLUMN tools_deny;
ALTER TABLE user_settings DROP COLUMN tools_allow;

-- Per-user tool overrides (docs/configuration.md, "Tool access"): JSON arrays of tool names added to and taken
-- from `llm.default_tools`; deny wins.
ALTER TABLE user_settings ADD COLUMN tools_allow TEXT NOT NULL DEFAULT '[]';
ALTER TABLE user_settings ADD COLUMN tools_deny TEXT NOT NULL DEFAULT '[]';

ALTER TABLE conversations DROP COLUMN assistant_tools;
ALTER TABLE conversations DROP COLUMN assistant_temperature;
ALTER TABLE conversations DROP COLUMN assistant_model;
ALTER TABLE conversations DROP COLUMN assistant_instructions;
ALTER TABLE conversations DROP COLUMN assistant_id;
DROP INDEX idx_assistants_shared;
DROP INDEX idx_assistants_user;
DROP TABLE assistants;

use async_trait::async_trait;
use diesel::prelude::*;
use diesel::upsert::excluded;
use tabletalk_ports::{RepositoryError, SettingsRepository, UserId, UserSettings};

use crate::SqliteDatabase;
use crate::error::repository_error;
use crate::rows::parse;
use crate::schema::user_settings;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = user_settings, check_for_backend(diesel::sqlite::Sqlite))]
struct SettingsRow {
    user_id: String,
    dev_mode: bool,
    selected_model: Option<String>,
    updated_at: String,
    /// JSON arrays of tool names.
    tools_allow: String,
    tools_deny: String,
}

fn names(text: &str, column: &str) -> Result<Vec<String>, RepositoryError> {
    serde_json::from_str(text).map_err(|e| RepositoryError::Corrupt(format!("{column}: {e}")))
}

fn names_text(names: &[String]) -> String {
    serde_json::to_string(names).unwrap_or_else(|_| "[]".to_owned())
}

#[async_trait]
impl SettingsRepository for SqliteDatabase {
    async fn find(&self, user: UserId) -> Result<Option<UserSettings>, RepositoryError> {
        self.run(move |conn| {
            let Some(row) = user_settings::table
                .find(user.to_string())
                .select(SettingsRow::as_select())
                .first(conn)
                .optional()
                .map_err(repository_error)?
            else {
                return Ok(None);
            };
            Ok(Some(UserSettings {
                user_id: parse(&row.user_id, "user_settings.user_id")?,
                dev_mode: row.dev_mode,
                selected_model: row.selected_model,
                tools_allow: names(&row.tools_allow, "user_settings.tools_allow")?,
                tools_deny: names(&row.tools_deny, "user_settings.tools_deny")?,
                updated_at: parse(&row.updated_at, "user_settings.updated_at")?,
            }))
        })
        .await
    }

    async fn save(&self, settings: &UserSettings) -> Result<(), RepositoryError> {
        let row = SettingsRow {
            user_id: settings.user_id.to_string(),
            dev_mode: settings.dev_mode,
            selected_model: settings.selected_model.clone(),
            updated_at: settings.updated_at.to_string(),
            tools_allow: names_text(&settings.tools_allow),
            tools_deny: names_text(&settings.tools_deny),
        };
        self.run(move |conn| {
            diesel::insert_into(user_settings::table)
                .values(&row)
                .on_conflict(user_settings::user_id)
                .do_update()
                .set((
                    user_settings::dev_mode.eq(excluded(user_settings::dev_mode)),
                    user_settings::selected_model.eq(excluded(user_settings::selected_model)),
                    user_settings::updated_at.eq(excluded(user_settings::updated_at)),
                    user_settings::tools_allow.eq(excluded(user_settings::tools_allow)),
                    user_settings::tools_deny.eq(excluded(user_settings::tools_deny)),
                ))
                .execute(conn)
                .map(|_| ())
                .map_err(repository_error)
        })
        .await
    }
}

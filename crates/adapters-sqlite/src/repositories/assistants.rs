use async_trait::async_trait;
use diesel::prelude::*;
use tabletalk_ports::{
    Assistant, AssistantId, AssistantRepository, RepositoryError, Temperature, UserId,
};

use crate::SqliteDatabase;
use crate::error::repository_error;
use crate::rows::{parse, stored_temperature};
use crate::schema::assistants;
use crate::stored_json;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = assistants, check_for_backend(diesel::sqlite::Sqlite))]
struct AssistantRow {
    id: String,
    user_id: String,
    name: String,
    description: String,
    instructions: String,
    model: Option<String>,
    temperature: Option<f64>,
    tools: Option<String>,
    datasets: String,
    is_shared: bool,
    created_at: String,
    updated_at: String,
}

impl TryFrom<&Assistant> for AssistantRow {
    type Error = RepositoryError;

    fn try_from(a: &Assistant) -> Result<Self, Self::Error> {
        Ok(Self {
            id: a.id.to_string(),
            user_id: a.user_id.to_string(),
            name: a.name.clone(),
            description: a.description.clone(),
            instructions: a.instructions.clone(),
            model: a.model.clone(),
            temperature: a.temperature.map(Temperature::get),
            tools: stored_json::tool_names_text(a.tools.as_deref())?,
            datasets: stored_json::assistant_datasets_text(&a.datasets)?,
            is_shared: a.is_shared,
            created_at: a.created_at.to_string(),
            updated_at: a.updated_at.to_string(),
        })
    }
}

impl TryFrom<AssistantRow> for Assistant {
    type Error = RepositoryError;

    fn try_from(row: AssistantRow) -> Result<Self, Self::Error> {
        Ok(Self {
            id: parse(&row.id, "assistants.id")?,
            user_id: parse(&row.user_id, "assistants.user_id")?,
            name: row.name,
            description: row.description,
            instructions: row.instructions,
            model: row.model,
            temperature: stored_temperature(row.temperature, "assistants.temperature")?,
            tools: stored_json::tool_names(row.tools.as_deref(), "assistants.tools")?,
            datasets: stored_json::assistant_datasets(&row.datasets)?,
            is_shared: row.is_shared,
            created_at: parse(&row.created_at, "assistants.created_at")?,
            updated_at: parse(&row.updated_at, "assistants.updated_at")?,
        })
    }
}

#[async_trait]
impl AssistantRepository for SqliteDatabase {
    async fn create(&self, assistant: &Assistant) -> Result<(), RepositoryError> {
        let row = AssistantRow::try_from(assistant)?;
        self.run(move |conn| {
            diesel::insert_into(assistants::table)
                .values(&row)
                .execute(conn)
                .map(|_| ())
                .map_err(repository_error)
        })
        .await
    }

    async fn find(&self, id: AssistantId) -> Result<Option<Assistant>, RepositoryError> {
        self.run(move |conn| {
            assistants::table
                .find(id.to_string())
                .select(AssistantRow::as_select())
                .first(conn)
                .optional()
                .map_err(repository_error)?
                .map(Assistant::try_from)
                .transpose()
        })
        .await
    }

    async fn list_visible(&self, user: UserId) -> Result<Vec<Assistant>, RepositoryError> {
        self.run(move |conn| {
            assistants::table
                .filter(
                    assistants::user_id
                        .eq(user.to_string())
                        .or(assistants::is_shared.eq(true)),
                )
                .order((assistants::updated_at.desc(), assistants::id.desc()))
                .select(AssistantRow::as_select())
                .load(conn)
                .map_err(repository_error)?
                .into_iter()
                .map(Assistant::try_from)
                .collect()
        })
        .await
    }

    async fn update(&self, assistant: &Assistant) -> Result<bool, RepositoryError> {
        let row = AssistantRow::try_from(assistant)?;
        self.run(move |conn| {
            diesel::update(assistants::table.find(&row.id))
                .set((
                    assistants::name.eq(&row.name),
                    assistants::description.eq(&row.description),
                    assistants::instructions.eq(&row.instructions),
                    assistants::model.eq(&row.model),
                    assistants::temperature.eq(row.temperature),
                    assistants::tools.eq(&row.tools),
                    assistants::datasets.eq(&row.datasets),
                    assistants::is_shared.eq(row.is_shared),
                    assistants::updated_at.eq(&row.updated_at),
                ))
                .execute(conn)
                .map(|n| n > 0)
                .map_err(repository_error)
        })
        .await
    }

    async fn delete(&self, id: AssistantId) -> Result<bool, RepositoryError> {
        self.run(move |conn| {
            diesel::delete(assistants::table.find(id.to_string()))
                .execute(conn)
                .map(|n| n > 0)
                .map_err(repository_error)
        })
        .await
    }
}

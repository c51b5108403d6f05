use async_trait::async_trait;
use diesel::prelude::*;
use tabletalk_ports::{ConversationId, Dataset, DatasetRepository, RepositoryError};

use crate::SqliteDatabase;
use crate::error::repository_error;
use crate::rows::DatasetRow;
use crate::schema::datasets;

#[async_trait]
impl DatasetRepository for SqliteDatabase {
    async fn insert(&self, dataset: &Dataset) -> Result<(), RepositoryError> {
        let row = DatasetRow::from(dataset);
        self.run(move |conn| {
            diesel::insert_into(datasets::table)
                .values(&row)
                .execute(conn)
                .map(|_| ())
                .map_err(repository_error)
        })
        .await
    }

    async fn list_for_conversation(
        &self,
        conversation: ConversationId,
    ) -> Result<Vec<Dataset>, RepositoryError> {
        self.run(move |conn| {
            datasets::table
                .filter(datasets::conversation_id.eq(conversation.to_string()))
                .order((datasets::created_at.asc(), datasets::id.asc()))
                .select(DatasetRow::as_select())
                .load(conn)
                .map_err(repository_error)?
                .into_iter()
                .map(Dataset::try_from)
                .collect()
        })
        .await
    }
}

use async_trait::async_trait;
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use tabletalk_ports::{
    AddedDataset, ConversationId, Dataset, DatasetId, DatasetRepository, DatasetSource,
    DatasetWriteError, NewDataset, RepositoryError, UploadId, UserId,
};

use crate::SqliteDatabase;
use crate::error::repository_error;
use crate::rows::{DatasetRow, UploadRow};
use crate::schema::{conversations, datasets, uploads};
use crate::stored_json;

/// A transaction's failure: a rule refused the write, or the database failed.
enum TxError {
    Refused(DatasetWriteError),
    Database(DieselError),
}

impl From<DieselError> for TxError {
    fn from(error: DieselError) -> Self {
        Self::Database(error)
    }
}

impl From<TxError> for DatasetWriteError {
    fn from(error: TxError) -> Self {
        match error {
            TxError::Refused(refusal) => refusal,
            TxError::Database(error) => Self::Repository(repository_error(error)),
        }
    }
}

fn name_taken(
    conn: &mut SqliteConnection,
    conversation: &str,
    name: &str,
    except: &str,
) -> Result<bool, DieselError> {
    let lower = name.to_lowercase();
    let names: Vec<String> = datasets::table
        .filter(datasets::conversation_id.eq(conversation))
        .filter(datasets::id.ne(except))
        .select(datasets::name)
        .load(conn)?;
    Ok(names.iter().any(|n| n.to_lowercase() == lower))
}

fn add_in_transaction(
    conn: &mut SqliteConnection,
    new: NewDataset,
) -> Result<AddedDataset, TxError> {
    let mut dataset = new.dataset;
    let conversation = dataset.conversation_id.to_string();
    let counter: i64 = conversations::table
        .find(&conversation)
        .select(conversations::next_table_number)
        .first(conn)?;
    if dataset.source == DatasetSource::Url {
        let duplicate: i64 = datasets::table
            .filter(datasets::conversation_id.eq(&conversation))
            .filter(datasets::source.eq("url"))
            .filter(datasets::url.eq(&dataset.url))
            .count()
            .get_result(conn)?;
        if duplicate > 0 {
            return Err(TxError::Refused(DatasetWriteError::UrlExists));
        }
    }
    if new.custom_name && name_taken(conn, &conversation, &dataset.name, "")? {
        return Err(TxError::Refused(DatasetWriteError::NameTaken(dataset.name)));
    }
    let count: i64 = datasets::table
        .filter(datasets::conversation_id.eq(&conversation))
        .count()
        .get_result(conn)?;
    if count >= i64::from(new.max_per_conversation) {
        return Err(TxError::Refused(DatasetWriteError::LimitReached(
            new.max_per_conversation,
        )));
    }
    if !new.custom_name {
        let mut number = counter;
        while name_taken(conn, &conversation, &format!("table{number}"), "")? {
            number += 1;
        }
        dataset.name = format!("table{number}");
        diesel::update(conversations::table.find(&conversation))
            .set(conversations::next_table_number.eq(number + 1))
            .execute(conn)?;
    }
    let mut reused_upload = false;
    if let Some(upload) = new.upload {
        let existing: Option<String> = uploads::table
            .filter(uploads::user_id.eq(upload.user_id.to_string()))
            .filter(uploads::sha256.eq(&upload.sha256))
            .select(uploads::id)
            .first(conn)
            .optional()?;
        if let Some(existing) = existing {
            dataset.upload_id = Some(existing.parse().map_err(|_| {
                TxError::Refused(DatasetWriteError::Repository(RepositoryError::Corrupt(
                    "uploads.id".to_owned(),
                )))
            })?);
            reused_upload = true;
        } else {
            diesel::insert_into(uploads::table)
                .values(&UploadRow::from(&upload))
                .execute(conn)?;
            dataset.upload_id = Some(upload.id);
        }
    }
    let row = DatasetRow::try_from(&dataset)
        .map_err(|e| TxError::Refused(DatasetWriteError::Repository(e)))?;
    diesel::insert_into(datasets::table)
        .values(&row)
        .execute(conn)?;
    Ok(AddedDataset {
        dataset,
        reused_upload,
    })
}

#[async_trait]
impl DatasetRepository for SqliteDatabase {
    async fn insert(&self, dataset: &Dataset) -> Result<(), RepositoryError> {
        let row = DatasetRow::try_from(dataset)?;
        self.run(move |conn| {
            diesel::insert_into(datasets::table)
                .values(&row)
                .execute(conn)
                .map(|_| ())
                .map_err(repository_error)
        })
        .await
    }

    async fn add(&self, new: NewDataset) -> Result<AddedDataset, DatasetWriteError> {
        let outcome = self
            .run(move |conn| Ok(conn.immediate_transaction(|conn| add_in_transaction(conn, new))))
            .await?;
        outcome.map_err(DatasetWriteError::from)
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

    async fn find(
        &self,
        conversation: ConversationId,
        id: DatasetId,
    ) -> Result<Option<Dataset>, RepositoryError> {
        self.run(move |conn| {
            datasets::table
                .filter(datasets::id.eq(id.to_string()))
                .filter(datasets::conversation_id.eq(conversation.to_string()))
                .select(DatasetRow::as_select())
                .first(conn)
                .optional()
                .map_err(repository_error)?
                .map(Dataset::try_from)
                .transpose()
        })
        .await
    }

    async fn rename(&self, id: DatasetId, name: &str) -> Result<(), DatasetWriteError> {
        let name = name.to_owned();
        let outcome = self
            .run(move |conn| {
                Ok(conn.immediate_transaction(|conn| {
                    let id = id.to_string();
                    let conversation: Option<String> = datasets::table
                        .find(&id)
                        .select(datasets::conversation_id)
                        .first(conn)
                        .optional()?;
                    let Some(conversation) = conversation else {
                        return Ok(());
                    };
                    if name_taken(conn, &conversation, &name, &id)? {
                        return Err(TxError::Refused(DatasetWriteError::NameTaken(name.clone())));
                    }
                    diesel::update(datasets::table.find(&id))
                        .set(datasets::name.eq(&name))
                        .execute(conn)?;
                    Ok(())
                }))
            })
            .await?;
        outcome.map_err(DatasetWriteError::from)
    }

    async fn update_content(&self, dataset: &Dataset) -> Result<(), RepositoryError> {
        let row = DatasetRow::try_from(dataset)?;
        self.run(move |conn| {
            diesel::update(datasets::table.find(&row.id))
                .set((
                    datasets::format.eq(&row.format),
                    datasets::compression.eq(&row.compression),
                    datasets::status.eq(&row.status),
                    datasets::error_message.eq(&row.error_message),
                    datasets::row_count.eq(row.row_count),
                    datasets::column_count.eq(row.column_count),
                    datasets::schema_json.eq(&row.schema_json),
                    datasets::column_descriptions.eq(&row.column_descriptions),
                    datasets::file_size_bytes.eq(row.file_size_bytes),
                    datasets::etag.eq(&row.etag),
                    datasets::last_modified.eq(&row.last_modified),
                    datasets::version.eq(&row.version),
                    datasets::loaded_at.eq(&row.loaded_at),
                ))
                .execute(conn)
                .map(|_| ())
                .map_err(repository_error)
        })
        .await
    }

    async fn set_descriptions(
        &self,
        id: DatasetId,
        descriptions: &std::collections::BTreeMap<String, String>,
    ) -> Result<(), RepositoryError> {
        let descriptions = stored_json::descriptions_text(descriptions)?;
        self.run(move |conn| {
            diesel::update(datasets::table.find(id.to_string()))
                .set(datasets::column_descriptions.eq(descriptions))
                .execute(conn)
                .map(|_| ())
                .map_err(repository_error)
        })
        .await
    }

    async fn delete(&self, id: DatasetId) -> Result<Option<UploadId>, RepositoryError> {
        self.run(move |conn| {
            conn.immediate_transaction(|conn| {
                let id = id.to_string();
                let upload: Option<Option<String>> = datasets::table
                    .find(&id)
                    .select(datasets::upload_id)
                    .first(conn)
                    .optional()?;
                diesel::delete(datasets::table.find(&id)).execute(conn)?;
                let Some(Some(upload)) = upload else {
                    return Ok(None);
                };
                let still_used: i64 = datasets::table
                    .filter(datasets::upload_id.eq(&upload))
                    .count()
                    .get_result(conn)?;
                if still_used > 0 {
                    return Ok(None);
                }
                diesel::delete(uploads::table.find(&upload)).execute(conn)?;
                Ok(Some(upload))
            })
            .map_err(repository_error)?
            .map(|upload| {
                upload
                    .parse()
                    .map_err(|_| RepositoryError::Corrupt("uploads.id".to_owned()))
            })
            .transpose()
        })
        .await
    }

    async fn fail_interrupted_loads(&self, message: &str) -> Result<u64, RepositoryError> {
        let message = message.to_owned();
        self.run(move |conn| {
            diesel::update(datasets::table.filter(datasets::status.eq("loading")))
                .set((
                    datasets::status.eq("error"),
                    datasets::error_message.eq(message),
                ))
                .execute(conn)
                .map(|n| n as u64)
                .map_err(repository_error)
        })
        .await
    }

    async fn delete_unreferenced_uploads(
        &self,
        owner: UserId,
    ) -> Result<Vec<UploadId>, RepositoryError> {
        let ids: Vec<String> = self
            .run(move |conn| {
                conn.immediate_transaction(|conn| {
                    let theirs: Vec<String> = uploads::table
                        .filter(uploads::user_id.eq(owner.to_string()))
                        .select(uploads::id)
                        .load(conn)?;
                    let referenced: Vec<Option<String>> = datasets::table
                        .filter(datasets::upload_id.eq_any(&theirs))
                        .select(datasets::upload_id)
                        .distinct()
                        .load(conn)?;
                    let doomed: Vec<String> = theirs
                        .into_iter()
                        .filter(|id| !referenced.iter().flatten().any(|r| r == id))
                        .collect();
                    diesel::delete(uploads::table.filter(uploads::id.eq_any(&doomed)))
                        .execute(conn)?;
                    Ok(doomed)
                })
                .map_err(repository_error)
            })
            .await?;
        ids.iter()
            .map(|id| {
                id.parse()
                    .map_err(|_| RepositoryError::Corrupt("uploads.id".to_owned()))
            })
            .collect()
    }
}

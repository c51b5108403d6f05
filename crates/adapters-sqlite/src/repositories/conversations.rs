use async_trait::async_trait;
use diesel::prelude::*;
use diesel::sql_types::Text;
use tabletalk_ports::{
    Conversation, ConversationId, ConversationRepository, ConversationSummary, ConversationTitle,
    Dataset, Message, MessageMatch, PREVIEW_CHARS, RepositoryError, SearchText, Timestamp,
    TitleMatch, UserId,
};

use super::search;
use crate::SqliteDatabase;
use crate::error::repository_error;
use crate::rows::{ConversationRow, DatasetRow, MessageRow, SummaryRow};
use crate::schema::{conversations, datasets, messages, uploads};

/// One query for the whole list: the aggregates are correlated subqueries served by the
/// `(conversation_id, created_at, id)` indexes, so the cost grows with the owner's conversations only.
fn summary_query() -> String {
    format!(
        "SELECT c.*, \
           (SELECT COUNT(*) FROM datasets d WHERE d.conversation_id = c.id) AS dataset_count, \
           (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id) AS message_count, \
           (SELECT substr(m.content, 1, {PREVIEW_CHARS}) FROM messages m WHERE m.conversation_id = c.id \
              ORDER BY m.created_at DESC, m.id DESC LIMIT 1) AS last_message_preview \
         FROM conversations c WHERE c.user_id = ? AND c.is_archived = ? \
         ORDER BY c.is_pinned DESC, c.updated_at DESC, c.id DESC"
    )
}

fn update_returning(
    conn: &mut SqliteConnection,
    id: ConversationId,
    change: impl FnOnce(&mut SqliteConnection, String) -> QueryResult<Option<ConversationRow>>,
) -> Result<Option<Conversation>, RepositoryError> {
    change(conn, id.to_string())
        .map_err(repository_error)?
        .map(Conversation::try_from)
        .transpose()
}

#[async_trait]
impl ConversationRepository for SqliteDatabase {
    async fn create(&self, conversation: &Conversation) -> Result<(), RepositoryError> {
        let row = ConversationRow::try_from(conversation)?;
        self.run(move |conn| {
            diesel::insert_into(conversations::table)
                .values(&row)
                .execute(conn)
                .map(|_| ())
                .map_err(repository_error)
        })
        .await
    }

    async fn find(&self, id: ConversationId) -> Result<Option<Conversation>, RepositoryError> {
        self.run(move |conn| {
            conversations::table
                .find(id.to_string())
                .select(ConversationRow::as_select())
                .first(conn)
                .optional()
                .map_err(repository_error)?
                .map(Conversation::try_from)
                .transpose()
        })
        .await
    }

    async fn list_for_owner(
        &self,
        owner: UserId,
        archived: bool,
    ) -> Result<Vec<ConversationSummary>, RepositoryError> {
        self.run(move |conn| {
            diesel::sql_query(summary_query())
                .bind::<Text, _>(owner.to_string())
                .bind::<diesel::sql_types::Bool, _>(archived)
                .load::<SummaryRow>(conn)
                .map_err(repository_error)?
                .into_iter()
                .map(ConversationSummary::try_from)
                .collect()
        })
        .await
    }

    async fn rename(
        &self,
        id: ConversationId,
        title: &ConversationTitle,
        now: Timestamp,
    ) -> Result<Option<Conversation>, RepositoryError> {
        let title = title.as_ref().to_owned();
        self.run(move |conn| {
            update_returning(conn, id, |conn, id| {
                diesel::update(conversations::table.find(id))
                    .set((
                        conversations::title.eq(title),
                        conversations::updated_at.eq(now.to_string()),
                    ))
                    .returning(ConversationRow::as_returning())
                    .get_result(conn)
                    .optional()
            })
        })
        .await
    }

    async fn set_pinned(
        &self,
        id: ConversationId,
        pinned: bool,
        now: Timestamp,
    ) -> Result<Option<Conversation>, RepositoryError> {
        self.run(move |conn| {
            update_returning(conn, id, |conn, id| {
                diesel::update(conversations::table.find(id))
                    .set((
                        conversations::is_pinned.eq(pinned),
                        conversations::updated_at.eq(now.to_string()),
                    ))
                    .returning(ConversationRow::as_returning())
                    .get_result(conn)
                    .optional()
            })
        })
        .await
    }

    async fn set_archived(
        &self,
        id: ConversationId,
        archived: bool,
    ) -> Result<Option<Conversation>, RepositoryError> {
        self.run(move |conn| {
            update_returning(conn, id, |conn, id| {
                diesel::update(conversations::table.find(id))
                    .set(conversations::is_archived.eq(archived))
                    .returning(ConversationRow::as_returning())
                    .get_result(conn)
                    .optional()
            })
        })
        .await
    }

    async fn archive_all(&self, owner: UserId) -> Result<u64, RepositoryError> {
        self.run(move |conn| {
            let archived = diesel::update(
                conversations::table
                    .filter(conversations::user_id.eq(owner.to_string()))
                    .filter(conversations::is_archived.eq(false)),
            )
            .set(conversations::is_archived.eq(true))
            .execute(conn)
            .map_err(repository_error)?;
            Ok(archived as u64)
        })
        .await
    }

    async fn set_pinned_many(
        &self,
        owner: UserId,
        ids: &[ConversationId],
        pinned: bool,
    ) -> Result<u64, RepositoryError> {
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        self.run(move |conn| {
            diesel::update(
                conversations::table
                    .filter(conversations::user_id.eq(owner.to_string()))
                    .filter(conversations::id.eq_any(&ids)),
            )
            .set(conversations::is_pinned.eq(pinned))
            .execute(conn)
            .map(|rows| rows as u64)
            .map_err(repository_error)
        })
        .await
    }

    async fn delete(&self, id: ConversationId) -> Result<bool, RepositoryError> {
        // Messages and datasets go by ON DELETE CASCADE; token usage and query history by ON DELETE SET NULL.
        self.run(move |conn| {
            diesel::delete(conversations::table.find(id.to_string()))
                .execute(conn)
                .map(|n| n > 0)
                .map_err(repository_error)
        })
        .await
    }

    async fn delete_all_for_owner(
        &self,
        owner: UserId,
    ) -> Result<Vec<ConversationId>, RepositoryError> {
        let ids: Vec<String> = self
            .run(move |conn| {
                conn.immediate_transaction(|conn| {
                    let theirs =
                        conversations::table.filter(conversations::user_id.eq(owner.to_string()));
                    let ids = theirs.clone().select(conversations::id).load(conn)?;
                    diesel::delete(theirs).execute(conn)?;
                    Ok(ids)
                })
                .map_err(repository_error)
            })
            .await?;
        ids.iter()
            .map(|id| {
                id.parse()
                    .map_err(|_| RepositoryError::Corrupt("conversations.id".to_owned()))
            })
            .collect()
    }

    async fn create_with_contents(
        &self,
        conversation: &Conversation,
        messages: &[Message],
        datasets: &[Dataset],
    ) -> Result<(), RepositoryError> {
        let owner = conversation.user_id.to_string();
        let conversation = ConversationRow::try_from(conversation)?;
        let messages: Vec<MessageRow> = messages
            .iter()
            .map(MessageRow::try_from)
            .collect::<Result<_, _>>()?;
        let datasets: Vec<DatasetRow> = datasets
            .iter()
            .map(DatasetRow::try_from)
            .collect::<Result<_, _>>()?;
        self.run(move |conn| {
            conn.immediate_transaction(|conn| {
                diesel::insert_into(conversations::table)
                    .values(&conversation)
                    .execute(conn)?;
                // One statement per row: a multi-row insert would hit SQLite's bound-parameter limit.
                for message in &messages {
                    diesel::insert_into(messages::table)
                        .values(message)
                        .execute(conn)?;
                }
                for dataset in &datasets {
                    if let Some(upload) = &dataset.upload_id {
                        let owners_upload: i64 = uploads::table
                            .find(upload)
                            .filter(uploads::user_id.eq(&owner))
                            .count()
                            .get_result(conn)?;
                        if owners_upload == 0 {
                            return Err(diesel::result::Error::DatabaseError(
                                diesel::result::DatabaseErrorKind::ForeignKeyViolation,
                                Box::new(
                                    "datasets.upload_id references an upload of the owner"
                                        .to_owned(),
                                ),
                            ));
                        }
                    }
                    diesel::insert_into(datasets::table)
                        .values(dataset)
                        .execute(conn)?;
                }
                Ok(())
            })
            .map_err(repository_error)
        })
        .await
    }

    async fn search_messages(
        &self,
        owner: UserId,
        text: &SearchText,
        limit: usize,
    ) -> Result<Vec<MessageMatch>, RepositoryError> {
        let text = text.clone();
        self.run(move |conn| search::search_messages(conn, &owner.to_string(), &text, limit))
            .await
    }

    async fn search_titles(
        &self,
        owner: UserId,
        text: &SearchText,
        limit: usize,
    ) -> Result<Vec<TitleMatch>, RepositoryError> {
        let text = text.clone();
        self.run(move |conn| search::search_titles(conn, &owner.to_string(), &text, limit))
            .await
    }

    async fn share(
        &self,
        id: ConversationId,
        token: &str,
        now: Timestamp,
    ) -> Result<Option<Conversation>, RepositoryError> {
        let token = token.to_owned();
        self.run(move |conn| {
            conn.immediate_transaction(|conn| {
                diesel::update(
                    conversations::table
                        .find(id.to_string())
                        .filter(conversations::share_token.is_null()),
                )
                .set((
                    conversations::share_token.eq(&token),
                    conversations::shared_at.eq(now.to_string()),
                ))
                .execute(conn)?;
                conversations::table
                    .find(id.to_string())
                    .select(ConversationRow::as_select())
                    .first(conn)
                    .optional()
            })
            .map_err(repository_error)?
            .map(Conversation::try_from)
            .transpose()
        })
        .await
    }

    async fn unshare(&self, id: ConversationId) -> Result<bool, RepositoryError> {
        self.run(move |conn| {
            diesel::update(conversations::table.find(id.to_string()))
                .set((
                    conversations::share_token.eq(None::<String>),
                    conversations::shared_at.eq(None::<String>),
                ))
                .execute(conn)
                .map(|n| n > 0)
                .map_err(repository_error)
        })
        .await
    }

    async fn find_shared(&self, token: &str) -> Result<Option<Conversation>, RepositoryError> {
        let token = token.to_owned();
        self.run(move |conn| {
            conversations::table
                .filter(conversations::share_token.eq(token))
                .select(ConversationRow::as_select())
                .first(conn)
                .optional()
                .map_err(repository_error)?
                .map(Conversation::try_from)
                .transpose()
        })
        .await
    }
}

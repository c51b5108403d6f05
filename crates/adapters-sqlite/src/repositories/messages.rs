use async_trait::async_trait;
use diesel::prelude::*;
use tabletalk_ports::{
    ConversationId, Message, MessageId, MessageRepository, RepositoryError, TokenUsage,
};

use crate::SqliteDatabase;
use crate::error::repository_error;
use crate::rows::MessageRow;
use crate::schema::{conversations, messages, token_usage};

#[async_trait]
impl MessageRepository for SqliteDatabase {
    async fn append(&self, message: &Message) -> Result<(), RepositoryError> {
        let row = MessageRow::try_from(message)?;
        self.run(move |conn| {
            conn.immediate_transaction(|conn| {
                diesel::insert_into(messages::table)
                    .values(&row)
                    .execute(conn)?;
                diesel::update(conversations::table.find(&row.conversation_id))
                    .set(conversations::updated_at.eq(&row.created_at))
                    .execute(conn)?;
                Ok(())
            })
            .map_err(repository_error)
        })
        .await
    }

    async fn delete(
        &self,
        conversation: ConversationId,
        id: MessageId,
    ) -> Result<bool, RepositoryError> {
        self.run(move |conn| {
            diesel::delete(
                messages::table
                    .filter(messages::id.eq(id.to_string()))
                    .filter(messages::conversation_id.eq(conversation.to_string())),
            )
            .execute(conn)
            .map(|rows| rows > 0)
            .map_err(repository_error)
        })
        .await
    }

    async fn replace_exchange(
        &self,
        conversation: ConversationId,
        answer: MessageId,
        question: MessageId,
        replacement: &Message,
    ) -> Result<bool, RepositoryError> {
        let row = MessageRow::try_from(replacement)?;
        let conversation = conversation.to_string();
        let doomed = [answer.to_string(), question.to_string()];
        self.run(move |conn| {
            conn.immediate_transaction(|conn| {
                let deleted = diesel::delete(
                    messages::table
                        .filter(messages::id.eq_any(&doomed))
                        .filter(messages::conversation_id.eq(&conversation)),
                )
                .execute(conn)?;
                if deleted != 2 {
                    // Rolls the transaction back: one of them went meanwhile, so nothing changes.
                    return Err(diesel::result::Error::RollbackTransaction);
                }
                diesel::insert_into(messages::table)
                    .values(&row)
                    .execute(conn)?;
                diesel::update(conversations::table.find(&conversation))
                    .set(conversations::updated_at.eq(&row.created_at))
                    .execute(conn)?;
                Ok(true)
            })
            .or_else(|error| match error {
                diesel::result::Error::RollbackTransaction => Ok(false),
                other => Err(repository_error(other)),
            })
        })
        .await
    }

    async fn append_user_message(
        &self,
        message: &Message,
        title: &str,
    ) -> Result<bool, RepositoryError> {
        let row = MessageRow::try_from(message)?;
        let title = title.to_owned();
        self.run(move |conn| {
            conn.immediate_transaction(|conn| {
                diesel::insert_into(messages::table)
                    .values(&row)
                    .execute(conn)?;
                diesel::update(conversations::table.find(&row.conversation_id))
                    .set(conversations::updated_at.eq(&row.created_at))
                    .execute(conn)?;
                if title.is_empty() {
                    return Ok(false);
                }
                let titled = diesel::update(
                    conversations::table
                        .find(&row.conversation_id)
                        .filter(conversations::title.eq("")),
                )
                .set(conversations::title.eq(&title))
                .execute(conn)?;
                Ok(titled == 1)
            })
            .map_err(repository_error)
        })
        .await
    }

    async fn finish_turn(
        &self,
        message: Option<&Message>,
        usage: Option<&TokenUsage>,
    ) -> Result<bool, RepositoryError> {
        let row = message.map(MessageRow::try_from).transpose()?;
        let usage = usage.cloned();
        self.run(move |conn| {
            conn.immediate_transaction(|conn| {
                let mut stored = false;
                if let Some(row) = &row {
                    let exists: i64 = conversations::table
                        .find(&row.conversation_id)
                        .count()
                        .get_result(conn)?;
                    if exists == 1 {
                        diesel::insert_into(messages::table)
                            .values(row)
                            .execute(conn)?;
                        diesel::update(conversations::table.find(&row.conversation_id))
                            .set(conversations::updated_at.eq(&row.created_at))
                            .execute(conn)?;
                        stored = true;
                    }
                }
                if let Some(usage) = &usage {
                    let mut conversation = usage.conversation_id.map(|c| c.to_string());
                    if let Some(id) = &conversation {
                        let exists: i64 = conversations::table.find(id).count().get_result(conn)?;
                        if exists == 0 {
                            conversation = None;
                        }
                    }
                    let message_id = if stored {
                        usage.message_id.map(|m| m.to_string())
                    } else {
                        None
                    };
                    diesel::insert_into(token_usage::table)
                        .values((
                            token_usage::id.eq(usage.id.to_string()),
                            token_usage::user_id.eq(usage.user_id.to_string()),
                            token_usage::conversation_id.eq(conversation),
                            token_usage::message_id.eq(message_id),
                            token_usage::call_kind.eq(usage.call_kind.as_str()),
                            token_usage::provider.eq(usage.provider.as_str()),
                            token_usage::model_name.eq(usage.model_name.clone()),
                            token_usage::input_tokens.eq(usage.input_tokens),
                            token_usage::output_tokens.eq(usage.output_tokens),
                            token_usage::estimated.eq(usage.estimated),
                            token_usage::cost.eq(usage.cost),
                            token_usage::timestamp.eq(usage.timestamp.to_string()),
                        ))
                        .execute(conn)?;
                }
                Ok(stored)
            })
            .map_err(repository_error)
        })
        .await
    }

    async fn list_for_conversation(
        &self,
        conversation: ConversationId,
    ) -> Result<Vec<Message>, RepositoryError> {
        self.run(move |conn| {
            messages::table
                .filter(messages::conversation_id.eq(conversation.to_string()))
                .order((messages::created_at.asc(), messages::id.asc()))
                .select(MessageRow::as_select())
                .load(conn)
                .map_err(repository_error)?
                .into_iter()
                .map(Message::try_from)
                .collect()
        })
        .await
    }

    async fn list_recent(
        &self,
        conversation: ConversationId,
        limit: usize,
    ) -> Result<Vec<Message>, RepositoryError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |conn| {
            // Newest first through the (conversation_id, created_at, id) index, then put back in order.
            messages::table
                .filter(messages::conversation_id.eq(conversation.to_string()))
                .order((messages::created_at.desc(), messages::id.desc()))
                .limit(limit)
                .select(MessageRow::as_select())
                .load(conn)
                .map_err(repository_error)?
                .into_iter()
                .rev()
                .map(Message::try_from)
                .collect()
        })
        .await
    }
}

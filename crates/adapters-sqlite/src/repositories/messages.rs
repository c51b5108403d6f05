use async_trait::async_trait;
use diesel::prelude::*;
use tabletalk_ports::{ConversationId, Message, MessageRepository, RepositoryError};

use crate::SqliteDatabase;
use crate::error::repository_error;
use crate::rows::MessageRow;
use crate::schema::{conversations, messages};

#[async_trait]
impl MessageRepository for SqliteDatabase {
    async fn append(&self, message: &Message) -> Result<(), RepositoryError> {
        let row = MessageRow::from(message);
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
}

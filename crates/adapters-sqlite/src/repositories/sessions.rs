use async_trait::async_trait;
use diesel::prelude::*;
use tabletalk_ports::{
    RepositoryError, Session, SessionId, SessionRepository, Timestamp, TokenHash,
};

use crate::SqliteDatabase;
use crate::error::repository_error;
use crate::rows::SessionRow;
use crate::schema::sessions;

#[async_trait]
impl SessionRepository for SqliteDatabase {
    async fn create(&self, session: &Session) -> Result<(), RepositoryError> {
        let row = SessionRow::from(session);
        self.run(move |conn| {
            diesel::insert_into(sessions::table)
                .values(&row)
                .execute(conn)
                .map(|_| ())
                .map_err(repository_error)
        })
        .await
    }

    async fn find_by_token_hash(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<Session>, RepositoryError> {
        let hash = hash.0.to_vec();
        self.run(move |conn| {
            sessions::table
                .filter(sessions::token_hash.eq(hash))
                .select(SessionRow::as_select())
                .first(conn)
                .optional()
                .map_err(repository_error)?
                .map(Session::try_from)
                .transpose()
        })
        .await
    }

    async fn extend(
        &self,
        id: SessionId,
        expires_at: Timestamp,
        extended_at: Timestamp,
    ) -> Result<bool, RepositoryError> {
        self.run(move |conn| {
            diesel::update(sessions::table.find(id.to_string()))
                .set((
                    sessions::expires_at.eq(expires_at.to_string()),
                    sessions::last_extended_at.eq(extended_at.to_string()),
                ))
                .execute(conn)
                .map(|n| n > 0)
                .map_err(repository_error)
        })
        .await
    }

    async fn delete(&self, id: SessionId) -> Result<bool, RepositoryError> {
        self.run(move |conn| {
            diesel::delete(sessions::table.find(id.to_string()))
                .execute(conn)
                .map(|n| n > 0)
                .map_err(repository_error)
        })
        .await
    }

    async fn delete_expired(&self, now: Timestamp) -> Result<u64, RepositoryError> {
        self.run(move |conn| {
            diesel::delete(sessions::table.filter(sessions::expires_at.le(now.to_string())))
                .execute(conn)
                .map(|n| n as u64)
                .map_err(repository_error)
        })
        .await
    }
}

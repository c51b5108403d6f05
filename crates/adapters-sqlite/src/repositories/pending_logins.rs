use async_trait::async_trait;
use diesel::prelude::*;
use tabletalk_ports::{PendingLogin, PendingLoginRepository, RepositoryError, Timestamp};

use crate::SqliteDatabase;
use crate::error::repository_error;
use crate::rows::parse;
use crate::schema::oidc_pending_logins as pending;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = pending, check_for_backend(diesel::sqlite::Sqlite))]
struct PendingLoginRow {
    state: String,
    pkce_verifier: String,
    nonce: String,
    referral_key: Option<String>,
    created_at: String,
    expires_at: String,
}

impl TryFrom<PendingLoginRow> for PendingLogin {
    type Error = RepositoryError;

    fn try_from(row: PendingLoginRow) -> Result<Self, Self::Error> {
        Ok(Self {
            state: row.state,
            pkce_verifier: row.pkce_verifier,
            nonce: row.nonce,
            referral_key: row.referral_key,
            created_at: parse(&row.created_at, "oidc_pending_logins.created_at")?,
            expires_at: parse(&row.expires_at, "oidc_pending_logins.expires_at")?,
        })
    }
}

#[async_trait]
impl PendingLoginRepository for SqliteDatabase {
    async fn insert(&self, login: &PendingLogin) -> Result<(), RepositoryError> {
        let row = PendingLoginRow {
            state: login.state.clone(),
            pkce_verifier: login.pkce_verifier.clone(),
            nonce: login.nonce.clone(),
            referral_key: login.referral_key.clone(),
            created_at: login.created_at.to_string(),
            expires_at: login.expires_at.to_string(),
        };
        self.run(move |conn| {
            diesel::insert_into(pending::table)
                .values(&row)
                .execute(conn)
                .map(|_| ())
                .map_err(repository_error)
        })
        .await
    }

    async fn consume(
        &self,
        state: &str,
        now: Timestamp,
    ) -> Result<Option<PendingLogin>, RepositoryError> {
        let state = state.to_owned();
        self.run(move |conn| {
            // One DELETE … RETURNING: two callbacks racing on one state cannot both get the row.
            diesel::delete(
                pending::table
                    .filter(pending::state.eq(state))
                    .filter(pending::expires_at.gt(now.to_string())),
            )
            .returning(PendingLoginRow::as_returning())
            .get_result(conn)
            .optional()
            .map_err(repository_error)?
            .map(PendingLogin::try_from)
            .transpose()
        })
        .await
    }

    async fn discard(&self, state: &str) -> Result<(), RepositoryError> {
        let state = state.to_owned();
        self.run(move |conn| {
            diesel::delete(pending::table.find(state))
                .execute(conn)
                .map(|_| ())
                .map_err(repository_error)
        })
        .await
    }

    async fn delete_expired(&self, now: Timestamp) -> Result<u64, RepositoryError> {
        self.run(move |conn| {
            diesel::delete(pending::table.filter(pending::expires_at.le(now.to_string())))
                .execute(conn)
                .map(|n| n as u64)
                .map_err(repository_error)
        })
        .await
    }
}

use async_trait::async_trait;
use diesel::prelude::*;
use diesel::upsert::excluded;
use tabletalk_ports::{Identity, RepositoryError, Timestamp, User, UserId, UserRepository};

use crate::SqliteDatabase;
use crate::error::repository_error;
use crate::rows::UserRow;
use crate::schema::{referral_keys, users};

fn new_row(identity: &Identity, now: Timestamp) -> UserRow {
    UserRow {
        id: UserId::new().to_string(),
        oidc_issuer: identity.issuer.clone(),
        oidc_subject: identity.subject.clone(),
        email: identity.email.clone(),
        name: identity.name.clone(),
        avatar_url: identity.avatar_url.clone(),
        created_at: now.to_string(),
        last_login_at: now.to_string(),
    }
}

#[async_trait]
impl UserRepository for SqliteDatabase {
    async fn sign_in(&self, identity: &Identity, now: Timestamp) -> Result<User, RepositoryError> {
        let row = new_row(identity, now);
        self.run(move |conn| {
            diesel::insert_into(users::table)
                .values(&row)
                .on_conflict((users::oidc_issuer, users::oidc_subject))
                .do_update()
                .set((
                    users::email.eq(excluded(users::email)),
                    users::name.eq(excluded(users::name)),
                    users::avatar_url.eq(excluded(users::avatar_url)),
                    users::last_login_at.eq(excluded(users::last_login_at)),
                ))
                .returning(UserRow::as_returning())
                .get_result(conn)
                .map_err(repository_error)?
                .try_into()
        })
        .await
    }

    async fn find_by_identity(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<User>, RepositoryError> {
        let (issuer, subject) = (issuer.to_owned(), subject.to_owned());
        self.run(move |conn| {
            users::table
                .filter(users::oidc_issuer.eq(issuer))
                .filter(users::oidc_subject.eq(subject))
                .select(UserRow::as_select())
                .first(conn)
                .optional()
                .map_err(repository_error)?
                .map(User::try_from)
                .transpose()
        })
        .await
    }

    async fn create_with_referral(
        &self,
        identity: &Identity,
        referral_key: &str,
        now: Timestamp,
    ) -> Result<Option<User>, RepositoryError> {
        let row = new_row(identity, now);
        let key = referral_key.to_owned();
        self.run(move |conn| {
            let created = conn.immediate_transaction(|conn| {
                let user: UserRow = diesel::insert_into(users::table)
                    .values(&row)
                    .returning(UserRow::as_returning())
                    .get_result(conn)?;
                let consumed = diesel::update(
                    referral_keys::table
                        .filter(referral_keys::key.eq(&key))
                        .filter(referral_keys::used_at.is_null()),
                )
                .set((
                    referral_keys::used_by.eq(&user.id),
                    referral_keys::used_at.eq(&row.created_at),
                ))
                .execute(conn)?;
                // No key consumed: roll the user back too, so a failed sign-in stores nothing.
                if consumed == 0 {
                    Err(diesel::result::Error::RollbackTransaction)
                } else {
                    Ok(user)
                }
            });
            match created {
                Ok(user) => User::try_from(user).map(Some),
                Err(diesel::result::Error::RollbackTransaction) => Ok(None),
                Err(other) => Err(repository_error(other)),
            }
        })
        .await
    }

    async fn find(&self, id: UserId) -> Result<Option<User>, RepositoryError> {
        self.run(move |conn| {
            users::table
                .find(id.to_string())
                .select(UserRow::as_select())
                .first(conn)
                .optional()
                .map_err(repository_error)?
                .map(User::try_from)
                .transpose()
        })
        .await
    }

    async fn list_all(&self) -> Result<Vec<User>, RepositoryError> {
        self.run(move |conn| {
            users::table
                .order((users::created_at.asc(), users::id.asc()))
                .select(UserRow::as_select())
                .load(conn)
                .map_err(repository_error)?
                .into_iter()
                .map(User::try_from)
                .collect()
        })
        .await
    }
}

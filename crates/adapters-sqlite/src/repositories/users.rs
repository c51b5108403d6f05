use async_trait::async_trait;
use diesel::prelude::*;
use diesel::upsert::excluded;
use tabletalk_ports::{Identity, RepositoryError, Timestamp, User, UserId, UserRepository};

use crate::SqliteDatabase;
use crate::error::repository_error;
use crate::rows::UserRow;
use crate::schema::users;

#[async_trait]
impl UserRepository for SqliteDatabase {
    async fn sign_in(&self, identity: &Identity, now: Timestamp) -> Result<User, RepositoryError> {
        let row = UserRow {
            id: UserId::new().to_string(),
            oidc_issuer: identity.issuer.clone(),
            oidc_subject: identity.subject.clone(),
            email: identity.email.clone(),
            name: identity.name.clone(),
            avatar_url: identity.avatar_url.clone(),
            created_at: now.to_string(),
            last_login_at: now.to_string(),
        };
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
}

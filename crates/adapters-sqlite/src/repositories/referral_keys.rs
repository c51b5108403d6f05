use async_trait::async_trait;
use diesel::prelude::*;
use tabletalk_ports::{ReferralKey, ReferralKeyRepository, RepositoryError, Timestamp, UserId};

use crate::SqliteDatabase;
use crate::error::repository_error;
use crate::rows::parse;
use crate::schema::{referral_keys, users};

type ListedRow = (
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
);

fn listed(row: ListedRow) -> Result<ReferralKey, RepositoryError> {
    let (key, created_by, created_at, used_at, used_by_email) = row;
    Ok(ReferralKey {
        key,
        created_by: created_by
            .map(|id| parse(&id, "referral_keys.created_by"))
            .transpose()?,
        created_at: parse(&created_at, "referral_keys.created_at")?,
        used_at: used_at
            .map(|t| parse(&t, "referral_keys.used_at"))
            .transpose()?,
        used_by_email,
    })
}

#[async_trait]
impl ReferralKeyRepository for SqliteDatabase {
    async fn create(
        &self,
        keys: &[String],
        created_by: Option<UserId>,
        now: Timestamp,
    ) -> Result<(), RepositoryError> {
        let rows: Vec<_> = keys
            .iter()
            .map(|key| {
                (
                    referral_keys::key.eq(key.clone()),
                    referral_keys::created_by.eq(created_by.map(|u| u.to_string())),
                    referral_keys::created_at.eq(now.to_string()),
                )
            })
            .collect();
        self.run(move |conn| {
            conn.immediate_transaction(|conn| {
                for row in rows {
                    diesel::insert_into(referral_keys::table)
                        .values(row)
                        .execute(conn)?;
                }
                Ok(())
            })
            .map_err(repository_error)
        })
        .await
    }

    async fn list(&self, unused_only: bool) -> Result<Vec<ReferralKey>, RepositoryError> {
        self.run(move |conn| {
            let mut query = referral_keys::table
                .left_join(users::table)
                .select((
                    referral_keys::key,
                    referral_keys::created_by,
                    referral_keys::created_at,
                    referral_keys::used_at,
                    users::email.nullable(),
                ))
                .order((referral_keys::created_at.asc(), referral_keys::key.asc()))
                .into_boxed();
            if unused_only {
                query = query.filter(referral_keys::used_at.is_null());
            }
            query
                .load::<ListedRow>(conn)
                .map_err(repository_error)?
                .into_iter()
                .map(listed)
                .collect()
        })
        .await
    }
}

use async_trait::async_trait;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use tabletalk_ports::{
    RepositoryError, Timestamp, TokenUsage, TokenUsageRepository, UsageEntry, UserId,
};

use crate::SqliteDatabase;
use crate::error::repository_error;
use crate::rows::parse;
use crate::schema::token_usage;

#[derive(QueryableByName)]
struct WindowTotals {
    #[diesel(sql_type = BigInt)]
    tokens: i64,
    #[diesel(sql_type = Nullable<Text>)]
    oldest: Option<String>,
}

#[async_trait]
impl TokenUsageRepository for SqliteDatabase {
    async fn record(&self, usage: &TokenUsage) -> Result<(), RepositoryError> {
        let values = (
            token_usage::id.eq(usage.id.to_string()),
            token_usage::user_id.eq(usage.user_id.to_string()),
            token_usage::conversation_id.eq(usage.conversation_id.map(|c| c.to_string())),
            token_usage::message_id.eq(usage.message_id.map(|m| m.to_string())),
            token_usage::call_kind.eq(usage.call_kind.as_str()),
            token_usage::provider.eq(usage.provider.as_str()),
            token_usage::model_name.eq(usage.model_name.clone()),
            token_usage::input_tokens.eq(usage.input_tokens),
            token_usage::output_tokens.eq(usage.output_tokens),
            token_usage::estimated.eq(usage.estimated),
            token_usage::cost.eq(usage.cost),
            token_usage::timestamp.eq(usage.timestamp.to_string()),
        );
        self.run(move |conn| {
            diesel::insert_into(token_usage::table)
                .values(values)
                .execute(conn)
                .map(|_| ())
                .map_err(repository_error)
        })
        .await
    }

    async fn totals_for_conversation(
        &self,
        conversation: tabletalk_ports::ConversationId,
    ) -> Result<(i64, i64, f64, i64), RepositoryError> {
        self.run(move |conn| {
            let rows: Vec<(i64, i64, f64)> = token_usage::table
                .filter(token_usage::conversation_id.eq(conversation.to_string()))
                .select((
                    token_usage::input_tokens,
                    token_usage::output_tokens,
                    token_usage::cost,
                ))
                .load(conn)
                .map_err(repository_error)?;
            Ok((
                rows.iter().map(|r| r.0).sum(),
                rows.iter().map(|r| r.1).sum(),
                rows.iter().map(|r| r.2).sum(),
                i64::try_from(rows.len()).unwrap_or(i64::MAX),
            ))
        })
        .await
    }

    async fn window_totals(
        &self,
        user: UserId,
        since: Timestamp,
    ) -> Result<(i64, Option<Timestamp>), RepositoryError> {
        let row: WindowTotals = self
            .run(move |conn| {
                // One indexed range scan inside SQLite: no rows cross into Rust.
                diesel::sql_query(
                    "SELECT COALESCE(SUM(input_tokens + output_tokens), 0) AS tokens, \
                     MIN(timestamp) AS oldest FROM token_usage WHERE user_id = ? AND timestamp > ?",
                )
                .bind::<Text, _>(user.to_string())
                .bind::<Text, _>(since.to_string())
                .get_result(conn)
                .map_err(repository_error)
            })
            .await?;
        let oldest = row
            .oldest
            .map(|at| parse(&at, "token_usage.timestamp"))
            .transpose()?;
        Ok((row.tokens, oldest))
    }

    async fn entries_since(
        &self,
        user: UserId,
        since: Timestamp,
    ) -> Result<Vec<UsageEntry>, RepositoryError> {
        self.run(move |conn| {
            token_usage::table
                .filter(token_usage::user_id.eq(user.to_string()))
                .filter(token_usage::timestamp.gt(since.to_string()))
                .order((token_usage::timestamp.asc(), token_usage::id.asc()))
                .select((
                    token_usage::timestamp,
                    token_usage::input_tokens,
                    token_usage::output_tokens,
                ))
                .load::<(String, i64, i64)>(conn)
                .map_err(repository_error)?
                .into_iter()
                .map(|(at, input, output)| {
                    Ok(UsageEntry {
                        timestamp: parse(&at, "token_usage.timestamp")?,
                        tokens: input + output,
                    })
                })
                .collect()
        })
        .await
    }
}

use async_trait::async_trait;
use diesel::prelude::*;
use tabletalk_ports::{
    HistoryId, QueryHistoryEntry, QueryHistoryFilter, QueryHistoryRepository, RepositoryError,
    UserId,
};

use crate::SqliteDatabase;
use crate::error::repository_error;
use crate::rows::HistoryRow;
use crate::schema::query_history;

#[async_trait]
impl QueryHistoryRepository for SqliteDatabase {
    async fn record(
        &self,
        entry: &QueryHistoryEntry,
        max_entries: u64,
    ) -> Result<(), RepositoryError> {
        let row = HistoryRow::from(entry);
        let keep = i64::try_from(max_entries).unwrap_or(i64::MAX);
        self.run(move |conn| {
            conn.immediate_transaction(|conn| {
                diesel::insert_into(query_history::table)
                    .values(&row)
                    .execute(conn)?;
                let total: i64 = query_history::table
                    .filter(query_history::user_id.eq(&row.user_id))
                    .count()
                    .get_result(conn)?;
                if total > keep {
                    let doomed: Vec<String> = query_history::table
                        .filter(query_history::user_id.eq(&row.user_id))
                        .filter(query_history::is_starred.eq(false))
                        .order((query_history::created_at.asc(), query_history::id.asc()))
                        .limit(total - keep)
                        .select(query_history::id)
                        .load(conn)?;
                    diesel::delete(query_history::table.filter(query_history::id.eq_any(doomed)))
                        .execute(conn)?;
                }
                Ok(())
            })
            .map_err(repository_error)
        })
        .await
    }

    async fn list(
        &self,
        user: UserId,
        filter: &QueryHistoryFilter,
    ) -> Result<(Vec<QueryHistoryEntry>, u64), RepositoryError> {
        let filter = filter.clone();
        self.run(move |conn| {
            let matching = || {
                let mut query = query_history::table
                    .filter(query_history::user_id.eq(user.to_string()))
                    .into_boxed();
                if let Some(starred) = filter.starred {
                    query = query.filter(query_history::is_starred.eq(starred));
                }
                if let Some(source) = filter.source {
                    query = query.filter(query_history::source.eq(source.as_str()));
                }
                query
            };
            let total: i64 = matching()
                .count()
                .get_result(conn)
                .map_err(repository_error)?;
            let rows: Vec<HistoryRow> = matching()
                .order((query_history::created_at.desc(), query_history::id.desc()))
                .limit(i64::from(filter.limit))
                .offset(i64::try_from(filter.offset).unwrap_or(i64::MAX))
                .select(HistoryRow::as_select())
                .load(conn)
                .map_err(repository_error)?;
            let entries = rows
                .into_iter()
                .map(QueryHistoryEntry::try_from)
                .collect::<Result<Vec<_>, _>>()?;
            Ok((entries, u64::try_from(total).unwrap_or(0)))
        })
        .await
    }

    async fn toggle_star(
        &self,
        user: UserId,
        id: HistoryId,
    ) -> Result<Option<bool>, RepositoryError> {
        self.run(move |conn| {
            diesel::update(
                query_history::table
                    .filter(query_history::id.eq(id.to_string()))
                    .filter(query_history::user_id.eq(user.to_string())),
            )
            .set(query_history::is_starred.eq(diesel::dsl::not(query_history::is_starred)))
            .returning(query_history::is_starred)
            .get_result(conn)
            .optional()
            .map_err(repository_error)
        })
        .await
    }

    async fn delete_all(&self, user: UserId) -> Result<u64, RepositoryError> {
        self.run(move |conn| {
            diesel::delete(query_history::table.filter(query_history::user_id.eq(user.to_string())))
                .execute(conn)
                .map(|n| n as u64)
                .map_err(repository_error)
        })
        .await
    }
}

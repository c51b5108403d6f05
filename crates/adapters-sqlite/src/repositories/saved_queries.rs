use async_trait::async_trait;
use diesel::prelude::*;
use tabletalk_ports::{
    RepositoryError, SavedQuery, SavedQueryId, SavedQueryRepository, Timestamp, UserId,
};

use crate::SqliteDatabase;
use crate::error::repository_error;
use crate::rows::parse;
use crate::schema::saved_queries;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = saved_queries, check_for_backend(diesel::sqlite::Sqlite))]
struct SavedQueryRow {
    id: String,
    user_id: String,
    name: String,
    query: String,
    result_json: Option<String>,
    execution_time_ms: Option<f64>,
    folder: String,
    is_pinned: bool,
    share_token: Option<String>,
    shared_at: Option<String>,
    created_at: String,
}

impl From<&SavedQuery> for SavedQueryRow {
    fn from(q: &SavedQuery) -> Self {
        Self {
            id: q.id.to_string(),
            user_id: q.user_id.to_string(),
            name: q.name.clone(),
            query: q.query.clone(),
            result_json: q.result_json.clone(),
            execution_time_ms: q.execution_time_ms,
            folder: q.folder.clone(),
            is_pinned: q.is_pinned,
            share_token: q.share_token.clone(),
            shared_at: q.shared_at.map(|t| t.to_string()),
            created_at: q.created_at.to_string(),
        }
    }
}

impl TryFrom<SavedQueryRow> for SavedQuery {
    type Error = RepositoryError;

    fn try_from(row: SavedQueryRow) -> Result<Self, Self::Error> {
        Ok(Self {
            id: parse(&row.id, "saved_queries.id")?,
            user_id: parse(&row.user_id, "saved_queries.user_id")?,
            name: row.name,
            query: row.query,
            result_json: row.result_json,
            execution_time_ms: row.execution_time_ms,
            folder: row.folder,
            is_pinned: row.is_pinned,
            share_token: row.share_token,
            shared_at: row
                .shared_at
                .map(|t| parse(&t, "saved_queries.shared_at"))
                .transpose()?,
            created_at: parse(&row.created_at, "saved_queries.created_at")?,
        })
    }
}

/// One of the user's rows, as an updatable target.
macro_rules! owned {
    ($user:expr, $id:expr) => {
        saved_queries::table
            .filter(saved_queries::id.eq($id.to_string()))
            .filter(saved_queries::user_id.eq($user.to_string()))
    };
}

fn read(
    conn: &mut SqliteConnection,
    user: UserId,
    id: SavedQueryId,
) -> Result<Option<SavedQuery>, RepositoryError> {
    owned!(user, id)
        .select(SavedQueryRow::as_select())
        .first(conn)
        .optional()
        .map_err(repository_error)?
        .map(SavedQuery::try_from)
        .transpose()
}

#[async_trait]
impl SavedQueryRepository for SqliteDatabase {
    async fn create(&self, query: &SavedQuery) -> Result<(), RepositoryError> {
        let row = SavedQueryRow::from(query);
        self.run(move |conn| {
            diesel::insert_into(saved_queries::table)
                .values(&row)
                .execute(conn)
                .map(|_| ())
                .map_err(repository_error)
        })
        .await
    }

    async fn list(&self, user: UserId) -> Result<Vec<SavedQuery>, RepositoryError> {
        self.run(move |conn| {
            saved_queries::table
                .filter(saved_queries::user_id.eq(user.to_string()))
                .order((
                    saved_queries::is_pinned.desc(),
                    saved_queries::created_at.desc(),
                    saved_queries::id.desc(),
                ))
                .select(SavedQueryRow::as_select())
                .load(conn)
                .map_err(repository_error)?
                .into_iter()
                .map(SavedQuery::try_from)
                .collect()
        })
        .await
    }

    async fn folders(&self, user: UserId) -> Result<Vec<String>, RepositoryError> {
        self.run(move |conn| {
            saved_queries::table
                .filter(saved_queries::user_id.eq(user.to_string()))
                .filter(saved_queries::folder.ne(""))
                .select(saved_queries::folder)
                .distinct()
                .order(saved_queries::folder.asc())
                .load(conn)
                .map_err(repository_error)
        })
        .await
    }

    async fn set_folder(
        &self,
        user: UserId,
        id: SavedQueryId,
        folder: &str,
    ) -> Result<bool, RepositoryError> {
        let folder = folder.to_owned();
        self.run(move |conn| {
            diesel::update(owned!(user, id))
                .set(saved_queries::folder.eq(folder))
                .execute(conn)
                .map(|n| n > 0)
                .map_err(repository_error)
        })
        .await
    }

    async fn toggle_pin(
        &self,
        user: UserId,
        id: SavedQueryId,
    ) -> Result<Option<SavedQuery>, RepositoryError> {
        self.run(move |conn| {
            diesel::update(owned!(user, id))
                .set(saved_queries::is_pinned.eq(diesel::dsl::not(saved_queries::is_pinned)))
                .execute(conn)
                .map_err(repository_error)?;
            read(conn, user, id)
        })
        .await
    }

    async fn share(
        &self,
        user: UserId,
        id: SavedQueryId,
        token: &str,
        now: Timestamp,
    ) -> Result<Option<SavedQuery>, RepositoryError> {
        let token = token.to_owned();
        self.run(move |conn| {
            diesel::update(owned!(user, id).filter(saved_queries::share_token.is_null()))
                .set((
                    saved_queries::share_token.eq(token),
                    saved_queries::shared_at.eq(now.to_string()),
                ))
                .execute(conn)
                .map_err(repository_error)?;
            read(conn, user, id)
        })
        .await
    }

    async fn unshare(&self, user: UserId, id: SavedQueryId) -> Result<bool, RepositoryError> {
        self.run(move |conn| {
            diesel::update(owned!(user, id))
                .set((
                    saved_queries::share_token.eq(None::<String>),
                    saved_queries::shared_at.eq(None::<String>),
                ))
                .execute(conn)
                .map(|n| n > 0)
                .map_err(repository_error)
        })
        .await
    }

    async fn delete(&self, user: UserId, id: SavedQueryId) -> Result<bool, RepositoryError> {
        self.run(move |conn| {
            diesel::delete(owned!(user, id))
                .execute(conn)
                .map(|n| n > 0)
                .map_err(repository_error)
        })
        .await
    }

    async fn find_shared(&self, token: &str) -> Result<Option<SavedQuery>, RepositoryError> {
        let token = token.to_owned();
        self.run(move |conn| {
            saved_queries::table
                .filter(saved_queries::share_token.eq(token))
                .select(SavedQueryRow::as_select())
                .first(conn)
                .optional()
                .map_err(repository_error)?
                .map(SavedQuery::try_from)
                .transpose()
        })
        .await
    }
}

use async_trait::async_trait;
use diesel::RunQueryDsl;
use diesel::connection::SimpleConnection;
use tabletalk_ports::{DatabaseHealth, RepositoryError};

use crate::SqliteDatabase;
use crate::error::repository_error;

#[async_trait]
impl DatabaseHealth for SqliteDatabase {
    async fn ping(&self) -> Result<(), RepositoryError> {
        self.run(|conn| {
            conn.batch_execute("SELECT 1").map_err(repository_error)?;
            // A schema read proves the migrations are in place, not just that the file opens.
            diesel::sql_query("SELECT id FROM users LIMIT 0")
                .execute(conn)
                .map(|_| ())
                .map_err(repository_error)
        })
        .await
    }
}

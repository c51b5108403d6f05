//! SQLite-specific behaviour the port contract cannot express: pragmas, migrations, unknown versions.

use diesel::connection::SimpleConnection;
use diesel::sql_types::Text;
use diesel::{Connection, QueryableByName, RunQueryDsl, SqliteConnection};
use tabletalk_adapters_sqlite::{SqliteDatabase, SqliteError, SqliteOptions};

#[derive(QueryableByName)]
struct Mode {
    #[diesel(sql_type = Text)]
    journal_mode: String,
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

fn tables(path: &std::path::Path) -> Vec<String> {
    let mut conn = SqliteConnection::establish(&path.display().to_string()).unwrap();
    diesel::sql_query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .load::<Name>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect()
}

#[test]
fn the_database_is_in_wal_mode_with_the_whole_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let database = SqliteDatabase::open(&SqliteOptions::new(&path)).unwrap();
    assert_eq!(database.migrate().unwrap().versions.len(), 5);

    let mut raw = SqliteConnection::establish(&path.display().to_string()).unwrap();
    let mode: Mode = diesel::sql_query("PRAGMA journal_mode")
        .get_result(&mut raw)
        .unwrap();
    assert_eq!(mode.journal_mode, "wal");
    let expected = [
        "__diesel_schema_migrations",
        "assistants",
        "conversations",
        "datasets",
        "message_search",
        "message_search_config",
        "message_search_data",
        "message_search_docsize",
        "message_search_idx",
        "message_search_keys",
        "message_search_terms",
        "messages",
        "oidc_pending_logins",
        "query_history",
        "referral_keys",
        "saved_queries",
        "sessions",
        "token_usage",
        "uploads",
        "user_settings",
        "users",
    ];
    assert_eq!(tables(&path), expected);
}

#[test]
fn migrations_apply_once_revert_and_reapply() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let database = SqliteDatabase::open(&SqliteOptions::new(&path)).unwrap();
    let applied = database.migrate().unwrap().versions;
    assert!(
        database.migrate().unwrap().versions.is_empty(),
        "an up-to-date database is left alone"
    );
    assert!(database.pending_migrations().unwrap().is_empty());

    assert_eq!(applied.len(), 5);
    assert_eq!(database.revert_latest().unwrap().versions, applied[4..]);
    assert!(!tables(&path).contains(&"assistants".to_owned()));
    assert_eq!(database.revert_latest().unwrap().versions, applied[3..4]);
    assert_eq!(database.revert_latest().unwrap().versions, applied[2..3]);
    assert_eq!(database.revert_latest().unwrap().versions, applied[1..2]);
    assert!(
        !tables(&path)
            .iter()
            .any(|t| t.starts_with("message_search")),
        "the search index goes with its migration"
    );
    assert!(tables(&path).contains(&"messages".to_owned()));
    assert_eq!(database.revert_latest().unwrap().versions, applied[..1]);
    assert_eq!(
        tables(&path),
        ["__diesel_schema_migrations"],
        "down.sql removes every table"
    );
    assert_eq!(database.pending_migrations().unwrap(), applied);
    assert!(matches!(
        database.revert_latest(),
        Err(SqliteError::NothingToRevert)
    ));

    assert_eq!(database.migrate().unwrap().versions, applied);
    assert!(tables(&path).contains(&"conversations".to_owned()));
}

#[test]
fn a_database_from_a_newer_binary_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let database = SqliteDatabase::open(&SqliteOptions::new(&path)).unwrap();
    database.migrate().unwrap();
    let mut raw = SqliteConnection::establish(&path.display().to_string()).unwrap();
    raw.batch_execute("INSERT INTO __diesel_schema_migrations (version) VALUES ('29990101000000')")
        .unwrap();

    let refused = database.migrate();
    assert!(
        matches!(&refused, Err(SqliteError::UnknownMigration(v)) if v == "29990101000000"),
        "{refused:?}"
    );
}

#[test]
fn a_missing_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let error =
        SqliteDatabase::open(&SqliteOptions::new(dir.path().join("missing/t.db"))).unwrap_err();
    assert!(error.to_string().contains("does not exist"), "{error}");
}

/// A stored JSON document that does not read back as what the record needs is reported as corrupt: never
/// silently read as "no SQL" or "no trace".
#[tokio::test]
async fn a_message_whose_stored_sql_does_not_read_back_is_reported_corrupt() {
    use tabletalk_ports::{
        Conversation, ConversationRepository, Identity, Message, MessageRepository,
        RepositoryError, Timestamp, UserRepository,
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let database = SqliteDatabase::open(&SqliteOptions::new(&path)).unwrap();
    database.migrate().unwrap();
    let now = Timestamp::from_unix_millis(1_700_000_000_000).unwrap();
    let identity = Identity {
        issuer: "https://issuer.example".into(),
        subject: "alice".into(),
        email: "alice@example.com".into(),
        name: "Alice".into(),
        avatar_url: None,
    };
    let user = database.sign_in(&identity, now).await.unwrap();
    let conversation = Conversation::new(user.id, now);
    database.create(&conversation).await.unwrap();
    database
        .append(&Message::user(conversation.id, "hi", now))
        .await
        .unwrap();
    assert_eq!(
        database
            .list_for_conversation(conversation.id)
            .await
            .unwrap()
            .len(),
        1
    );

    for (column, document) in [
        ("sql_query", r#"[{"columns": 3}]"#),
        (
            "sql_query",
            r#"[{"query": "SELECT 1", "error": null, "columns": ["a"]}]"#,
        ),
        ("tool_call_trace", r#"[{"type": "telepathy"}]"#),
    ] {
        let mut raw = SqliteConnection::establish(&path.display().to_string()).unwrap();
        raw.batch_execute(&format!(
            "UPDATE messages SET sql_query = NULL, tool_call_trace = NULL; \
             UPDATE messages SET {column} = '{document}';"
        ))
        .unwrap();
        let read = database.list_for_conversation(conversation.id).await;
        assert!(
            matches!(&read, Err(RepositoryError::Corrupt(reason)) if reason.contains(column)),
            "{column}: {read:?}"
        );
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// The search index holds exactly the stored messages: deletes (of one message, and cascading from a
/// conversation) remove their entries instead of leaving them for the exact check to filter out.
#[tokio::test]
async fn the_search_index_drops_what_is_deleted() {
    use tabletalk_ports::{
        Conversation, ConversationRepository, Identity, Message, MessageRepository, Timestamp,
        UserRepository,
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let database = SqliteDatabase::open(&SqliteOptions::new(&path)).unwrap();
    database.migrate().unwrap();
    let now = Timestamp::from_unix_millis(1_700_000_000_000).unwrap();
    let user = database
        .sign_in(&Identity::local_user(), now)
        .await
        .unwrap();
    let kept = Conversation::new(user.id, now);
    let doomed = Conversation::new(user.id, now);
    database.create(&kept).await.unwrap();
    database.create(&doomed).await.unwrap();
    let single = Message::user(kept.id, "hello kept", now);
    for m in [
        &single,
        &Message::user(kept.id, "hello again", now),
        &Message::user(doomed.id, "hello doomed", now),
    ] {
        database.append(m).await.unwrap();
    }
    let count = |sql: &str| -> i64 {
        let mut raw = SqliteConnection::establish(&path.display().to_string()).unwrap();
        diesel::sql_query(sql)
            .get_result::<Count>(&mut raw)
            .unwrap()
            .n
    };
    let matching =
        "SELECT count(*) AS n FROM message_search WHERE message_search MATCH '\"hello\"'";
    assert_eq!(count(matching), 3);
    ConversationRepository::delete(&database, doomed.id)
        .await
        .unwrap();
    MessageRepository::delete(&database, kept.id, single.id)
        .await
        .unwrap();
    assert_eq!(count(matching), 1);
    assert_eq!(count("SELECT count(*) AS n FROM message_search_keys"), 1);
}

/// A text in more than a thousand messages is found by walking the newest messages instead of sorting every
/// match, and a rare one- or two-character text beyond the newest two thousand through the index's terms: the
/// answer is the same newest-first page either way.
#[tokio::test]
async fn common_texts_give_the_same_newest_first_page() {
    use std::time::Duration;
    use tabletalk_ports::{
        Conversation, ConversationRepository, Identity, Message, SearchText, Timestamp,
        UserRepository,
    };
    let dir = tempfile::tempdir().unwrap();
    let database = SqliteDatabase::open(&SqliteOptions::new(dir.path().join("t.db"))).unwrap();
    database.migrate().unwrap();
    let now = Timestamp::from_unix_millis(1_700_000_000_000).unwrap();
    let user = database
        .sign_in(&Identity::local_user(), now)
        .await
        .unwrap();
    let conversation = Conversation::new(user.id, now);
    // Stored out of time order, as imports and forks store them: key order is not time order.
    let messages: Vec<Message> = (0..1_500_u64)
        .map(|i| {
            let at = now + Duration::from_secs((i * 7_919) % 1_500);
            let text = if i % 3 == 0 {
                "Lorem ipsum"
            } else {
                "dolor LOREM sit"
            };
            Message::user(conversation.id, format!("{text} {i}"), at)
        })
        .collect();
    database
        .create_with_contents(&conversation, &messages, &[])
        .await
        .unwrap();
    for (needle, limit) in [
        ("lorem", 20),
        ("LOREM SIT", 50),
        ("m 1", 7),
        ("lo", 20),
        ("qu", 20),
        ("Z", 3),
        ("iz", 20),
        ("Ω", 5),
    ] {
        let text = SearchText::new(needle).unwrap();
        let mut expected: Vec<&Message> = messages
            .iter()
            .filter(|m| text.matches(&m.content))
            .collect();
        expected.sort_by_key(|m| std::cmp::Reverse((m.created_at, m.id)));
        expected.truncate(limit);
        let found = database
            .search_messages(user.id, &text, limit)
            .await
            .unwrap();
        assert_eq!(
            found.iter().map(|m| m.message_id).collect::<Vec<_>>(),
            expected.iter().map(|m| m.id).collect::<Vec<_>>(),
            "{needle}"
        );
    }
}

/// The archive and tool-access migrations forward and back with data in the tables they change: rows survive both
/// ways, the new columns are gone after the revert and back with their defaults after the re-apply.
#[test]
fn the_archive_migration_keeps_conversations_both_ways() {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        title: String,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        is_archived: bool,
    }
    #[derive(diesel::QueryableByName)]
    struct Settings {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        dev_mode: bool,
        #[diesel(sql_type = diesel::sql_types::Text)]
        tools_deny: String,
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let database = SqliteDatabase::open(&SqliteOptions::new(&path)).unwrap();
    database.migrate().unwrap();
    let mut raw = SqliteConnection::establish(&path.display().to_string()).unwrap();
    raw.batch_execute(
        "INSERT INTO users (id, oidc_issuer, oidc_subject, email, name, created_at, last_login_at) \
           VALUES ('u1', 'i', 's', 'a@example.com', 'A', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'); \
         INSERT INTO conversations (id, user_id, title, created_at, updated_at, is_archived) \
           VALUES ('c1', 'u1', 'Kept', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 1); \
         INSERT INTO user_settings (user_id, dev_mode, updated_at, tools_deny) \
           VALUES ('u1', 0, '2026-01-01T00:00:00Z', '[\"load_dataset\"]');",
    )
    .unwrap();
    let columns = |raw: &mut SqliteConnection, table: &str| -> String {
        #[derive(diesel::QueryableByName)]
        struct Sql {
            #[diesel(sql_type = diesel::sql_types::Text)]
            sql: String,
        }
        diesel::sql_query(format!(
            "SELECT sql FROM sqlite_master WHERE name = '{table}'"
        ))
        .get_result::<Sql>(raw)
        .unwrap()
        .sql
    };
    assert!(columns(&mut raw, "conversations").contains("is_archived"));
    database.revert_latest().unwrap();
    assert!(!columns(&mut raw, "conversations").contains("assistant_id"));
    database.revert_latest().unwrap();
    assert!(!columns(&mut raw, "user_settings").contains("tools_deny"));
    database.revert_latest().unwrap();
    assert!(!columns(&mut raw, "conversations").contains("is_archived"));
    database.migrate().unwrap();
    let row: Row =
        diesel::sql_query("SELECT title, is_archived FROM conversations WHERE id = 'c1'")
            .get_result(&mut raw)
            .unwrap();
    assert_eq!((row.title.as_str(), row.is_archived), ("Kept", false));
    let settings: Settings =
        diesel::sql_query("SELECT dev_mode, tools_deny FROM user_settings WHERE user_id = 'u1'")
            .get_result(&mut raw)
            .unwrap();
    assert_eq!(
        (settings.dev_mode, settings.tools_deny.as_str()),
        (false, "[]")
    );
}

/// The assistants migration forward and back with data: an assistant and a conversation started from it survive
/// a revert of the migration before (the conversation loses only its copied setup) and come back whole after the
/// re-apply of everything; the revert removes the table and the columns it added.
#[test]
fn the_assistants_migration_keeps_data_both_ways() {
    #[derive(diesel::QueryableByName)]
    struct Started {
        #[diesel(sql_type = Text)]
        title: String,
        #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
        assistant_id: Option<String>,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Double>)]
        assistant_temperature: Option<f64>,
    }
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    #[derive(diesel::QueryableByName)]
    struct Title {
        #[diesel(sql_type = Text)]
        title: String,
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let database = SqliteDatabase::open(&SqliteOptions::new(&path)).unwrap();
    database.migrate().unwrap();
    let mut raw = SqliteConnection::establish(&path.display().to_string()).unwrap();
    let seed = "INSERT INTO assistants (id, user_id, name, instructions, model, temperature, tools, datasets, \
                  is_shared, created_at, updated_at) \
                VALUES ('a1', 'u1', 'Sales analyst', 'FY starts in April', 'm', 0.5, '[\"execute_sql\"]', \
                  '[{\"url\":\"https://x.example/s.csv\",\"name\":\"sales\",\"column_descriptions\":{}}]', \
                  1, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z');";
    raw.batch_execute(&format!(
        "INSERT INTO users (id, oidc_issuer, oidc_subject, email, name, created_at, last_login_at) \
           VALUES ('u1', 'i', 's', 'a@example.com', 'A', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'); \
         {seed} \
         INSERT INTO conversations (id, user_id, title, created_at, updated_at, assistant_id, \
           assistant_instructions, assistant_temperature) \
           VALUES ('c1', 'u1', 'Started', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 'a1', 'FY', 0.5);"
    ))
    .unwrap();
    let started = |raw: &mut SqliteConnection| -> Started {
        diesel::sql_query(
            "SELECT title, assistant_id, assistant_temperature FROM conversations WHERE id = 'c1'",
        )
        .get_result(raw)
        .unwrap()
    };
    let before = started(&mut raw);
    assert_eq!(
        (before.assistant_id.as_deref(), before.assistant_temperature),
        (Some("a1"), Some(0.5))
    );

    database.revert_latest().unwrap();
    assert!(!tables(&path).contains(&"assistants".to_owned()));
    let kept: Title = diesel::sql_query("SELECT * FROM conversations WHERE id = 'c1'")
        .get_result(&mut raw)
        .unwrap();
    assert_eq!(
        kept.title, "Started",
        "the conversation survives the revert"
    );

    database.migrate().unwrap();
    let after = started(&mut raw);
    assert_eq!(
        (after.title.as_str(), after.assistant_id),
        ("Started", None),
        "the re-applied columns start empty"
    );
    raw.batch_execute(seed).unwrap();
    let count: Count = diesel::sql_query("SELECT COUNT(*) AS n FROM assistants WHERE is_shared")
        .get_result(&mut raw)
        .unwrap();
    assert_eq!(count.n, 1, "the table takes rows again after the re-apply");
}

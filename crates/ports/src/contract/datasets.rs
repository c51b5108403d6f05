//! Adding datasets (names, refusals, shared uploads) and the query history (order, cap, filters).

use super::{Repositories, at, conversation, owner};
use crate::{
    Compression, Conversation, DatasetFormat, DatasetSource, DatasetWriteError, HistoryId,
    NewDataset, QueryHistoryEntry, QueryHistoryFilter, QuerySource, Upload, UploadId, UserId,
};

fn new_url_dataset(conversation: &Conversation, url: &str, name: Option<&str>) -> NewDataset {
    let mut dataset = super::url_dataset(conversation.id, name.unwrap_or_default(), url, at(2));
    dataset.id = crate::DatasetId::new();
    NewDataset {
        dataset,
        custom_name: name.is_some(),
        max_per_conversation: 4,
        upload: None,
    }
}

fn upload(owner: UserId, sha256: &str) -> Upload {
    Upload {
        id: UploadId::new(),
        user_id: owner,
        sha256: sha256.to_owned(),
        size_bytes: 10,
        original_name: "sales.csv".to_owned(),
        format: DatasetFormat::Csv,
        compression: Compression::None,
        created_at: at(3),
    }
}

/// `add` names automatic tables from the conversation's counter (skipping taken names), refuses a second copy of a
/// URL, a taken name (ignoring case) and a full conversation, stores nothing when it refuses, and shares one
/// upload between datasets of the same content.
pub async fn adding_datasets_names_them_refuses_conflicts_and_shares_uploads(repos: Repositories) {
    let owner = owner(&repos, "alice").await;
    let c = conversation(&repos, owner, 1).await;
    let add = |url: &str, name: Option<&str>| repos.datasets.add(new_url_dataset(&c, url, name));

    let first = add("https://d.example/a.parquet", None).await.unwrap();
    assert_eq!(first.dataset.name, "table1");
    assert!(!first.reused_upload);
    let custom = add("https://d.example/b.parquet", Some("table2"))
        .await
        .unwrap();
    assert_eq!(custom.dataset.name, "table2");
    let skipped = add("https://d.example/c.parquet", None).await.unwrap();
    assert_eq!(skipped.dataset.name, "table3", "a taken name is skipped");

    assert!(matches!(
        add("https://d.example/a.parquet", Some("other")).await,
        Err(DatasetWriteError::UrlExists)
    ));
    assert!(matches!(
        add("https://d.example/d.parquet", Some("TABLE1")).await,
        Err(DatasetWriteError::NameTaken(_))
    ));
    add("https://d.example/d.parquet", Some("fourth"))
        .await
        .unwrap();
    assert!(matches!(
        add("https://d.example/e.parquet", None).await,
        Err(DatasetWriteError::LimitReached(4))
    ));
    let stored = repos.datasets.list_for_conversation(c.id).await.unwrap();
    let mut names: Vec<&str> = stored.iter().map(|d| d.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["fourth", "table1", "table2", "table3"]);

    // Uploads: the same content twice for one user is stored once.
    let other = conversation(&repos, owner, 1).await;
    let with_upload = |url: &str, sha: &str| {
        let mut new = new_url_dataset(&other, url, None);
        new.dataset.source = DatasetSource::Upload;
        new.upload = Some(upload(owner, sha));
        new
    };
    let a = repos
        .datasets
        .add(with_upload("upload://a.csv", "aa"))
        .await
        .unwrap();
    let b = repos
        .datasets
        .add(with_upload("upload://b.csv", "aa"))
        .await
        .unwrap();
    let c2 = repos
        .datasets
        .add(with_upload("upload://c.csv", "cc"))
        .await
        .unwrap();
    assert!(!a.reused_upload && b.reused_upload && !c2.reused_upload);
    assert_eq!(a.dataset.upload_id, b.dataset.upload_id);
    assert_ne!(a.dataset.upload_id, c2.dataset.upload_id);
}

fn entry(owner: UserId, second: u64, source: QuerySource, starred: bool) -> QueryHistoryEntry {
    QueryHistoryEntry {
        id: HistoryId::new(),
        user_id: owner,
        conversation_id: None,
        source,
        query: format!("SELECT {second}"),
        error_message: second.is_multiple_of(2).then(|| "failed".to_owned()),
        row_count: Some(1),
        execution_time_ms: Some(1.5),
        is_starred: starred,
        created_at: at(second),
    }
}

/// The history lists newest first with a total; recording beyond the cap drops the oldest entries that are not
/// starred; filters select by star and source; other users' entries never appear; an unknown user is refused.
pub async fn query_history_is_newest_first_capped_and_filtered(repos: Repositories) {
    let alice = owner(&repos, "alice").await;
    let bob = owner(&repos, "bob").await;
    let history = &repos.query_history;
    let starred_oldest = entry(alice, 10, QuerySource::SqlPanel, true);
    history.record(&starred_oldest, 3).await.unwrap();
    for second in 11_u64..=14 {
        let source = if second.is_multiple_of(2) {
            QuerySource::Llm
        } else {
            QuerySource::SqlPanel
        };
        history
            .record(&entry(alice, second, source, false), 3)
            .await
            .unwrap();
    }
    history
        .record(&entry(bob, 20, QuerySource::Llm, false), 3)
        .await
        .unwrap();

    let all = QueryHistoryFilter {
        limit: 10,
        ..QueryHistoryFilter::default()
    };
    let (entries, total) = history.list(alice, &all).await.unwrap();
    let queries: Vec<&str> = entries.iter().map(|e| e.query.as_str()).collect();
    assert_eq!(queries, ["SELECT 14", "SELECT 13", "SELECT 10"]);
    assert_eq!(total, 3);
    assert_eq!(entries[2], starred_oldest, "every field round-trips");

    let page = QueryHistoryFilter {
        limit: 1,
        offset: 1,
        ..QueryHistoryFilter::default()
    };
    let (entries, total) = history.list(alice, &page).await.unwrap();
    assert_eq!((entries[0].query.as_str(), total), ("SELECT 13", 3));
    let starred = QueryHistoryFilter {
        limit: 10,
        starred: Some(true),
        ..QueryHistoryFilter::default()
    };
    assert_eq!(history.list(alice, &starred).await.unwrap().1, 1);
    let llm = QueryHistoryFilter {
        limit: 10,
        source: Some(QuerySource::Llm),
        ..QueryHistoryFilter::default()
    };
    let (entries, total) = history.list(alice, &llm).await.unwrap();
    assert_eq!((entries[0].query.as_str(), total), ("SELECT 14", 1));

    let nobody = entry(UserId::new(), 30, QuerySource::Llm, false);
    assert!(matches!(
        history.record(&nobody, 3).await,
        Err(crate::RepositoryError::Constraint(_))
    ));
}

/// A star toggles on the owner's entry only; clearing removes every entry of the user, starred too, and no one
/// else's.
pub async fn history_stars_toggle_and_clearing_takes_everything_of_the_user(repos: Repositories) {
    let alice = owner(&repos, "alice").await;
    let bob = owner(&repos, "bob").await;
    let history = &repos.query_history;
    let mine = entry(alice, 1, QuerySource::SqlPanel, false);
    let starred = entry(alice, 2, QuerySource::Llm, true);
    let theirs = entry(bob, 3, QuerySource::SqlPanel, false);
    for e in [&mine, &starred, &theirs] {
        history.record(e, 100).await.unwrap();
    }
    assert_eq!(
        history.toggle_star(alice, mine.id).await.unwrap(),
        Some(true)
    );
    assert_eq!(
        history.toggle_star(alice, mine.id).await.unwrap(),
        Some(false)
    );
    assert_eq!(
        history.toggle_star(alice, theirs.id).await.unwrap(),
        None,
        "not hers"
    );
    assert_eq!(
        history.toggle_star(alice, HistoryId::new()).await.unwrap(),
        None
    );
    let filter = QueryHistoryFilter {
        limit: 50,
        offset: 0,
        starred: None,
        source: None,
    };
    assert!(!history.list(bob, &filter).await.unwrap().0[0].is_starred);

    assert_eq!(history.delete_all(alice).await.unwrap(), 2);
    assert_eq!(history.list(alice, &filter).await.unwrap().1, 0);
    assert_eq!(history.list(bob, &filter).await.unwrap().1, 1);
    assert_eq!(history.delete_all(alice).await.unwrap(), 0);
}

//! The dataset service over the port fakes: what an add stores and announces, what a refused add leaves behind,
//! and what a refresh keeps.

use std::collections::BTreeMap;

use tabletalk_ports::fakes::parquet_content;
use tabletalk_ports::{DatasetRepository, DatasetStatus, LoadError, LoadErrorKind};

use super::DatasetError;
use crate::events::DomainEvent;
use crate::testkit::kit;

const URL: &str = "https://d.example/sales.parquet";

#[tokio::test]
async fn an_added_url_is_stored_ready_and_announced() {
    let kit = kit().await;
    kit.content
        .serve(URL, Ok(parquet_content(42, &["id", "amount"])));
    let mut events = kit.bus.subscribe(kit.user);

    let dataset = kit
        .datasets
        .add_url(kit.user, kit.conversation, &format!("  {URL}  "), None)
        .await
        .unwrap();

    assert_eq!(
        (
            dataset.name.as_str(),
            dataset.status,
            dataset.row_count,
            dataset.column_count
        ),
        ("table1", DatasetStatus::Ready, 42, 2)
    );
    assert_eq!(dataset.url, URL, "the URL is trimmed and normalised");
    let stored = kit
        .store
        .list_for_conversation(kit.conversation)
        .await
        .unwrap();
    assert_eq!(stored, std::slice::from_ref(&dataset));
    let announced = events.try_recv().unwrap();
    assert_eq!(
        announced.event,
        DomainEvent::DatasetLoaded(Box::new(dataset))
    );
}

#[tokio::test]
async fn refused_adds_store_nothing() {
    let kit = kit().await;
    kit.content.serve(URL, Ok(parquet_content(1, &["id"])));
    kit.datasets
        .add_url(kit.user, kit.conversation, URL, Some("sales"))
        .await
        .unwrap();
    let unreachable = "https://d.example/missing.parquet";
    kit.content.serve(
        unreachable,
        Err(LoadError::new(
            LoadErrorKind::Unreachable,
            "Could not reach URL",
        )),
    );

    let cases = [
        (URL, None, "duplicate URL"),
        (
            "https://d.example/other.parquet",
            Some("SALES"),
            "name taken",
        ),
        (unreachable, None, "unreachable"),
        ("ftp://d.example/x.csv", None, "scheme"),
        ("", None, "empty"),
    ];
    for (url, name, why) in cases {
        let outcome = kit
            .datasets
            .add_url(kit.user, kit.conversation, url, name)
            .await;
        let expected = match why {
            "duplicate URL" => matches!(outcome, Err(DatasetError::Exists)),
            "name taken" => matches!(outcome, Err(DatasetError::NameTaken(_))),
            "unreachable" => {
                matches!(&outcome, Err(DatasetError::Load(e)) if e.kind == LoadErrorKind::Unreachable)
            }
            "scheme" => matches!(outcome, Err(DatasetError::Url(_))),
            _ => matches!(outcome, Err(DatasetError::Validation { field: "url", .. })),
        };
        assert!(expected, "{why}: {outcome:?}");
    }
    assert_eq!(
        kit.store
            .list_for_conversation(kit.conversation)
            .await
            .unwrap()
            .len(),
        1
    );
    // A name is checked before any byte is fetched; the scheme before the network too.
    assert!(!kit.content.loads().iter().any(|u| u.starts_with("ftp:")));
}

#[tokio::test]
async fn a_refresh_takes_the_new_columns_and_drops_descriptions_of_vanished_ones() {
    let kit = kit().await;
    kit.content.serve(URL, Ok(parquet_content(1, &["a", "b"])));
    let dataset = kit
        .datasets
        .add_url(kit.user, kit.conversation, URL, None)
        .await
        .unwrap();
    let descriptions: BTreeMap<String, String> = [
        ("a".to_owned(), "kept".to_owned()),
        ("b".to_owned(), "dropped".to_owned()),
    ]
    .into();
    kit.datasets
        .set_descriptions(kit.user, kit.conversation, dataset.id, &descriptions)
        .await
        .unwrap();
    let mut changed = parquet_content(5, &["a", "c"]);
    changed.version = "etag:\"v2\"".to_owned();
    kit.content.serve(URL, Ok(changed));

    let refreshed = kit
        .datasets
        .refresh(kit.user, kit.conversation, dataset.id)
        .await
        .unwrap();

    assert_eq!(refreshed.row_count, 5);
    let names: Vec<&str> = refreshed.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["a", "c"]);
    assert_eq!(
        refreshed.column_descriptions,
        BTreeMap::from([("a".to_owned(), "kept".to_owned())])
    );
    let stored = kit
        .store
        .list_for_conversation(kit.conversation)
        .await
        .unwrap();
    assert_eq!(stored, [refreshed]);
}

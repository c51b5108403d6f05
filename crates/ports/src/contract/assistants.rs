//! Assistants: what is stored reads back whole, visibility (own + shared), updates keep owner and creation time,
//! and a conversation keeps the setup it copied after the assistant is gone.

use std::collections::BTreeMap;

use super::{Repositories, at, owner};
use crate::{
    Assistant, AssistantDataset, AssistantId, Conversation, RepositoryError, Temperature, UserId,
};

fn assistant(user: UserId, name: &str, second: u64) -> Assistant {
    Assistant {
        id: AssistantId::new(),
        user_id: user,
        name: name.to_owned(),
        description: format!("{name} knows sales"),
        instructions: "The fiscal year starts in April.".to_owned(),
        model: Some("model-b".to_owned()),
        temperature: Temperature::new(0.25),
        tools: Some(vec!["execute_sql".to_owned(), "create_chart".to_owned()]),
        datasets: vec![AssistantDataset {
            url: "https://data.example/sales.parquet".to_owned(),
            name: Some("sales".to_owned()),
            column_descriptions: BTreeMap::from([("amount".to_owned(), "in €".to_owned())]),
        }],
        is_shared: false,
        created_at: at(second),
        updated_at: at(second),
    }
}

/// Create/find round-trips every field; lists hold the user's own and the shared ones, newest update first;
/// `update` replaces the rest but never the owner or creation time; `delete` reports what it removed; a
/// conversation's copied setup outlives the assistant.
pub async fn assistants_round_trip_and_are_listed_to_owners_and_everyone_when_shared(
    repos: Repositories,
) {
    let alice = owner(&repos, "alice").await;
    let bob = owner(&repos, "bob").await;
    let a = &repos.assistants;
    let sales = assistant(alice, "Sales", 1);
    let plain = Assistant {
        model: None,
        temperature: None,
        tools: None,
        datasets: Vec::new(),
        instructions: String::new(),
        ..assistant(alice, "Plain", 2)
    };
    let bobs = assistant(bob, "Bob's", 3);
    for x in [&sales, &plain, &bobs] {
        a.create(x).await.unwrap();
    }
    assert_eq!(a.find(sales.id).await.unwrap().as_ref(), Some(&sales));
    assert_eq!(a.find(plain.id).await.unwrap().as_ref(), Some(&plain));
    assert!(matches!(
        a.create(&sales).await,
        Err(RepositoryError::Constraint(_))
    ));
    assert!(matches!(
        a.create(&assistant(UserId::new(), "Nobody's", 4)).await,
        Err(RepositoryError::Constraint(_))
    ));

    let names = |list: Vec<Assistant>| list.into_iter().map(|x| x.name).collect::<Vec<_>>();
    assert_eq!(
        names(a.list_visible(alice).await.unwrap()),
        ["Plain", "Sales"]
    );
    assert_eq!(names(a.list_visible(bob).await.unwrap()), ["Bob's"]);

    let changed = Assistant {
        user_id: bob,
        created_at: at(99),
        name: "Sales analyst".to_owned(),
        is_shared: true,
        temperature: Temperature::new(1.5),
        tools: Some(Vec::new()),
        updated_at: at(10),
        ..sales.clone()
    };
    assert!(a.update(&changed).await.unwrap());
    let stored = a.find(sales.id).await.unwrap().unwrap();
    assert_eq!(
        stored,
        Assistant {
            user_id: alice,
            created_at: at(1),
            ..changed.clone()
        }
    );
    assert_eq!(
        names(a.list_visible(bob).await.unwrap()),
        ["Sales analyst", "Bob's"]
    );
    assert_eq!(
        names(a.list_visible(alice).await.unwrap()),
        ["Sales analyst", "Plain"]
    );
    assert!(
        !a.update(&assistant(alice, "Gone", 5)).await.unwrap(),
        "an unknown id updates nothing"
    );

    let started = Conversation {
        assistant: Some(stored.setup()),
        ..Conversation::new(bob, at(11))
    };
    repos.conversations.create(&started).await.unwrap();
    assert!(a.delete(sales.id).await.unwrap());
    assert!(!a.delete(sales.id).await.unwrap());
    assert_eq!(a.find(sales.id).await.unwrap(), None);
    let kept = repos.conversations.find(started.id).await.unwrap().unwrap();
    assert_eq!(kept.assistant, Some(stored.setup()));
    assert_eq!(names(a.list_visible(bob).await.unwrap()), ["Bob's"]);
}

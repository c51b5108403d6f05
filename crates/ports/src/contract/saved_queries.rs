//! Saved queries: ordering, folders, pins, shares, and that another user's id is as good as unknown.

use super::{Repositories, at, owner};
use crate::{RepositoryError, SavedQuery, SavedQueryId, UserId};

fn saved(user: UserId, name: &str, second: u64, folder: &str) -> SavedQuery {
    SavedQuery {
        id: SavedQueryId::new(),
        user_id: user,
        name: name.to_owned(),
        query: format!("SELECT '{name}'"),
        result_json: Some("{\"columns\":[\"a\"],\"rows\":[[1]]}".to_owned()),
        execution_time_ms: Some(2.5),
        folder: folder.to_owned(),
        is_pinned: false,
        share_token: None,
        shared_at: None,
        created_at: at(second),
    }
}

/// Lists are pinned first then newest; folders are distinct, sorted, without `""`; pins toggle; shares keep their
/// first token until revoked; deletes remove; another user's ids change nothing.
pub async fn saved_queries_are_ordered_filed_pinned_shared_and_private(repos: Repositories) {
    let alice = owner(&repos, "alice").await;
    let bob = owner(&repos, "bob").await;
    let q = &repos.saved_queries;
    let old = saved(alice, "old", 1, "reports");
    let new = saved(alice, "new", 2, "");
    let other = saved(alice, "other", 3, "adhoc");
    let theirs = saved(bob, "theirs", 4, "secret");
    for s in [&old, &new, &other, &theirs] {
        q.create(s).await.unwrap();
    }
    let names = |list: Vec<SavedQuery>| list.into_iter().map(|s| s.name).collect::<Vec<_>>();
    assert_eq!(names(q.list(alice).await.unwrap()), ["other", "new", "old"]);
    assert_eq!(q.folders(alice).await.unwrap(), ["adhoc", "reports"]);

    let pinned = q.toggle_pin(alice, old.id).await.unwrap().unwrap();
    assert!(pinned.is_pinned);
    assert_eq!(names(q.list(alice).await.unwrap()), ["old", "other", "new"]);
    assert!(q.set_folder(alice, new.id, "reports").await.unwrap());
    assert!(q.set_folder(alice, other.id, "").await.unwrap());
    assert_eq!(q.folders(alice).await.unwrap(), ["reports"]);

    let shared = q
        .share(alice, old.id, "tok-1", at(9))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (shared.share_token.as_deref(), shared.shared_at),
        (Some("tok-1"), Some(at(9)))
    );
    let again = q
        .share(alice, old.id, "tok-2", at(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.share_token.as_deref(), Some("tok-1"));
    assert!(matches!(
        q.share(alice, new.id, "tok-1", at(11)).await,
        Err(RepositoryError::Constraint(_))
    ));
    assert_eq!(
        q.find_shared("tok-1").await.unwrap().map(|s| s.id),
        Some(old.id)
    );

    // Bob reaches none of Alice's queries, and Alice none of his.
    assert!(q.toggle_pin(bob, old.id).await.unwrap().is_none());
    assert!(!q.set_folder(bob, old.id, "x").await.unwrap());
    assert!(
        q.share(bob, new.id, "tok-3", at(12))
            .await
            .unwrap()
            .is_none()
    );
    assert!(!q.unshare(bob, old.id).await.unwrap());
    assert!(!q.delete(bob, old.id).await.unwrap());
    assert!(!q.delete(alice, theirs.id).await.unwrap());
    assert_eq!(q.list(alice).await.unwrap().len(), 3);
    assert_eq!(q.folders(bob).await.unwrap(), ["secret"]);

    assert!(q.unshare(alice, old.id).await.unwrap());
    assert!(q.unshare(alice, old.id).await.unwrap(), "idempotent");
    assert_eq!(q.find_shared("tok-1").await.unwrap(), None);
    assert!(q.delete(alice, old.id).await.unwrap());
    assert!(!q.delete(alice, old.id).await.unwrap());
    assert_eq!(names(q.list(alice).await.unwrap()), ["other", "new"]);
    assert!(matches!(
        q.create(&saved(UserId::new(), "ghost", 5, "")).await,
        Err(RepositoryError::Constraint(_))
    ));
}

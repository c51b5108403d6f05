use std::time::Duration;

use super::{Repositories, at};
use crate::{Identity, RepositoryError, Session, SessionId, TokenHash, UserId};

fn alice() -> Identity {
    Identity {
        issuer: "https://issuer.example".to_owned(),
        subject: "alice-sub".to_owned(),
        email: "alice@example.com".to_owned(),
        name: "Alice".to_owned(),
        avatar_url: None,
    }
}

fn session(user: UserId, hash_byte: u8, created: u64) -> Session {
    Session {
        id: SessionId::new(),
        token_hash: TokenHash([hash_byte; 32]),
        user_id: user,
        created_at: at(created),
        expires_at: at(created) + Duration::from_hours(1),
        last_extended_at: at(created),
    }
}

/// A first sign-in creates the user; a later one updates profile and `last_login_at` but keeps id and
/// `created_at`; another subject is another user.
pub async fn sign_in_creates_then_updates_the_user(repos: Repositories) {
    let first = repos.users.sign_in(&alice(), at(0)).await.unwrap();
    assert_eq!(first.email, "alice@example.com");
    assert_eq!((first.created_at, first.last_login_at), (at(0), at(0)));

    let renamed = Identity {
        name: "Alice B.".to_owned(),
        avatar_url: Some("https://a/p.png".to_owned()),
        ..alice()
    };
    let second = repos.users.sign_in(&renamed, at(60)).await.unwrap();
    assert_eq!(second.id, first.id);
    assert_eq!(second.created_at, at(0));
    assert_eq!(second.last_login_at, at(60));
    assert_eq!(second.name, "Alice B.");
    assert_eq!(repos.users.find(first.id).await.unwrap(), Some(second));

    let bob = repos
        .users
        .sign_in(
            &Identity {
                subject: "bob-sub".to_owned(),
                ..alice()
            },
            at(1),
        )
        .await
        .unwrap();
    assert_ne!(bob.id, first.id);
    assert_eq!(repos.users.find(UserId::new()).await.unwrap(), None);
}

/// Sessions are found by hash, extended, deleted one at a time, and swept once expired.
pub async fn sessions_round_trip_extend_and_expire(repos: Repositories) {
    let user = repos.users.sign_in(&alice(), at(0)).await.unwrap();
    let kept = session(user.id, 1, 0);
    let other = session(user.id, 2, 10);
    repos.sessions.create(&kept).await.unwrap();
    repos.sessions.create(&other).await.unwrap();

    assert_eq!(
        repos
            .sessions
            .find_by_token_hash(&TokenHash([1; 32]))
            .await
            .unwrap(),
        Some(kept.clone())
    );
    assert_eq!(
        repos
            .sessions
            .find_by_token_hash(&TokenHash([9; 32]))
            .await
            .unwrap(),
        None
    );

    assert!(
        repos
            .sessions
            .extend(kept.id, at(7200), at(120))
            .await
            .unwrap()
    );
    let extended = repos
        .sessions
        .find_by_token_hash(&kept.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (extended.expires_at, extended.last_extended_at),
        (at(7200), at(120))
    );
    assert!(
        !repos
            .sessions
            .extend(SessionId::new(), at(1), at(1))
            .await
            .unwrap()
    );

    // `other` expires at t0+3610; the sweep at that instant removes it and keeps the extended one.
    assert_eq!(repos.sessions.delete_expired(at(3610)).await.unwrap(), 1);
    assert_eq!(
        repos
            .sessions
            .find_by_token_hash(&other.token_hash)
            .await
            .unwrap(),
        None
    );

    assert!(repos.sessions.delete(kept.id).await.unwrap());
    assert!(!repos.sessions.delete(kept.id).await.unwrap());
    assert_eq!(
        repos
            .sessions
            .find_by_token_hash(&kept.token_hash)
            .await
            .unwrap(),
        None
    );
}

/// A session for a user that does not exist, or reusing a token hash, is refused.
pub async fn sessions_need_an_existing_user(repos: Repositories) {
    let orphan = session(UserId::new(), 3, 0);
    assert!(matches!(
        repos.sessions.create(&orphan).await,
        Err(RepositoryError::Constraint(_))
    ));

    let user = repos.users.sign_in(&alice(), at(0)).await.unwrap();
    repos
        .sessions
        .create(&session(user.id, 4, 0))
        .await
        .unwrap();
    let duplicate = session(user.id, 4, 5);
    assert!(matches!(
        repos.sessions.create(&duplicate).await,
        Err(RepositoryError::Constraint(_))
    ));
}

fn pending(state: &str, created: u64) -> crate::PendingLogin {
    crate::PendingLogin {
        state: state.to_owned(),
        pkce_verifier: "v".repeat(43),
        nonce: format!("nonce-{state}"),
        referral_key: Some("key-1".to_owned()),
        created_at: at(created),
        expires_at: at(created + 600),
    }
}

/// A pending sign-in is consumed once, never after it expired, and can be discarded or swept.
pub async fn pending_logins_are_single_use_and_expire(repos: Repositories) {
    repos
        .pending_logins
        .insert(&pending("s1", 0))
        .await
        .unwrap();
    repos
        .pending_logins
        .insert(&pending("s2", 0))
        .await
        .unwrap();
    repos
        .pending_logins
        .insert(&pending("s3", 100))
        .await
        .unwrap();
    assert!(matches!(
        repos.pending_logins.insert(&pending("s1", 5)).await,
        Err(RepositoryError::Constraint(_))
    ));

    let consumed = repos
        .pending_logins
        .consume("s1", at(599))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(consumed, pending("s1", 0), "every field round-trips");
    assert_eq!(
        repos.pending_logins.consume("s1", at(599)).await.unwrap(),
        None,
        "single use"
    );
    assert_eq!(
        repos.pending_logins.consume("s2", at(600)).await.unwrap(),
        None,
        "expired at exactly 10 minutes"
    );
    assert_eq!(
        repos.pending_logins.consume("nope", at(1)).await.unwrap(),
        None
    );

    repos.pending_logins.discard("s3").await.unwrap();
    assert_eq!(
        repos.pending_logins.consume("s3", at(101)).await.unwrap(),
        None
    );
    repos
        .pending_logins
        .insert(&pending("s4", 1000))
        .await
        .unwrap();
    assert_eq!(
        repos.pending_logins.delete_expired(at(1000)).await.unwrap(),
        1,
        "only s2 had expired"
    );
    assert!(
        repos
            .pending_logins
            .consume("s4", at(1001))
            .await
            .unwrap()
            .is_some()
    );
}

/// A referral key creates exactly one user; a used or unknown key creates nobody; listing shows who used it.
pub async fn referral_keys_are_single_use(repos: Repositories) {
    let keys = vec!["key-a".to_owned(), "key-b".to_owned()];
    repos
        .referral_keys
        .create(&keys, None, at(0))
        .await
        .unwrap();
    assert!(matches!(
        repos
            .referral_keys
            .create(&["key-a".to_owned()], None, at(1))
            .await,
        Err(RepositoryError::Constraint(_))
    ));

    let carol = Identity {
        subject: "carol".to_owned(),
        email: "carol@example.com".to_owned(),
        ..alice()
    };
    let created = repos
        .users
        .create_with_referral(&carol, "key-a", at(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        repos
            .users
            .find_by_identity(&carol.issuer, "carol")
            .await
            .unwrap(),
        Some(created.clone())
    );

    let dave = Identity {
        subject: "dave".to_owned(),
        ..alice()
    };
    assert_eq!(
        repos
            .users
            .create_with_referral(&dave, "key-a", at(11))
            .await
            .unwrap(),
        None,
        "already used"
    );
    assert_eq!(
        repos
            .users
            .create_with_referral(&dave, "key-zzz", at(11))
            .await
            .unwrap(),
        None,
        "unknown"
    );
    assert_eq!(
        repos
            .users
            .find_by_identity(&dave.issuer, "dave")
            .await
            .unwrap(),
        None,
        "nothing stored"
    );

    let all = repos.referral_keys.list(false).await.unwrap();
    assert_eq!(all.len(), 2);
    let used = all.iter().find(|k| k.key == "key-a").unwrap();
    assert_eq!(
        (used.used_at, used.used_by_email.as_deref()),
        (Some(at(10)), Some("carol@example.com"))
    );
    let unused = repos.referral_keys.list(true).await.unwrap();
    assert_eq!(
        unused.iter().map(|k| k.key.as_str()).collect::<Vec<_>>(),
        ["key-b"]
    );
}
